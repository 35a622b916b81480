// `tsor exec` under the container's trap (issue 4): an exec'd process is trapped exactly like
// the container's first process and served by the same sentry and SocketStack, so its connect()
// to a virtual listener in the container gets a socketpair, never a kernel connection to it.
// Both platforms: seccomp (the listener over the trap server connection) and ptrace (the sentry
// seizes the exec'd process before it starts). tsor only (`--network`/`--platform` and the trap
// are tsor's).
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, waitFor } from "./harness.js";
import { appBundle } from "../apps/apps.js";

const h = new Harness("exectrap");
after(() => h.cleanup());
const skip = h.rtm.isRunc && "the trap and --network are tsor's own";

const PAGE = "<html><body>hello from the trapped httpd</body></html>\n";
/** httpd on 127.0.0.1:8080 (a virtual listener when trapped); /ready once it answers. */
const SCRIPT = `
httpd -f -p 127.0.0.1:8080 -h /www &
wait_for "httpd to answer" wget -q -O /dev/null http://127.0.0.1:8080/index.html
touch /ready
wait
`;

async function httpdContainer(createFlags: string[] = [], mutate?: (c: Record<string, any>) => void): Promise<{ id: string; pid: number }> {
  const b = appBundle(h, SCRIPT, { busybox: true, files: { "www/index.html": PAGE }, mutate });
  const id = h.createStart(b, "httpd", createFlags);
  await waitFor("httpd in the container", () => (fs.existsSync(path.join(b.rootfs, "ready")) ? true : undefined));
  const s = h.state(id);
  assert.ok(s && s.status === "running", `state ${JSON.stringify(s)}`);
  return { id, pid: s.pid };
}

/** /proc/net/tcp rows (after the header) as [local, remote, state] in hex, as the kernel prints them. */
function tcpRows(text: string): { local: string; remote: string; st: string }[] {
  return text
    .split("\n")
    .filter((l) => /^\s*\d+:/.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return { local: f[1]!, remote: f[2]!, st: f[3]! };
    });
}

const PORT_HEX = ":1F90"; // 8080

function filtersOf(out: string): number {
  const m = /^Seccomp_filters:\s+(\d+)$/m.exec(out);
  assert.ok(m, out);
  return Number(m[1]);
}

/**
 * An exec'd wget of the container's httpd (a virtual listener): the page arrives and no kernel
 * TCP connection to port 8080 appears, so its socket()/connect() were answered by the sentry.
 */
async function assertExecGetsSocketpair(createFlags: string[]): Promise<void> {
  const { id } = await httpdContainer(createFlags);
  // /proc/net/tcp before and after the exec'd fetch: the container's own readiness probe may
  // have raced httpd's listen() onto the kernel listener and left a TIME_WAIT row; only rows
  // the exec'd wget adds count.
  const r = h.rt(["exec", id, "sh", "-c", "cat /proc/net/tcp && echo ---PAGE--- && wget -q -O - http://127.0.0.1:8080/ && echo ---TCP--- && cat /proc/net/tcp"]);
  assert.equal(r.code, 0, r.stderr);
  const [before, rest] = r.stdout.split("---PAGE---\n");
  const [page, tcp] = (rest ?? "").split("---TCP---\n");
  assert.equal(page, PAGE);
  const rows = tcpRows(tcp ?? "");
  const old = new Set(tcpRows(before ?? "").map((x) => `${x.local} ${x.remote}`));
  // The kernel listener (LISTEN, 0A) is there; a kernel connection to it would leave
  // an ESTABLISHED (01) or TIME_WAIT/FIN_WAIT/CLOSE_WAIT row on port 8080 behind the fetch.
  assert.ok(rows.some((x) => x.local.endsWith(PORT_HEX) && x.st === "0A"), `no kernel listener:\n${tcp}`);
  const kernelConns = rows.filter(
    (x) => x.st !== "0A" && !old.has(`${x.local} ${x.remote}`) && (x.local.endsWith(PORT_HEX) || x.remote.endsWith(PORT_HEX)),
  );
  assert.deepEqual(kernelConns, [], `the exec'd wget used kernel TCP:\n${tcp}`);
}

describe("exec under the trap", { skip }, () => {
  test("an exec'd client of a virtual listener gets a socketpair (no kernel TCP connection)", async () => {
    await assertExecGetsSocketpair([]);
  });

  test("under --platform ptrace too: the sentry traces the exec'd process and answers its socket calls", async () => {
    await assertExecGetsSocketpair(["--platform", "ptrace"]);
  });

  test("under --platform ptrace the exec'd process carries the trace filter and its tracer is the sentry", async () => {
    const { id } = await httpdContainer(["--platform", "ptrace"]);
    assert.equal(filtersOf(h.ok(["exec", id, "grep", "Seccomp_filters", "/proc/self/status"])), 1);
    const pidFile = path.join(h.dir("pid"), "pid");
    h.ok(["exec", "--detach", "--pid-file", pidFile, id, "sleep", "30"]);
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    const sentryPid = JSON.parse(fs.readFileSync(path.join(h.root, id, "state.json"), "utf8")).tsor.sentryPid as number;
    const tracer = () => Number(/^TracerPid:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    assert.equal(tracer(), sentryPid);
    // Its exit still reaches its real parent (tsor-init), which the sentry only traces.
    assert.equal(h.rt(["exec", id, "sh", "-c", "exit 5"]).code, 5);
  });

  test("the exec'd process carries the trap filter (and the config's profile)", async () => {
    const { id } = await httpdContainer();
    assert.equal(filtersOf(h.ok(["exec", id, "grep", "Seccomp_filters", "/proc/self/status"])), 1);
    const withProfile = await httpdContainer([], (c) => {
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["sethostname"], action: "SCMP_ACT_ERRNO" }] };
    });
    assert.equal(filtersOf(h.ok(["exec", withProfile.id, "grep", "Seccomp_filters", "/proc/self/status"])), 2);
  });

  test("exec into a --network host-kernel container stays untrapped and works", async () => {
    const { id } = await httpdContainer(["--network", "host-kernel"]);
    const r = h.rt(["exec", id, "sh", "-c", "grep Seccomp_filters /proc/self/status && wget -q -O - http://127.0.0.1:8080/"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(filtersOf(r.stdout), 0);
    assert.ok(r.stdout.endsWith(PAGE), r.stdout);
  });

  test("exec fails clearly once the sentry is gone", async () => {
    const { id } = await httpdContainer();
    const sentryPid = JSON.parse(fs.readFileSync(path.join(h.root, id, "state.json"), "utf8")).tsor.sentryPid as number;
    process.kill(sentryPid, "SIGKILL");
    await waitFor("the sentry to die", () => {
      try {
        process.kill(sentryPid, 0);
        return undefined;
      } catch {
        return true;
      }
    });
    const r = h.rt(["exec", id, "true"], { timeoutMs: 15_000 });
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped|sentry/);
  });

  test("exec fails clearly when the sentry's trap socket is missing", async () => {
    const { id } = await httpdContainer();
    fs.rmSync(path.join(h.root, id, "trap.sock"), { force: true });
    const r = h.rt(["exec", id, "true"], { timeoutMs: 15_000 });
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /trap/);
  });
});
