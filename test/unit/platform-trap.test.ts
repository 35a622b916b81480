// The trap filter's contract: the syscall list (sentry/syscalls/numbers.ts) -> trapOptions ->
// the gofer's `trap` directive -> tsor-init's parser (native/PLAN.md). The filter's behaviour
// on real syscalls is tested in platform-seccomp.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { describe, it } from "node:test";
import { decodePlan } from "../../gofer/encode.js";
import { buildPlan, planDirectives, type PlanOptions } from "../../gofer/plan.js";
import { PlanError, type Spec } from "../../gofer/types.js";
import { tsorInitPath } from "../../sentry/launch.js";
import { createPlatform, PassthroughDispatch, trapOptions } from "../../sentry/platform/index.js";
import { SOCKET_SYSCALLS, TRAPPED_SOCKET_CALLS } from "../../sentry/syscalls/numbers.js";

/** What both platforms' filters trap, let through, or answer (numbers.ts), as literals. */
const TRAPPED = {
  nrs: [42, 43, 48, 49, 50, 51, 52, 54, 55, 288, 213, 291, 425],
  ioctls: [0x5411, 0x894b, 0x8906, 0x8907],
  // getsockopt(fd, SOL_SOCKET, SO_ERROR), setsockopt and getsockopt of SOL_SOCKET, SO_KEEPALIVE,
  // getsockopt(fd, SOL_SOCKET, SO_COOKIE)
  passes: [
    { nr: 55, arg1: 1, arg2: 4 },
    { nr: 54, arg1: 1, arg2: 9 },
    { nr: 55, arg1: 1, arg2: 9 },
    { nr: 55, arg1: 1, arg2: 57 },
    { nr: 54, arg1: 6, arg2: 3, zero: true }, // setsockopt(fd, IPPROTO_TCP, TCP_CORK): 0, not run
  ],
  // recvfrom (flags: 4th argument) and recvmsg (3rd) with MSG_TRUNC | MSG_ERRQUEUE
  flagged: [
    { nr: 45, arg: 3, mask: 0x2020 },
    { nr: 47, arg: 2, mask: 0x2020 },
  ],
};
const TRAP_TAIL = "21521,35147,35078,35079 55:1:4,54:1:9,55:1:9,55:1:57,54:6:3:0 45:3:8224,47:2:8224";
const SOCKET_CONTROL_NRS = TRAPPED.nrs.join(",");

const spec: Spec = {
  process: { args: ["/bin/true"], cwd: "/", terminal: false },
  root: { path: "rootfs" },
  linux: {
    namespaces: [{ type: "mount" }],
    seccomp: { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["kexec_load"], action: "SCMP_ACT_ERRNO" }] },
  },
};
const base: PlanOptions = { mode: "create", rootfs: "/tmp/rootfs", noPivot: false, preserveFds: 0, bundle: "/tmp", cgroup: { version: 2 } };

describe("trapOptions", () => {
  it("derives the trapped numbers from the one list", () => {
    assert.deepEqual(trapOptions("seccomp", 5), { mode: "notify", fd: 5, ...TRAPPED });
    assert.deepEqual(trapOptions("ptrace", 5), { mode: "trace", ...TRAPPED });
    // Every socket control call but socket(2) itself, which stays the kernel's; ioctl by request;
    // epoll_create/epoll_create1 (noted, run by the kernel); io_uring_setup (refused); the recv
    // calls by their flags.
    assert.deepEqual(new Set([...TRAPPED_SOCKET_CALLS, "socket", "ioctl", "recvfrom", "recvmsg"]), new Set(Object.keys(SOCKET_SYSCALLS)));
  });

  it("the pass-through answers continue; both platforms are there", () => {
    assert.deepEqual(PassthroughDispatch({} as never, { nr: 41, args: [] }), { kind: "continue" });
    assert.equal(createPlatform("seccomp").name, "seccomp");
    assert.equal(createPlatform("ptrace").name, "ptrace");
  });
});

