// docker through `tsor install --docker`: a private dockerd (test/lib/dockerd.ts: its own
// containerd, data-root, exec-root and socket under a temp dir) whose runtimes.tsor our installer
// writes, and a busybox image imported offline. It checks what the runc shim needs from tsor:
// above all that `docker run` returns with the container's status (--report-sentry-pid: the shim
// reaps the pid in --pid-file, which must be the sentry's, oci/cli.ts), then exec, ps, stop,
// kill, logs, env/user/workdir and --read-only. Root only; a tsor test (skipped under
// TSOR_RUNTIME=runc).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { runtime } from "./harness.js";
import { BUSYBOX_IMAGE as IMAGE, PrivateDockerd, dockerSkipReason } from "../lib/dockerd.js";

const skip = dockerSkipReason(runtime().isRunc);

describe("docker --runtime=tsor (a private dockerd configured by tsor install --docker)", { skip }, () => {
  let d: PrivateDockerd | undefined;
  const docker = (args: string[]) => d!.docker(args);
  const ok = (args: string[]) => d!.ok(args);
  const run = ["run", "--runtime=tsor", "--network", "none"];

  before(async () => {
    d = new PrivateDockerd();
    await d.start();
  });

  after(async () => {
    await d?.stop();
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

