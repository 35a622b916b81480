// tsor install / uninstall on docker's daemon.json and containerd's config.toml, in temp dirs:
// merge keeping other keys, backups, creation, idempotence, exact undo, errors that name the
// file (and line), refusal of a conflicting runtime, --force, --dry-run, dockerd SIGHUP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { parse as parseToml } from "smol-toml";
import { UserError } from "../../oci/cli.js";
import { install, uninstall, type InstallOptions } from "../../oci/install/install.js";
import { CONTAINERD_HANDLER, CRI_RUNTIMES, RUNC_V2_SHIM } from "../../oci/install/containerd.js";
import { DOCKER_RUNTIME } from "../../oci/install/docker.js";
import { unifiedDiff } from "../../oci/install/files.js";
import { findJsonError } from "../../oci/spec/json.js";
import { repoRoot } from "../lib/bundle.js";

const TSOR = "/opt/tsor/bin/tsor";
/** What containerd runs: the launcher beside TSOR that adds --report-sentry-pid. */
const SHIM_TSOR = "/opt/tsor/bin/tsor-shim-runtime";
const NOW = new Date("2026-01-02T03:04:05Z");

interface Env {
  dir: string;
  daemonJson: string;
  configToml: string;
  stateFile: string;
  lines: string[];
  opts(over?: Partial<InstallOptions>): InstallOptions;
  uninstall(over?: { docker?: boolean; containerd?: boolean; dryRun?: boolean }): void;
  backups(file: string): string[];
}

function setup(t: { after: (fn: () => void) => void }): Env {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-install-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const out = { info: (l: string) => lines.push(l), warn: (l: string) => lines.push(l) };
  const env: Env = {
    dir,
    daemonJson: path.join(dir, "docker", "daemon.json"),
    configToml: path.join(dir, "containerd", "config.toml"),
    stateFile: path.join(dir, "lib", "install.json"),
    lines,
    opts: (over = {}) => ({
      docker: false,
      containerd: false,
      dryRun: false,
      reload: false,
      force: false,
      dockerConfig: env.daemonJson,
      containerdConfig: env.configToml,
      runtimePath: TSOR,
      runtimeArgs: [],
      dockerPidFile: path.join(dir, "docker.pid"),
      stateFile: env.stateFile,
      now: NOW,
      ...over,
    }),
    uninstall: (over = {}) =>
      uninstall({ docker: false, containerd: false, dryRun: false, dockerPidFile: path.join(dir, "docker.pid"), stateFile: env.stateFile, now: NOW, ...over }, out),
    backups: (file) => fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith(`${path.basename(file)}.tsor-backup-`)),
  };
  return env;
}

function run(env: Env, over: Partial<InstallOptions>): void {
  install(env.opts(over), { info: (l) => env.lines.push(l), warn: (l) => env.lines.push(l) });
}

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

const read = (file: string): string => fs.readFileSync(file, "utf8");

