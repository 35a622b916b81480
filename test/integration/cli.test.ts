// Verbs that need no container (spec, features) and global options (--root, --log, --version).
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, runtime } from "./harness.js";
import { SOCKET_SYSCALLS, TABLE_CALLS } from "../../sentry/syscalls/numbers.js";

const h = new Harness("cli");
after(() => h.cleanup());

function readJson(file: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

describe("spec", () => {
  test("spec writes a config.json template in the current directory", () => {
    const dir = h.dir("spec");
    h.ok(["spec"], { cwd: dir });
    const c = readJson(path.join(dir, "config.json"));
    assert.equal(typeof c.ociVersion, "string");
    assert.deepEqual(c.process.args, ["sh"]);
    assert.equal(c.root.path, "rootfs");
    const ns = c.linux.namespaces.map((n: { type: string }) => n.type);
    for (const t of ["pid", "network", "ipc", "uts", "mount"]) assert.ok(ns.includes(t), `namespace ${t}`);
  });

  test("spec --bundle writes into the given directory", () => {
    const dir = h.dir("spec");
    h.ok(["spec", "--bundle", dir]);
    assert.ok(fs.existsSync(path.join(dir, "config.json")));
  });

  test("spec --rootless adds a user namespace mapping the caller's ids and no network namespace", () => {
    const dir = h.dir("spec");
    h.ok(["spec", "--rootless"], { cwd: dir });
    const c = readJson(path.join(dir, "config.json"));
    const ns = c.linux.namespaces.map((n: { type: string }) => n.type);
    assert.ok(ns.includes("user"));
    assert.ok(!ns.includes("network"));
    assert.deepEqual(c.linux.uidMappings, [{ containerID: 0, hostID: process.getuid!(), size: 1 }]);
    assert.deepEqual(c.linux.gidMappings, [{ containerID: 0, hostID: process.getgid!(), size: 1 }]);
  });

  test("spec refuses to overwrite an existing config.json (exit 1, file unchanged)", () => {
    const dir = h.dir("spec");
    fs.writeFileSync(path.join(dir, "config.json"), "mine");
    const r = h.rt(["spec"], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config\.json/);
    assert.equal(fs.readFileSync(path.join(dir, "config.json"), "utf8"), "mine");
  });

  test("the spec template runs as is once terminal is off and a rootfs exists", () => {
    const b = h.bundle({ args: ["echo", "template ok"] });
    const dir = h.dir("spec");
    h.ok(["spec"], { cwd: dir });
    const c = readJson(path.join(dir, "config.json"));
    c.process.terminal = false;
    c.process.args = ["echo", "template ok"];
    fs.writeFileSync(path.join(b.dir, "config.json"), JSON.stringify(c));
    const r = h.rt(["run", "--bundle", b.dir, h.id()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "template ok\n");
  });
});

describe("features", () => {
  // runc < 1.1 has no `features`: skip only when the reference runc lacks the verb.
  const probe = h.rt(["features"]);
  const skip = h.rtm.isRunc && probe.code !== 0 ? "runc has no features verb" : false;

  test("features prints JSON with the OCI version range", { skip }, () => {
    const f = JSON.parse(h.ok(["features"]));
    assert.match(f.ociVersionMin, /^1\.\d+\.\d+/);
    assert.match(f.ociVersionMax, /^1\.\d+\.\d+/);
  });

  test("features lists hooks, mount options, namespaces and capabilities", { skip }, () => {
    const f = JSON.parse(h.ok(["features"]));
    for (const hook of ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]) {
      assert.ok(f.hooks.includes(hook), `hook ${hook}`);
    }
    for (const o of ["bind", "rbind", "ro", "nosuid", "nodev", "noexec"]) assert.ok(f.mountOptions.includes(o), `mount option ${o}`);
    for (const n of ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]) {
      assert.ok(f.linux.namespaces.includes(n), `namespace ${n}`);
    }
    assert.ok(f.linux.capabilities.includes("CAP_KILL"));
    assert.equal(typeof f.linux.seccomp.enabled, "boolean");
  });
});

describe("global options", () => {
  test("containers under one --root are invisible under another", async () => {
    const { id } = await h.started(h.bundle({ args: ["sleep", "1000"] }));
    const other = new Harness("other");
    try {
      assert.deepEqual(other.listIds(), []);
      assert.equal(other.state(id), undefined);
      assert.ok(h.listIds().includes(id));
    } finally {
      other.cleanup();
    }
  });

  test("the state of a container lives in a directory named by its id under --root", async () => {
    const { id } = await h.started(h.bundle({ args: ["sleep", "1000"] }));
    assert.ok(fs.statSync(path.join(h.root, id)).isDirectory());
  });

  test("--log FILE --log-format json writes the error as a JSON line to FILE", () => {
    const log = path.join(h.dir("log"), "log.json");
    const r = h.rt(["--log", log, "--log-format", "json", "state", "no-such-container"]);
    assert.equal(r.code, 1);
    const entries = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const e = entries.find((x) => x.level === "error");
    assert.ok(e, "an error entry");
    assert.equal(typeof e.msg, "string");
    assert.equal(typeof e.time, "string");
  });

  test("--version prints the runtime version and the spec version", () => {
    const out = h.ok(["--version"]);
    assert.match(out, /version/i);
    assert.match(out, /^spec: \d+\.\d+\.\d+/m);
  });
});

describe("host read-only bundle", () => {
  const hasPython = spawnSync("test", ["-x", "/usr/bin/python3"]).status === 0;

  test("a rootfs of read-only host binds runs a host binary (python3)", { skip: !hasPython && "no /usr/bin/python3" }, () => {
    const b = h.bundle({ hostRo: true, args: ["/usr/bin/python3", "-c", "import os; print('py', os.getpid())"] });
    const r = h.rt(["run", "--bundle", b.dir, h.id()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "py 1\n");
  });

  test("the host binds are read-only inside the container", () => {
    const b = h.bundle({ hostRo: true, args: ["/bin/sh", "-c", "touch /usr/tsor-it-probe 2>/dev/null && echo writable || echo refused"] });
    const r = h.rt(["run", "--bundle", b.dir, h.id()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "refused\n");
    assert.ok(!fs.existsSync("/usr/tsor-it-probe"));
  });
});

describe("tsor syscalls", { skip: runtime().isRunc ? "a tsor verb" : false }, () => {
  test("prints the sentry's syscall table from the table: every trapped call once, with its support level", () => {
    const r = spawnSync(runtime().bin, ["syscalls", "--format", "json"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { nr: number; name: string; support: string }[];
    assert.deepEqual(rows.map((x) => x.name).sort(), [...TABLE_CALLS].sort());
    for (const row of rows) {
      assert.equal(row.nr, SOCKET_SYSCALLS[row.name as keyof typeof SOCKET_SYSCALLS]);
      assert.ok(row.support === "supported" || row.support === "partial");
    }
  });
});
