// docker through `tsor install --docker`: a private dockerd (its own containerd, data-root,
// exec-root and socket under a temp dir) whose runtimes.tsor our installer writes, and a
// busybox image imported offline. It checks what the runc shim needs from tsor: above all that
// `docker run` returns with the container's status (--report-sentry-pid: the shim reaps the pid
// in --pid-file, which must be the sentry's, oci/cli.ts), then exec, ps, stop, kill, logs,
// env/user/workdir and --read-only. Root only; a tsor test (skipped under TSOR_RUNTIME=runc).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBusyboxRootfs, TSOR } from "../lib/bundle.js";
import { runtime } from "./harness.js";
import { killMentioning, stopDaemon, unmountUnder } from "../lib/daemons.js";

const DOCKERD = "/usr/sbin/dockerd";
const IMAGE = "tsor-bb:test";
/** Every docker command is bounded: a `docker run` that never returns is the bug this guards. */
const DOCKER_TIMEOUT_MS = 20_000;

function dockerClient(): string | undefined {
  for (const d of (process.env.PATH ?? "").split(":")) {
    if (d && fs.existsSync(path.join(d, "docker"))) return path.join(d, "docker");
  }
  return undefined;
}

const skip = runtime().isRunc
  ? "a tsor test (docker with tsor's installer and --report-sentry-pid)"
  : process.getuid?.() !== 0
    ? "needs root (dockerd)"
    : !fs.existsSync(DOCKERD) || !dockerClient()
      ? "no dockerd/docker (apt-get install docker.io)"
      : false;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("docker --runtime=tsor (a private dockerd configured by tsor install --docker)", { skip }, () => {
  let tmp = "";
  let sock = "";
  let dockerd: ChildProcess | undefined;

  const docker = (args: string[], timeoutMs = DOCKER_TIMEOUT_MS): Result => {
    const r = spawnSync(dockerClient()!, ["--host", `unix://${sock}`, ...args], { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
      throw new Error(`docker ${args.join(" ")}: no answer in ${timeoutMs} ms (stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)})`);
    }
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const ok = (args: string[]): string => {
    const r = docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const run = ["run", "--runtime=tsor", "--network", "none"];

  before(async () => {
    tmp = fs.mkdtempSync("/tmp/tsor-dk-");
    sock = path.join(tmp, "docker.sock");
    const daemonJson = path.join(tmp, "daemon.json");
    fs.writeFileSync(
      daemonJson,
      JSON.stringify({
        "data-root": path.join(tmp, "data"),
        "exec-root": path.join(tmp, "exec"),
        pidfile: path.join(tmp, "docker.pid"),
        hosts: [`unix://${sock}`],
        iptables: false,
        bridge: "none",
        "storage-driver": "vfs",
      }),
    );
    // Through our installer, as a user would: it adds runtimes.tsor with --report-sentry-pid.
    const inst = spawnSync(TSOR, ["install", "--docker", "--docker-config", daemonJson, "--state-file", path.join(tmp, "install.json")], { encoding: "utf8" });
    assert.equal(inst.status, 0, `tsor install failed: ${inst.stderr}`);
    assert.deepEqual(JSON.parse(fs.readFileSync(daemonJson, "utf8")).runtimes.tsor, { path: TSOR, runtimeArgs: ["--report-sentry-pid"] });

    const log = fs.openSync(path.join(tmp, "dockerd.log"), "a");
    dockerd = spawn(DOCKERD, ["--config-file", daemonJson], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (fs.existsSync(sock) && docker(["version", "--format", "{{.Server.Version}}"], 5000).code === 0) break;
      if (dockerd.exitCode !== null || Date.now() > deadline) {
        throw new Error(`dockerd did not come up: ${fs.readFileSync(path.join(tmp, "dockerd.log"), "utf8").slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const rootfs = path.join(tmp, "rootfs");
    makeBusyboxRootfs(rootfs);
    const tar = spawnSync("sh", ["-c", `tar -C "$1" -c . | "$2" --host "unix://$3" import - "$4"`, "sh", rootfs, dockerClient()!, sock, IMAGE], {
      encoding: "utf8",
      timeout: DOCKER_TIMEOUT_MS,
    });
    assert.equal(tar.status, 0, `docker import failed: ${tar.stderr}`);
  });

  after(async () => {
    if (!tmp) return;
    await stopDaemon(dockerd);
    // dockerd's managed containerd and its shims (and their containers' sentries), found by
    // the temp dir on their command lines (never by name alone: other containerds may run).
    await killMentioning(tmp);
    unmountUnder(tmp);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("docker run returns with the container's exit status and output", () => {
    const r = docker([...run, "--rm", IMAGE, "sh", "-c", "echo hi; exit 3"]);
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.code, 3, r.stderr);
  });

  test("run -d, exec, ps shows Up, stop -t 1, ps -a shows Exited, rm", () => {
    const id = ok([...run, "-d", IMAGE, "sleep", "1000"]).trim();
    try {
      assert.equal(ok(["exec", id, "echo", "x"]), "x\n");
      const exec = docker(["exec", id, "sh", "-c", "exit 5"]);
      assert.equal(exec.code, 5, exec.stderr);
      assert.match(ok(["ps", "--filter", `id=${id}`, "--format", "{{.Status}}"]), /^Up /);
      ok(["stop", "-t", "1", id]);
      assert.match(ok(["ps", "-a", "--filter", `id=${id}`, "--format", "{{.Status}}"]), /^Exited \(137\)/);
    } finally {
      docker(["rm", "-f", id]);
    }
    assert.equal(ok(["ps", "-a", "--filter", `id=${id}`, "-q"]), "");
  });

  test("docker kill: exit code 137; docker logs has the output", () => {
    const id = ok([...run, "-d", IMAGE, "sh", "-c", "echo logged; exec sleep 1000"]).trim();
    try {
      ok(["kill", id]);
      assert.equal(ok(["wait", id]).trim(), "137");
      assert.equal(ok(["inspect", "--format", "{{.State.ExitCode}}", id]).trim(), "137");
      assert.equal(ok(["logs", id]), "logged\n");
    } finally {
      docker(["rm", "-f", id]);
    }
  });

  test("-e, -u and -w reach the process", () => {
    assert.equal(ok([...run, "--rm", "-e", "A=1", "-u", "1000", "-w", "/tmp", IMAGE, "sh", "-c", "echo $A; id -u; pwd"]), "1\n1000\n/tmp\n");
  });

  test("--read-only: the rootfs cannot be written", () => {
    const r = docker([...run, "--rm", "--read-only", IMAGE, "sh", "-c", "touch /x && echo wrote"]);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /wrote/);
    assert.match(r.stderr, /Read-only file system/);
  });
});

