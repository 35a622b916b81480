// The seccomp platform end to end, without the CLI: this test plays the sentry. It spawns
// tsor-init with a plan built by the gofer (busybox bundle + the static fixtures/trap_probe.c,
// `trap notify` at fd 5), speaks the sync protocol, and serves the app's trapped calls with a
// SeccompPlatform whose dispatch answers each kind of Outcome. The fixture prints what it saw.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { constants as osConstants } from "node:os";
import * as os from "node:os";
import * as path from "node:path";
import type { Duplex, Readable, Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { encodeField } from "../../gofer/encode.js";
import { buildPlan } from "../../gofer/plan.js";
import { native } from "../../native/index.js";
import { tsorInitPath } from "../../sentry/launch.js";
import type { Outcome, SyscallHandler } from "../../sentry/platform/platform.js";
import { PassthroughDispatch, trapOptions } from "../../sentry/platform/index.js";
import { SeccompPlatform } from "../../sentry/platform/seccomp.js";
import { SyncChannel } from "../../sentry/sync.js";
import { SOCKET_SYSCALLS as NR } from "../../sentry/syscalls/numbers.js";
import { makeBusyboxBundle, repoRoot } from "../lib/bundle.js";

const { EAGAIN, EFAULT, EBADF, EIO, EOPNOTSUPP } = osConstants.errno;
const c = () => native.constants;
const HELD_FD = 4242n;
const RELEASE_FD = 4243n;
const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_ERROR = 4;
const SO_DOMAIN = 39;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const MSG_ERRQUEUE = 0x2000;
const isRoot = process.getuid?.() === 0;

interface Run {
  out: string;
  exit: { code: number | null; signal: number | null };
  errors: string[];
}

/** tsor-init + the fixture under `dispatch`; resolves once the app exited and the platform is done. */
async function runProbe(bundle: string, dispatch: SyscallHandler): Promise<Run> {
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8"));
  const plan = buildPlan(spec, {
    mode: "create",
    rootfs: path.join(bundle, "rootfs"),
    bundle,
    noPivot: false,
    preserveFds: 0,
    // The sentry no longer traps socket(2), but tsor-init's filter still can (SOCKET_NR): the
    // probe checks that it traps TCP sockets only, by their arguments.
    trap: { ...trapOptions("seccomp", 5), socketNr: 41 },
  });
  const [ours, theirs] = native.socketpair();
  const init = spawn(tsorInitPath(), [], { stdio: ["ignore", "pipe", "inherit", "pipe", "pipe", theirs], env: {} });
  native.closeFd(theirs);
  (init.stdio[4] as Writable).end(plan);
  let out = "";
  (init.stdout as Readable).setEncoding("utf8").on("data", (d: string) => (out += d));
  const outDone = new Promise<void>((resolve) => (init.stdout as Readable).on("close", resolve));

  const sync = new SyncChannel(init.stdio[3] as Duplex);
  const errors: string[] = [];
  const log = { debug() {}, warn() {}, error: (o: object, msg?: string) => errors.push(`${msg} ${JSON.stringify(o)}`) };
  const platform = new SeccompPlatform({ log: log as never });
  try {
    await sync.expect("hello");
    sync.send("cgroup");
    const pid = Number(await sync.expect("pid"));
    const exited = new Promise<Run["exit"]>((resolve) => native.waitPid(pid, (st) => resolve({ code: st.code, signal: st.signal })));
    await sync.expect("createRuntime");
    const state = encodeField(JSON.stringify({ ociVersion: "1.2.0", id: "trap-test", status: "creating", pid, bundle }));
    sync.send(`ok ${state}`);
    await sync.expect("ready");
    platform.start({ pid, trapChannel: ours }, dispatch);
    sync.send(`start ${state}`);
    await sync.expectEof();
    const exit = await exited;
    await outDone;
    await platform.done;
    return { out, exit, errors };
  } finally {
    platform.stop();
    sync.close();
  }
}

/** `NAME=VALUE` lines of the fixture's output. */
function results(out: string): Map<string, string> {
  return new Map(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

describe("SeccompPlatform with tsor-init's trap filter", { skip: !isRoot && "needs root (namespaces, mounts)" }, () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-trap-"));
    makeBusyboxBundle(dir, ["/bin/trap_probe"]);
    const src = path.join(repoRoot(), "test", "unit", "fixtures", "trap_probe.c");
    execFileSync("cc", ["-static", "-O1", "-Wall", "-pthread", "-o", path.join(dir, "rootfs", "bin", "trap_probe"), src], {
      stdio: ["ignore", "inherit", "inherit"],
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("traps TCP socket() only, and every Outcome reaches the app", async () => {
    const calls: { nr: number; args: readonly bigint[]; tid: number; tgid?: number }[] = [];
    const mine: number[] = [];
    let release: ((o: Outcome) => void) | undefined;
    let acceptArrived!: () => void;
    const acceptSeen = new Promise<void>((resolve) => (acceptArrived = resolve));
    let held: { tid: number; tgid: number } | undefined;
    let pending: boolean[] = [];

    const dispatch: SyscallHandler = (task, call) => {
      calls.push({ nr: call.nr, args: call.args, tid: task.tid });
      const [a0, a1, a2] = call.args;
      switch (call.nr) {
        case NR.socket:
          if (a0 === BigInt(c().AF_INET)) {
            const [ourEnd, appEnd] = native.socketpair();
            mine.push(ourEnd);
            return { kind: "installFd", fd: appEnd, cloexec: (a1! & BigInt(c().SOCK_CLOEXEC)) !== 0n };
          }
          return { kind: "continue" };
        case NR.getsockname: {
          const len = task.readMemory(a2!, 4).readUInt32LE(0);
          const sin = Buffer.alloc(16);
          sin.writeUInt16LE(c().AF_INET, 0);
          sin.writeUInt16BE(4321, 2);
          task.writeMemory(a1!, sin.subarray(0, Math.min(len, 16)));
          const newLen = Buffer.alloc(4);
          newLen.writeUInt32LE(16);
          task.writeMemory(a2!, newLen);
          pending.push(task.stillPending());
          return { kind: "return", value: 0 };
        }
        case NR.getpeername: {
          calls[calls.length - 1]!.tgid = task.tgid;
          const fd = task.getFd(Number(a0));
          try {
            return { kind: "return", value: native.getsockoptInt(fd, SOL_SOCKET, SO_TYPE) };
          } finally {
            native.closeFd(fd);
          }
        }
        case NR.listen: {
          const tcp = native.socketInNetns(`/proc/${task.tid}/ns/net`, c().AF_INET, c().SOCK_STREAM, 0);
          native.listen(tcp, 5);
          return { kind: "replaceFd", fd: tcp, targetFd: Number(a0), cloexec: false, value: 0, errno: 0 };
        }
        case NR.setsockopt:
          if (a1 === 999n) throw new Error("boom (a handler bug)");
          return { kind: "continue" };
        case NR.accept:
          if (a0 !== HELD_FD) return { kind: "continue" };
          held = { tid: task.tid, tgid: task.tgid };
          acceptArrived();
          return new Promise<Outcome>((resolve) => (release = resolve));
        case NR.bind:
          if (a0 !== RELEASE_FD) return { kind: "continue" };
          // Held too, until the other thread's accept is in: both wait at once.
          return acceptSeen.then((): Outcome => {
            release!({ kind: "return", value: 7 });
            return { kind: "return", value: 0 };
          });
        default:
          return { kind: "continue" };
      }
    };

    const run = await runProbe(dir, dispatch);
    const r = results(run.out);
    assert.deepEqual(run.exit, { code: 0, signal: null }, run.out);
    assert.match(run.out, /^done$/m);
    assert.equal(r.get("openfds"), "", "no sentry fd (trap channel, sync socket) reaches the app");

    // socket(): exactly the two TCP calls notified, not UDP, AF_UNIX or SCTP.
    const sockets = calls.filter((x) => x.nr === NR.socket);
    assert.deepEqual(
      sockets.map((x) => [x.args[0], x.args[1], x.args[2]]),
      [
        [BigInt(c().AF_INET), BigInt(c().SOCK_STREAM), 0n],
        [BigInt(c().AF_INET6), BigInt(c().SOCK_STREAM | c().SOCK_NONBLOCK | c().SOCK_CLOEXEC), 6n],
      ],
    );
    assert.equal(r.get("udp"), "0");
    assert.equal(r.get("unix"), "0");

    // installFd: a usable fd, without CLOEXEC (the app did not ask for it).
    assert.match(r.get("tcp4")!, /^\d+$/);
    assert.equal(r.get("tcp4_cloexec"), "0");
    assert.equal(r.get("tcp4_write"), "4");
    const got = await new Promise<Buffer>((resolve, reject) =>
      native.recvFds(mine[0]!, 16, 0, (err, res) => (err ? reject(err) : resolve(res.data))),
    );
    assert.equal(got.toString(), "ping");

    // continue: the kernel made a real AF_INET6 socket (its getsockopt was continued too).
    assert.equal(r.get("tcp6"), "0");
    assert.equal(r.get("tcp6_domain"), String(c().AF_INET6));
    // getsockopt(SOL_SOCKET, SO_ERROR) never reached the sentry (the filter's pass); SO_DOMAIN did.
    assert.equal(r.get("tcp6_so_error_call"), "0");
    assert.equal(r.get("tcp6_so_error"), "0");
    const getsockopts = calls.filter((x) => x.nr === NR.getsockopt).map((x) => Number(x.args[2]));
    assert.ok(getsockopts.includes(SO_DOMAIN), `SO_DOMAIN trapped: ${getsockopts}`);
    assert.ok(!getsockopts.includes(SO_ERROR), `SO_ERROR not trapped: ${getsockopts}`);
    // setsockopt(TCP_CORK): 0 from the filter, never seen by the sentry, and not run.
    assert.equal(r.get("tcp6_cork_set"), "0");
    assert.equal(r.get("tcp6_cork"), "0");
    assert.ok(!calls.some((x) => x.nr === NR.setsockopt && x.args[1] === 6n && x.args[2] === 3n), "TCP_CORK set not trapped");

    // recvfrom/recvmsg: trapped only with MSG_TRUNC or MSG_ERRQUEUE in their flags, continued.
    for (const k of ["udp_recv_plain", "udp_recv_trunc", "udp_recvmsg_errqueue", "udp_recvmsg_plain"]) assert.equal(r.get(k), `-1 errno=${EAGAIN}`, k);
    const recvs = calls.filter((x) => x.nr === NR.recvfrom || x.nr === NR.recvmsg).map((x) => [x.nr, Number(x.nr === NR.recvfrom ? x.args[3] : x.args[2])]);
    assert.deepEqual(recvs, [
      [NR.recvfrom, MSG_DONTWAIT | MSG_TRUNC],
      [NR.recvmsg, MSG_DONTWAIT | MSG_ERRQUEUE],
    ]);

    // return + readMemory/writeMemory; a bad pointer is EFAULT for the app.
    assert.equal(r.get("getsockname"), "0");
    assert.equal(r.get("getsockname_port"), "4321");
    assert.equal(r.get("getsockname_len"), "16");
    assert.deepEqual(pending, [true], "stillPending during the first getsockname; the bad one threw before");
    assert.equal(r.get("getsockname_efault"), `-1 errno=${EFAULT}`);

    // getFd: the app's UDP socket seen from the sentry; a missing fd is EBADF.
    assert.equal(r.get("getpeername_udp"), String(c().SOCK_DGRAM));
    assert.equal(r.get("getpeername_badfd"), `-1 errno=${EBADF}`);
    const peer = calls.find((x) => x.nr === NR.getpeername)!;
    assert.equal(peer.tgid, peer.tid, "main thread: tgid == tid");

    // replaceFd: the UDP fd became the sentry's listening TCP socket, and listen() answered 0.
    assert.equal(r.get("listen_replaced"), "0");
    assert.equal(r.get("replaced_type"), String(c().SOCK_STREAM));
    assert.equal(r.get("replaced_acceptconn"), "1");

    // A handler bug: EIO for the app, logged, the sentry goes on.
    assert.equal(r.get("setsockopt_eio"), `-1 errno=${EIO}`);
    assert.ok(run.errors.some((e) => e.includes("boom")), run.errors.join("\n"));
    assert.equal(run.errors.length, 1, run.errors.join("\n"));

    // A held call did not block the other thread's bind, which released it.
    assert.equal(r.get("release"), "0");
    assert.equal(r.get("held_accept"), "7");
    assert.ok(held);
    assert.notEqual(held.tid, peer.tid, "accept came from the second thread");
    assert.equal(held.tgid, peer.tid, "its tgid is the process");

    for (const fd of mine) native.closeFd(fd);
  });

  it("with the pass-through dispatch the app runs as on the plain kernel", async () => {
    const run = await runProbe(dir, PassthroughDispatch);
    const r = results(run.out);
    assert.deepEqual(run.exit, { code: 0, signal: null }, run.out);
    assert.equal(run.errors.length, 0, run.errors.join("\n"));
    assert.equal(r.get("tcp6_domain"), String(c().AF_INET6));
    // A real AF_INET socket: getsockname works (port 0, unbound), the unknown level is refused
    // by the kernel itself, and listen on UDP is EOPNOTSUPP.
    assert.equal(r.get("getsockname"), "0");
    assert.equal(r.get("getsockname_port"), "0");
    assert.equal(r.get("getpeername_badfd"), `-1 errno=${EBADF}`);
    assert.equal(r.get("listen_replaced"), `-1 errno=${EOPNOTSUPP}`);
    assert.equal(r.get("held_accept"), `-1 errno=${EBADF}`);
    assert.equal(r.get("release"), `-1 errno=${EBADF}`);
  });

  it("a failed create (the app never runs) ends the platform without a listener", async () => {
    const platform = new SeccompPlatform();
    const [ours, theirs] = native.socketpair();
    platform.start({ pid: 0, trapChannel: ours }, () => assert.fail("no calls"));
    native.closeFd(theirs);
    await platform.done;
    platform.stop();
  });
});