describe("gofer: the trap directive", () => {
  const lines = (opts: Partial<PlanOptions>, s: Spec = spec) => decodePlan(buildPlan(s, { ...base, ...opts })).map((d) => d.join(" "));

  it("create: after the config's seccomp profile, before terminal and preserve_fds", () => {
    const plan = lines({ preserveFds: 2, trap: trapOptions("seccomp", 7) });
    const trap = plan.indexOf(`trap notify 7 - ${SOCKET_CONTROL_NRS} ${TRAP_TAIL}`);
    assert.ok(trap > 0, plan.join("\n"));
    const lastSeccomp = plan.map((l, i) => (l.startsWith("seccomp_") ? i : -1)).reduce((a, b) => Math.max(a, b));
    assert.ok(lastSeccomp > 0 && lastSeccomp < trap, plan.join("\n"));
    assert.equal(plan[trap + 1], "preserve_fds 2");
    // Encoded as PLAN.md says: the empty fd of `trace` is %-.
    assert.match(buildPlan(spec, { ...base, trap: trapOptions("ptrace", 5) }), new RegExp(`^trap trace %- - ${SOCKET_CONTROL_NRS} ${TRAP_TAIL}$`, "m"));
  });

  it("exec mode carries it too; no trap option (--network host-kernel) means no line", () => {
    const exec = lines({ mode: "exec", joinNamespaces: { mnt: "/proc/1/ns/mnt" }, trap: trapOptions("seccomp", 5) });
    assert.ok(exec.includes(`trap notify 5 - ${SOCKET_CONTROL_NRS} ${TRAP_TAIL}`), exec.join("\n"));
    assert.ok(!lines({}).some((l) => l.startsWith("trap")));
    assert.ok(!planDirectives(spec, { ...base, mode: "exec" }).some((d) => d[0] === "trap"));
  });

  it("refuses what tsor-init would refuse, naming the field", () => {
    const bad = (trap: PlanOptions["trap"], preserveFds = 0) => () => buildPlan(spec, { ...base, preserveFds, trap });
    assert.throws(bad({ mode: "notify", fd: 6, socketNr: 41, nrs: [] }, 2), (e) => e instanceof PlanError && /trap\.fd.*7 or above/.test(e.message));
    assert.throws(bad({ mode: "notify", socketNr: 41, nrs: [] }), /trap\.fd/);
    assert.throws(bad({ mode: "trace", fd: 5, socketNr: 41, nrs: [] }), /trap\.fd.*no fd/);
    assert.throws(bad({ mode: "notify", fd: 5, socketNr: 41, nrs: [42, 41] }), /trap\.nrs/);
    assert.throws(bad({ mode: "notify", fd: 5, socketNr: -1, nrs: [] }), /trap\.socketNr/);
    assert.throws(bad({ mode: "notify", fd: 5, nrs: [42], passes: [{ nr: 55, arg1: 1, arg2: 4 }] }), /trap\.passes.*55, which nrs does not trap/);
    assert.throws(bad({ mode: "notify", fd: 5, nrs: [55], passes: [{ nr: 55, arg1: -1, arg2: 4 }] }), /trap\.passes.*bad pass/);
    assert.throws(bad({ mode: "notify", fd: 5, nrs: [47], flagged: [{ nr: 47, arg: 2, mask: 32 }] }), /trap\.flagged.*47 is trapped already/);
    assert.throws(bad({ mode: "notify", fd: 5, nrs: [], flagged: [{ nr: 47, arg: 6, mask: 32 }] }), /trap\.flagged.*arg 0\.\.5/);
    assert.throws(bad({ mode: "notify", fd: 5, nrs: [], flagged: [{ nr: 47, arg: 2, mask: 0 }] }), /trap\.flagged.*mask not 0/);
    // A pass without ioctls keeps IOCTLS's place with `-`; flagged calls alone keep both places.
    assert.match(buildPlan(spec, { ...base, trap: { mode: "notify", fd: 5, nrs: [55], passes: [{ nr: 55, arg1: 1, arg2: 4 }] } }), /^trap notify 5 - 55 - 55:1:4$/m);
    assert.match(buildPlan(spec, { ...base, trap: { mode: "notify", fd: 5, nrs: [55], flagged: [{ nr: 45, arg: 3, mask: 32 }] } }), /^trap notify 5 - 55 - - 45:3:32$/m);
  });
});