/** Throws a UserError whose one-line message matches every pattern. */
function assertUserError(fn: () => void, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${String(e)}`);
    assert.ok(!e.message.includes("\n"), `not one line: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

// ---- docker ---------------------------------------------------------------------------------

const DAEMON_JSON = `{
    "log-driver": "journald",
    "runtimes": {
        "crun": { "path": "/usr/bin/crun" }
    },
    "storage-driver": "overlay2"
}
`;

test("docker: merges runtimes.tsor into daemon.json, keeping every other key in order, with a backup", (t) => {
  const env = setup(t);
  write(env.daemonJson, DAEMON_JSON);
  run(env, { docker: true, runtimeArgs: ["--debug"] });
  const after = JSON.parse(read(env.daemonJson));
  assert.deepEqual(Object.keys(after), ["log-driver", "runtimes", "storage-driver"]);
  assert.deepEqual(after, {
    "log-driver": "journald",
    runtimes: { crun: { path: "/usr/bin/crun" }, [DOCKER_RUNTIME]: { path: TSOR, runtimeArgs: ["--report-sentry-pid", "--debug"] } },
    "storage-driver": "overlay2",
  });
  assert.match(read(env.daemonJson), /^ {4}"log-driver"/m, "the file's indentation is kept");
  const backups = env.backups(env.daemonJson);
  assert.deepEqual(backups, ["daemon.json.tsor-backup-20260102T030405Z"]);
  assert.equal(read(path.join(path.dirname(env.daemonJson), backups[0]!)), DAEMON_JSON);
  assert.ok(fs.existsSync(env.stateFile), "install is recorded");
  assert.ok(env.lines.some((l) => l.includes("kill -HUP")), "says how to reload dockerd");
});

test("docker: creates daemon.json (and its directory) when absent; uninstall removes both", (t) => {
  const env = setup(t);
  run(env, { docker: true });
  assert.deepEqual(JSON.parse(read(env.daemonJson)), { runtimes: { tsor: { path: TSOR, runtimeArgs: ["--report-sentry-pid"] } } });
  assert.deepEqual(env.backups(env.daemonJson), [], "nothing to back up");
  env.uninstall({ docker: true });
  assert.ok(!fs.existsSync(path.dirname(env.daemonJson)), "the directory install made is gone");
  assert.ok(!fs.existsSync(env.stateFile), "an empty record is removed");
});

test("docker: a second install changes nothing and writes no second backup", (t) => {
  const env = setup(t);
  write(env.daemonJson, DAEMON_JSON);
  run(env, { docker: true });
  const once1 = read(env.daemonJson);
  const record = read(env.stateFile);
  run(env, { docker: true });
  assert.equal(read(env.daemonJson), once1);
  assert.equal(read(env.stateFile), record);
  assert.equal(env.backups(env.daemonJson).length, 1);
  assert.ok(env.lines.some((l) => l.includes("nothing to change")));
});

test("docker: uninstall restores the original bytes; after later edits it takes out only tsor's entry", (t) => {
  const env = setup(t);
  const odd = '{"debug":true,  "runtimes":{"crun":{"path":"/usr/bin/crun"}}}';
  write(env.daemonJson, odd);
  run(env, { docker: true });
  env.uninstall();
  assert.equal(read(env.daemonJson), odd, "byte for byte");

  run(env, { docker: true });
  const edited = { ...JSON.parse(read(env.daemonJson)), "live-restore": true };
  write(env.daemonJson, JSON.stringify(edited, null, 2));
  env.uninstall({ docker: true });
  assert.deepEqual(JSON.parse(read(env.daemonJson)), { debug: true, runtimes: { crun: { path: "/usr/bin/crun" } }, "live-restore": true });
});

test("docker: uninstall drops a runtimes object that install created, once it is empty again", (t) => {
  const env = setup(t);
  write(env.daemonJson, '{ "debug": true }\n');
  run(env, { docker: true });
  write(env.daemonJson, read(env.daemonJson).replace('"debug": true', '"debug": false'));
  env.uninstall();
  assert.deepEqual(JSON.parse(read(env.daemonJson)), { debug: false });
});

test("docker: malformed daemon.json is an error naming the file and line, and is left untouched", (t) => {
  const env = setup(t);
  const bad = '{\n  "debug": true,\n  "runtimes": {\n    "crun": { "path": "/usr/bin/crun", }\n  }\n}\n';
  write(env.daemonJson, bad);
  assertUserError(() => run(env, { docker: true }), new RegExp(`^${env.daemonJson.replace(/[.]/g, "\\.")}:4:\\d+: invalid JSON`), /left unchanged/);
  write(env.daemonJson, '{\n  "debug": }\n');
  assertUserError(() => run(env, { docker: true }), /daemon\.json:2:12: invalid JSON: Unexpected token/);
  assert.equal(read(env.daemonJson), '{\n  "debug": }\n');
  assert.deepEqual(env.backups(env.daemonJson), []);
  assert.ok(!fs.existsSync(env.stateFile));
  write(env.daemonJson, "[1, 2]\n");
  assertUserError(() => run(env, { docker: true }), /daemon\.json: expected a JSON object/);
  write(env.daemonJson, '{"runtimes": "x"}');
  assertUserError(() => run(env, { docker: true }), /daemon\.json: "runtimes" is not a JSON object/);
});

test("daemon.json errors are placed by findJsonError (V8 does not always give a position)", () => {
  const at = (text: string) => {
    const e = findJsonError(text);
    return e ? { line: e.line, column: e.column } : null;
  };
  assert.equal(at('{"a": 1}'), null);
  assert.deepEqual(at('{\n"a": }'), { line: 2, column: 6 });
  assert.deepEqual(at('{"a": 1,\n}'), { line: 2, column: 1 });
  assert.deepEqual(at('{"a": "\\x"}'), { line: 1, column: 9 });
  assert.deepEqual(at('{"a": 1'), { line: 1, column: 8 });
  assert.deepEqual(at("[1, 2] x"), { line: 1, column: 8 });
});

test("docker: a runtimes.tsor with another path is refused without --force; --force replaces it and uninstall puts it back", (t) => {
  const env = setup(t);
  const theirs = '{\n  "runtimes": {\n    "tsor": {\n      "path": "/usr/local/bin/tsor-old"\n    }\n  }\n}\n';
  write(env.daemonJson, theirs);
  assertUserError(() => run(env, { docker: true }), /daemon\.json: runtimes\.tsor already exists as \{"path":"\/usr\/local\/bin\/tsor-old"\}; left unchanged \(--force replaces it\)/);
  assert.equal(read(env.daemonJson), theirs);
  run(env, { docker: true, force: true });
  assert.equal(JSON.parse(read(env.daemonJson)).runtimes.tsor.path, TSOR);
  write(env.daemonJson, read(env.daemonJson).replace("{", '{\n  "debug": true,'));
  env.uninstall({ docker: true });
  assert.deepEqual(JSON.parse(read(env.daemonJson)), { debug: true, runtimes: { tsor: { path: "/usr/local/bin/tsor-old" } } });
});

test("docker: an entry changed by hand after install is left alone by uninstall", (t) => {
  const env = setup(t);
  run(env, { docker: true });
  write(env.daemonJson, '{"runtimes": {"tsor": {"path": "/elsewhere"}}}');
  assertUserError(() => env.uninstall(), /daemon\.json: runtimes\.tsor was changed since tsor install/);
  assert.equal(read(env.daemonJson), '{"runtimes": {"tsor": {"path": "/elsewhere"}}}');
});

test("docker: --dry-run prints the diff and changes nothing", (t) => {
  const env = setup(t);
  write(env.daemonJson, DAEMON_JSON);
  run(env, { docker: true, dryRun: true });
  assert.equal(read(env.daemonJson), DAEMON_JSON);
  assert.deepEqual(env.backups(env.daemonJson), []);
  assert.ok(!fs.existsSync(env.stateFile));
  const text = env.lines.join("\n");
  assert.match(text, /^\(dry run\) docker: add runtimes\.tsor/m);
  assert.match(text, /^--- .*daemon\.json$/m);
  assert.match(text, /^\+ {8}"tsor": \{$/m);

  run(env, { docker: true });
  env.lines.length = 0;
  env.uninstall({ dryRun: true });
  assert.ok(fs.existsSync(env.stateFile), "a dry uninstall keeps the record");
  assert.notEqual(read(env.daemonJson), DAEMON_JSON);
  assert.match(env.lines.join("\n"), /^- {8}"tsor": \{$/m);
});

test("docker: --reload sends SIGHUP to the dockerd named by the pid file, and to nothing else", async (t) => {
  const env = setup(t);
  const fake = path.join(env.dir, "dockerd");
  fs.copyFileSync("/bin/sleep", fake);
  fs.chmodSync(fake, 0o755);
  const child = spawn(fake, ["30"], { stdio: "ignore" });
  t.after(() => child.kill("SIGKILL"));
  const exited = once(child, "exit");
  const pidFile = path.join(env.dir, "docker.pid");
  // An unrelated process in the pid file: refused, and it is not signalled.
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  assertUserError(() => run(env, { docker: true, reload: true }), /cannot reload dockerd: pid \d+ .* is node, not dockerd; nothing was signalled/);
  assert.ok(fs.existsSync(env.stateFile), "the runtime was registered before the reload failed");
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  run(env, { docker: true, reload: true });
  const [, signal] = await exited;
  assert.equal(signal, "SIGHUP");
  fs.rmSync(pidFile);
  assertUserError(() => run(env, { docker: true, reload: true }), /cannot reload dockerd: .*docker\.pid: ENOENT \(is dockerd running\?\)/);
});

// ---- containerd -------------------------------------------------------------------------------

const V2 = `# containerd config, edited by hand
version = 2

[plugins]
  # the CRI plugin
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true  # as kubeadm wants
`;

const V3 = `version = 3

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'
`;

/** Parsed TOML as plain objects (smol-toml makes null-prototype ones). */
function toml(text: string): any {
  return JSON.parse(JSON.stringify(parseToml(text)));
}

function handlerOf(text: string, version: 2 | 3): unknown {
  let cur: unknown = toml(text);
  for (const k of [...CRI_RUNTIMES[version], CONTAINERD_HANDLER]) cur = (cur as Record<string, unknown> | undefined)?.[k];
  return cur;
}

/** The parsed file without the tsor handler. */
function withoutHandler(text: string, version: 2 | 3): unknown {
  const t = toml(text);
  let cur = t;
  for (const k of CRI_RUNTIMES[version]) cur = cur[k];
  delete cur[CONTAINERD_HANDLER];
  return t;
}

for (const [version, original] of [
  [2, V2],
  [3, V3],
] as const) {
  test(`containerd v${version}: appends the handler keeping comments and content, backup, idempotent, exact undo`, (t) => {
    const env = setup(t);
    write(env.configToml, original);
    run(env, { containerd: true });
    const after = read(env.configToml);
    assert.ok(after.startsWith(original), "everything before, comments included, is kept as it was");
    // V2's runc handler uses the systemd cgroup driver (kubeadm): tsor's handler follows it.
    const options = version === 2 ? { BinaryName: SHIM_TSOR, SystemdCgroup: true } : { BinaryName: SHIM_TSOR };
    assert.deepEqual(handlerOf(after, version), { runtime_type: RUNC_V2_SHIM, options });
    assert.deepEqual(withoutHandler(after, version), toml(original), "nothing else changes");
    const section = version === 2 ? '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsor]' : '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.tsor]';
    assert.ok(after.includes(section), `${section} in:\n${after}`);
    assert.ok(after.includes(`${section.slice(0, -1)}.options]`));
    assert.equal(env.backups(env.configToml).length, 1);
    assert.ok(env.lines.some((l) => l.includes("systemctl restart containerd")));

    run(env, { containerd: true });
    assert.equal(read(env.configToml), after, "a second install changes nothing");
    assert.equal(env.backups(env.configToml).length, 1);

    env.uninstall({ containerd: true });
    assert.equal(read(env.configToml), original, "byte for byte");
    assert.ok(!fs.existsSync(env.stateFile));
  });
}

test("containerd: creates a version 2 config when absent; uninstall removes it", (t) => {
  const env = setup(t);
  run(env, { containerd: true });
  const text = read(env.configToml);
  assert.equal(toml(text).version, 2);
  assert.deepEqual(handlerOf(text, 2), { runtime_type: RUNC_V2_SHIM, options: { BinaryName: SHIM_TSOR } });
  env.uninstall();
  assert.ok(!fs.existsSync(env.configToml));
});

test("containerd: a file of comments only gets a version line with the block; undo keeps the comments", (t) => {
  const env = setup(t);
  const comments = "# nothing configured yet\n# see containerd-config.toml(5)";
  write(env.configToml, comments);
  run(env, { containerd: true });
  const text = read(env.configToml);
  assert.ok(text.startsWith(comments + "\n"));
  assert.deepEqual(handlerOf(text, 2), { runtime_type: RUNC_V2_SHIM, options: { BinaryName: SHIM_TSOR } });
  // Edited since install: only the block goes, the new comment stays.
  write(env.configToml, "# added later\n" + text);
  env.uninstall();
  assert.equal(read(env.configToml), "# added later\n" + comments);
  // A table added after the block keeps the version line it depends on.
  run(env, { containerd: true });
  write(env.configToml, read(env.configToml) + "\n[plugins.x]\n  y = 1\n");
  env.uninstall();
  assert.deepEqual(toml(read(env.configToml)), { version: 2, plugins: { x: { y: 1 } } });
});

test("containerd: after later edits uninstall cuts only tsor's block", (t) => {
  const env = setup(t);
  write(env.configToml, V2);
  run(env, { containerd: true });
  const edited = read(env.configToml).replace("# the CRI plugin", "# the CRI plugin (tuned)") + '\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n';
  write(env.configToml, edited);
  env.uninstall();
  const text = read(env.configToml);
  assert.equal(handlerOf(text, 2), undefined);
  assert.ok(text.includes("# the CRI plugin (tuned)"));
  assert.ok(text.includes("config_path"));
  assert.ok(text.includes("SystemdCgroup = true  # as kubeadm wants"));
  assert.equal(env.backups(env.configToml).length, 2, "install's backup and one of the edited file");
});

test("containerd: malformed TOML is an error naming the file and line, left untouched", (t) => {
  const env = setup(t);
  const bad = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"\n  x = 1\n';
  write(env.configToml, bad);
  assertUserError(() => run(env, { containerd: true }), /config\.toml:3:\d+: invalid TOML/, /left unchanged/);
  assert.equal(read(env.configToml), bad);
  assert.deepEqual(env.backups(env.configToml), []);
  assert.ok(!fs.existsSync(env.stateFile));
});

test("containerd: version 1 and unknown versions are refused with the file named", (t) => {
  const env = setup(t);
  write(env.configToml, "[plugins.cri]\n  sandbox_image = 'x'\n");
  assertUserError(() => run(env, { containerd: true }), /config\.toml: containerd config version 1 .* is not supported/);
  write(env.configToml, "version = 9\n");
  assertUserError(() => run(env, { containerd: true }), /config\.toml: unknown containerd config version 9/);
});

test("containerd: a tsor handler with another BinaryName is refused; --force replaces its tables and uninstall puts them back", (t) => {
  const env = setup(t);
  const theirs = V2 + '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsor]\n  runtime_type = "io.containerd.runc.v2"\n  # old build\n  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsor.options]\n    BinaryName = "/old/tsor"\n';
  write(env.configToml, theirs);
  assertUserError(() => run(env, { containerd: true }), /config\.toml: \[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.tsor\] already exists \(runtime_type "io\.containerd\.runc\.v2", BinaryName "\/old\/tsor", SystemdCgroup false where the runc handler's is true\); left unchanged \(--force replaces it\)/);
  assert.equal(read(env.configToml), theirs);
  run(env, { containerd: true, force: true });
  const forced = read(env.configToml);
  assert.deepEqual(handlerOf(forced, 2), { runtime_type: RUNC_V2_SHIM, options: { BinaryName: SHIM_TSOR, SystemdCgroup: true } });
  assert.ok(!forced.includes("/old/tsor"));
  assert.ok(forced.startsWith(V2));
  // Edited since: the structural undo cuts tsor's block and puts the old tables back.
  write(env.configToml, "# edited\n" + forced);
  env.uninstall();
  const text = read(env.configToml);
  assert.deepEqual(handlerOf(text, 2), { runtime_type: RUNC_V2_SHIM, options: { BinaryName: "/old/tsor" } });
  assert.ok(text.includes("# old build"));
});

test("containerd: a tsor handler whose SystemdCgroup differs from the runc handler's is refused, naming it; --force makes them agree", (t) => {
  const env = setup(t);
  const older = V2 + `\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsor]\n  runtime_type = "io.containerd.runc.v2"\n  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsor.options]\n    BinaryName = "${SHIM_TSOR}"\n`;
  write(env.configToml, older);
  assertUserError(() => run(env, { containerd: true }), /BinaryName "[^"]+", SystemdCgroup false where the runc handler's is true\); left unchanged \(--force replaces it\)/);
  run(env, { containerd: true, force: true });
  assert.deepEqual(handlerOf(read(env.configToml), 2), { runtime_type: RUNC_V2_SHIM, options: { BinaryName: SHIM_TSOR, SystemdCgroup: true } });
});

test("containerd: a handler written as an inline table cannot be cut and is refused", (t) => {
  const env = setup(t);
  const inline = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes]\n  tsor = { runtime_type = "io.containerd.kata.v2" }\n';
  write(env.configToml, inline);
  assertUserError(() => run(env, { containerd: true, force: true }), /config\.toml: .*runtimes\.tsor\] is not written as plain \[table\] sections/);
  assert.equal(read(env.configToml), inline);
});

test("containerd: --dry-run prints the diff and changes nothing", (t) => {
  const env = setup(t);
  write(env.configToml, V3);
  run(env, { containerd: true, dryRun: true });
  assert.equal(read(env.configToml), V3);
  assert.deepEqual(env.backups(env.configToml), []);
  assert.ok(!fs.existsSync(env.stateFile));
  const text = env.lines.join("\n");
  assert.match(text, /^\+\[plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.tsor\]$/m);
  assert.match(text, /^\+ {2}BinaryName = "\/opt\/tsor\/bin\/tsor-shim-runtime"$/m);
});

test("install and uninstall of both at once; uninstall without flags undoes both", (t) => {
  const env = setup(t);
  write(env.daemonJson, DAEMON_JSON);
  write(env.configToml, V2);
  run(env, { docker: true, containerd: true });
  const record = JSON.parse(read(env.stateFile));
  assert.deepEqual(Object.keys(record).sort(), ["containerd", "docker", "version"]);
  env.uninstall();
  assert.equal(read(env.daemonJson), DAEMON_JSON);
  assert.equal(read(env.configToml), V2);
  assert.ok(!fs.existsSync(env.stateFile));
  env.lines.length = 0;
  env.uninstall();
  assert.ok(env.lines.every((l) => l.includes("nothing to undo")));
});

test("install refuses to run without a target, with a relative runtime path, or into a second file", (t) => {
  const env = setup(t);
  assertUserError(() => run(env, {}), /--docker and\/or --containerd/);
  assertUserError(() => run(env, { docker: true, runtimePath: "bin/tsor" }), /must be an absolute path/);
  run(env, { docker: true });
  assertUserError(() => run(env, { docker: true, dockerConfig: path.join(env.dir, "other.json") }), /recorded as installed in .*daemon\.json, not .*other\.json; run tsor uninstall --docker first/);
});

test("unifiedDiff: hunks with three lines of context, like diff -u", () => {
  const before = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"].join("\n") + "\n";
  const after = before.replace("b\n", "B\n").replace("j\n", "j\nk\n");
  assert.equal(
    unifiedDiff({ file: "/f", before, after }),
    ["--- /f", "+++ /f", "@@ -1,5 +1,5 @@", " a", "-b", "+B", " c", " d", " e", "@@ -8,3 +8,4 @@", " h", " i", " j", "+k", ""].join("\n"),
  );
  assert.equal(unifiedDiff({ file: "/f", before: null, after: "x\n" }), "--- /dev/null\n+++ /f\n@@ -0,0 +1 @@\n+x\n");
  assert.equal(unifiedDiff({ file: "/f", before: "x\n", after: "x\n" }), "");
});

test("the tsor install / uninstall verbs: flags reach the library (--runtime-arg takes a dashed value)", async (t) => {
  const env = setup(t);
  const { buildProgram } = await import("../../oci/main.js");
  const { consoleOutput } = await import("../../oci/commands/install.js");
  const saved = { ...consoleOutput };
  consoleOutput.info = (l) => env.lines.push(l);
  consoleOutput.warn = (l) => env.lines.push(l);
  t.after(() => Object.assign(consoleOutput, saved));
  const common = ["--docker-config", env.daemonJson, "--containerd-config", env.configToml, "--state-file", env.stateFile];
  await buildProgram().parseAsync(["install", "--docker", "--containerd", ...common, "--runtime-path", TSOR, "--runtime-arg", "--debug"], { from: "user" });
  assert.deepEqual(JSON.parse(read(env.daemonJson)).runtimes.tsor, { path: TSOR, runtimeArgs: ["--report-sentry-pid", "--debug"] });
  assert.deepEqual(handlerOf(read(env.configToml), 2), { runtime_type: RUNC_V2_SHIM, options: { BinaryName: SHIM_TSOR } });
  await buildProgram().parseAsync(["uninstall", "--docker", "--state-file", env.stateFile], { from: "user" });
  assert.ok(!fs.existsSync(env.daemonJson));
  assert.ok(fs.existsSync(env.configToml), "--docker alone leaves containerd's");
  await buildProgram().parseAsync(["uninstall", "--state-file", env.stateFile], { from: "user" });
  assert.ok(!fs.existsSync(env.configToml));
});

test("docker: --report-sentry-pid comes once, first, even when --runtime-arg repeats it", (t) => {
  const env = setup(t);
  run(env, { docker: true, runtimeArgs: ["--debug", "--report-sentry-pid"] });
  assert.deepEqual(JSON.parse(read(env.daemonJson)).runtimes.tsor.runtimeArgs, ["--report-sentry-pid", "--debug"]);
});

test("bin/tsor-shim-runtime is an executable launcher that passes --report-sentry-pid before the shim's arguments", () => {
  const shim = path.join(repoRoot(), "bin", "tsor-shim-runtime");
  fs.accessSync(shim, fs.constants.X_OK);
  assert.match(fs.readFileSync(shim, "utf8"), /const argv = \["--report-sentry-pid", \.\.\.process\.argv\.slice\(2\)\];/);
});
