// docker through `tsor install --docker`: a private dockerd (test/lib/dockerd.ts: its own
// containerd, data-root, exec-root and socket under a temp dir) whose runtimes.tsor our installer
// writes, and a busybox image imported offline. It checks what the runc shim needs from tsor:
// above all that `docker run` returns with the container's status (--report-sentry-pid: the shim
// reaps the pid in --pid-file, which must be the sentry's, oci/cli.ts), then exec, ps, stop,
// kill, logs, env/user/workdir, --read-only, -it (the console socket), --memory/--pids-limit,
// and real programs (the host's redis and node copied into an image) talking over 127.0.0.1
// through the sentry. Root only; a tsor test (skipped under TSOR_RUNTIME=runc).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { cgroupValue, runtime } from "./harness.js";
import { BUSYBOX_IMAGE as IMAGE, DOCKER_TIMEOUT_MS, PrivateDockerd, dockerSkipReason } from "../lib/dockerd.js";
import { makeHostRootfs } from "../lib/hostimage.js";
import { WAIT_FOR_SH, requireHostBinary } from "../apps/apps.js";

const skip = dockerSkipReason(runtime().isRunc);

/** The terminal size the -it tests give the docker client; docker passes it on to the container. */
const ROWS = 17;
const COLS = 91;
/**
 * sh: waits (5 s at most) for that size, then prints `stty size`. Docker 20.10 sets it with a
 * resize after start (config.json has no consoleSize), so a process may start on a 0x0 tty.
 */
const SIZE_SH = `i=0; until [ "$(stty size 2>/dev/null)" = "${ROWS} ${COLS}" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done; stty size`;

/**
 * Runs `argv` (a docker client command) on a terminal, as from a user's shell (-it needs one):
 * script(1) gives it a pty of ROWS x COLS, and `input` is typed once the output shows `prompt`.
 * Bounded: the session is killed after timeoutMs (the pty hangs up on the docker client).
 */
async function onTerminal(argv: string[], prompt: string, input: string, timeoutMs = DOCKER_TIMEOUT_MS): Promise<{ code: number | null; out: string }> {
  const cmd = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const child = spawn("script", ["-qec", `stty rows ${ROWS} cols ${COLS} && exec ${cmd}`, "/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, SHELL: "/bin/sh" },
  });
  let out = "";
  let typed = false;
  const collect = (c: Buffer) => {
    out += c.toString("utf8");
    if (!typed && out.includes(prompt)) {
      typed = true;
      child.stdin!.write(input);
    }
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  child.stdin!.on("error", () => {});
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("close", (c) => resolve(c)));
  clearTimeout(timer);
  out = out.replace(/\r/g, "");
  if (timedOut) throw new Error(`${argv.join(" ")} on a terminal: no exit in ${timeoutMs} ms; output so far:\n${out}`);
  return { code, out };
}

/**
 * The container's first process, running `argv0`: a child of the sentry (docker's State.Pid is
 * the sentry's, oci/cli.ts), which is not in the container's cgroup itself.
 */