/** Runs tsor-init on a raw plan with nothing at fd 5+; returns its first sync line. */
async function initSays(plan: string): Promise<string> {
  const init = spawn(tsorInitPath(), [], { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"], env: {} });
  (init.stdio[4] as Writable).on("error", () => {}).end(plan);
  let text = "";
  const sync = init.stdio[3] as Readable;
  sync.setEncoding("utf8").on("data", (d: string) => (text += d));
  await new Promise((resolve) => init.on("exit", resolve));
  await new Promise((resolve) => (sync.readableEnded ? resolve(null) : sync.on("close", resolve)));
  return text.split("\n")[0]!;
}

describe("tsor-init: parsing `trap`", () => {
  const plan = (...trap: string[]) =>
    ["version 1", "mode create", "ns mount %-", "rootfs /tmp", "arg /bin/true", ...trap, "end", ""].join("\n");

  const cases: [string[], RegExp][] = [
    [["trap bogus 5 41 42"], /^error plan: line 6: trap: unknown mode bogus$/],
    [["trap trace 5 41 42"], /trap: mode trace takes no fd/],
    [["trap notify 5 41 42,41"], /trap: SOCKET_NR 41 in NRS/],
    [["trap notify 5 41 42,4x"], /trap: bad syscall number "4x"/],
    [["trap notify 5 41 42", "trap notify 5 41 42"], /trap given twice/],
    [["trap notify 4 41 42"], /trap: fd 4 is not above the preserved fds \(5\.\.\)/],
    [["preserve_fds 1", "trap notify 5 41 42"], /trap: fd 5 is not above the preserved fds \(6\.\.\)/],
    [["trap notify 5 41 %-", "trap notify"], /trap: 1 fields/],
    // A well-formed plan whose trap channel was not passed: fails before any side effect.
    [["trap notify 5 41 42"], /^error trap fd 5: fcntl: Bad file descriptor$/],
    // SOCKET_NR `-` (no call trapped by its arguments) parses; same failure for the missing fd.
    [["trap notify 5 - 42"], /^error trap fd 5: fcntl: Bad file descriptor$/],
    // IOCTLS: request numbers trapped by ioctl's second argument.
    [["trap notify 5 - 42 21521"], /^error trap fd 5: fcntl: Bad file descriptor$/],
    [["trap notify 5 - 42 21521,x"], /trap: bad ioctl request "x"/],
    [["trap notify 5 - 42 1,2,3,4,5,6,7,8,9"], /trap: more than 8 ioctl requests/],
    // PASS: NR:ARG1:ARG2 triples for calls of NRS; IOCTLS `-` for none.
    [["trap notify 5 - 42,55 - 55:1:4"], /^error trap fd 5: fcntl: Bad file descriptor$/],
    [["trap notify 5 - 42,55 21521 55:1:4,55:1:3"], /^error trap fd 5: fcntl: Bad file descriptor$/],
    [["trap notify 5 - 42 - 55:1:4"], /trap: pass for 55, which NRS does not trap/],
    [["trap notify 5 - 55 - 55:1"], /trap: bad pass "55:1" \(NR:ARG1:ARG2\[:0\]\)/],
    [["trap notify 5 - 54,55 - 54:6:3:0,55:1:4"], /^error trap fd 5: fcntl: Bad file descriptor$/],
    [["trap notify 5 - 54 - 54:6:3:1"], /trap: bad pass "54:6:3:1"/],
    [["trap notify 5 - 55 - 55:1:4x"], /trap: bad pass "55:1:4x"/],
    [["trap notify 5 - 55 - 55:1:4,55:1:4,55:1:4,55:1:4,55:1:4,55:1:4,55:1:4,55:1:4,55:1:4"], /trap: more than 8 passes/],
    // FLAGGED: NR:ARG:MASK for calls trapped only when ARG has a bit of MASK; PASS `-` for none.
    [["trap notify 5 - 42 - - 45:3:8224,47:2:8224"], /^error trap fd 5: fcntl: Bad file descriptor$/],
    [["trap notify 5 - 42 21521 55:1:4 45:3:32"], /trap: pass for 55, which NRS does not trap/],
    [["trap notify 5 - 42 - - 42:3:32"], /trap: flagged call 42 is trapped already/],
    [["trap notify 5 41 42 - - 41:3:32"], /trap: flagged call 41 is trapped already/],
    [["trap notify 5 - 42 - - 45:6:32"], /trap: bad flagged call "45:6:32" \(ARG 0\.\.5, MASK not 0\)/],
    [["trap notify 5 - 42 - - 45:3:0"], /trap: bad flagged call "45:3:0"/],
    [["trap notify 5 - 42 - - 45:3"], /trap: bad flagged call "45:3" \(NR:ARG:MASK\)/],
    [["trap notify 5 - 42 - - 45:3:32x"], /trap: bad flagged call "45:3:32x"/],
    [["trap notify 5 - 42 - - 45:3:1,45:3:1,45:3:1,45:3:1,45:3:1,45:3:1,45:3:1,45:3:1,45:3:1"], /trap: more than 8 flagged calls/],
    [["trap notify 5 - 42 - - 45:3:32 x"], /trap: 8 fields/],
  ];
  for (const [trap, expected] of cases) {
    it(trap.join(" / "), async () => assert.match(await initSays(plan(...trap)), expected));
  }
});