function appPid(sentryPid: number, argv0: string): number {
  const kids = fs
    .readdirSync(`/proc/${sentryPid}/task`)
    .flatMap((t) => fs.readFileSync(`/proc/${sentryPid}/task/${t}/children`, "utf8").trim().split(/\s+/))
    .filter((p) => p !== "" && fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0")[0] === argv0)
    .map(Number);
  assert.equal(kids.length, 1, `the sentry ${sentryPid} should have one child running ${argv0}: ${kids.join(" ")}`);
  return kids[0]!;
}

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

  test("run -it: the process has a tty of the client's size, typed input reaches it, the status comes back", async () => {
    const name = `tsor-it-${process.pid}`;
    try {
      const script = `tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; ${SIZE_SH}; echo ready; read line; echo "got $line"; exit 7`;
      const r = await onTerminal(d!.command([...run, "--rm", "-it", "--name", name, IMAGE, "sh", "-c", script]), "ready", "hello\n");
      assert.equal(r.code, 7, r.out);
      assert.match(r.out, /^\/dev\/pts\/\d+$/m);
      const lines = r.out.split("\n");
      for (const want of ["both-tty", "got hello", `${ROWS} ${COLS}`]) assert.ok(lines.includes(want), `no "${want}" line:\n${r.out}`);
    } finally {
      docker(["rm", "-f", name]);
    }
  });

  test("exec -it: a tty in a running container, input and status", async () => {
    const id = ok([...run, "-d", IMAGE, "sleep", "1000"]).trim();
    try {
      const r = await onTerminal(d!.command(["exec", "-it", id, "sh", "-c", `${SIZE_SH}; echo ready; read line; echo "got $line"; exit 6`]), "ready", "typed\n");
      assert.equal(r.code, 6, r.out);
      const lines = r.out.split("\n");
      for (const want of ["got typed", `${ROWS} ${COLS}`]) assert.ok(lines.includes(want), `no "${want}" line:\n${r.out}`);
    } finally {
      docker(["rm", "-f", id]);
    }
  });

  test("--memory and --pids-limit reach the app's cgroup", () => {
    const id = ok([...run, "-d", "--memory", "64m", "--pids-limit", "8", IMAGE, "sleep", "1000"]).trim();
    try {
      const app = appPid(Number(ok(["inspect", "--format", "{{.State.Pid}}", id]).trim()), "sleep");
      assert.equal(cgroupValue(app, "memory", "memory.limit_in_bytes", "memory.max"), String(64 * 1024 * 1024));
      assert.equal(cgroupValue(app, "pids", "pids.max", "pids.max"), "8");
    } finally {
      docker(["rm", "-f", id]);
    }
  });

  test("--pids-limit 8: forks beyond the limit fail", () => {
    // The shell is one pid; each `sleep &` that forks prints its number. Without the limit all
    // 20 would start and the run would take 5 s and exit 0; with it ash stops at "can't fork".
    const r = docker([...run, "--rm", "--pids-limit", "8", IMAGE, "sh", "-c", "for i in $(seq 20); do sleep 5 & echo $i; done; wait"]);
    const started = r.stdout.split("\n").filter((l) => /^\d+$/.test(l)).length;
    assert.notEqual(r.code, 0, `all forks succeeded:\n${r.stdout}`);
    assert.match(r.stderr, /can't fork/);
    assert.ok(started >= 1 && started < 8, `${started} sleeps started under --pids-limit 8:\n${r.stdout}`);
  });

  describe("host programs in an image (node, redis), talking over 127.0.0.1 inside one container", () => {
    const HOST_IMAGE = "tsor-host:test";
    const BINS: [string, string][] = [
      ["/usr/bin/node", "nodejs"],
      ["/usr/bin/redis-server", "redis-server"],
      ["/usr/bin/redis-cli", "redis-tools"],
      ["/usr/bin/redis-benchmark", "redis-tools"],
    ];

    before(() => {
      for (const [bin, pkg] of BINS) requireHostBinary(bin, pkg);
      const rootfs = path.join(d!.tmp, "host-rootfs");
      makeHostRootfs(rootfs, BINS.map(([bin]) => bin));
      d!.importRootfs(rootfs, HOST_IMAGE);
      fs.rmSync(rootfs, { recursive: true, force: true });
    });

    /** `sh -c script` in the host image (strict mode and wait_for first); must exit 0. */
    const runScript = (script: string): string => d!.ok([...run, "--rm", HOST_IMAGE, "sh", "-c", `set -eu\n${WAIT_FOR_SH}${script}`], 60_000);

    test("redis-server with redis-benchmark and redis-cli", () => {
      const out = runScript(`
redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --dir /tmp --daemonize yes --logfile /tmp/redis.log
wait_for "redis PING" sh -c '[ "$(redis-cli -h 127.0.0.1 -p 6390 ping)" = PONG ]'
redis-benchmark -h 127.0.0.1 -p 6390 -n 2000 -c 10 -t set,get -q | tr '\\r' '\\n' | grep 'requests per second'
echo "get: $(redis-cli -h 127.0.0.1 -p 6390 SET k tsor >/dev/null && redis-cli -h 127.0.0.1 -p 6390 GET k)"
redis-cli -h 127.0.0.1 -p 6390 shutdown nosave || true
`);
      for (const op of ["SET", "GET"]) assert.match(out, new RegExp(`^${op}: [\\d.]+ requests per second`, "m"), out);
      assert.match(out, /^get: tsor$/m, out);
    });

    test("a node http server and a node client; no kernel TCP connection between them", () => {
      const server = `require("http").createServer((q, s) => s.end("hi " + q.url)).listen(8080, "127.0.0.1", () => console.log("listening"))`;
      // 50 GETs (fetch keeps its connections alive), then one more connection: none of the
      // client's sockets may be an ESTABLISHED row of the netns's TCP tables (a trapped connect to
      // a local listener is a socketpair, sentry/vsock). Rows of other processes are not counted:
      // the sentry's doorbell for a connection not yet accepted is a short-lived TCP connection.
      const client = `const fs = require("fs"), net = require("net");
const established = () => new Set(["/proc/net/tcp", "/proc/net/tcp6"]
  .flatMap((f) => fs.readFileSync(f, "utf8").trim().split("\\n").slice(1))
  .map((r) => r.trim().split(/\\s+/)).filter((c) => c[3] === "01").map((c) => c[9]));
const mySockets = () => fs.readdirSync("/proc/self/fd")
  .map((fd) => { try { return fs.readlinkSync("/proc/self/fd/" + fd); } catch { return ""; } })
  .filter((l) => l.startsWith("socket:[")).map((l) => l.slice(8, -1));
(async () => {
  let ok = 0;
  for (let i = 0; i < 50; i++) { const r = await fetch("http://127.0.0.1:8080/" + i); if ((await r.text()) === "hi /" + i) ok++; }
  console.log("ok " + ok);
  const c = net.connect(8080, "127.0.0.1", () => {
    const tcp = established(), mine = mySockets();
    console.log("client sockets " + (mine.length > 0 ? "some" : "none") + ", kernel TCP " + mine.filter((i) => tcp.has(i)).length);
    c.destroy();
  });
})();`;
      const out = runScript(`
node -e '${server}' > /tmp/server.log 2>&1 &
wait_for "node to listen" grep -q listening /tmp/server.log
node -e '${client}'
kill $!
`);
      assert.match(out, /^ok 50$/m, out);
      assert.match(out, /^client sockets some, kernel TCP 0$/m, out);
    });
  });
});

