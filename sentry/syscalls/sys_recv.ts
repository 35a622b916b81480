// recvfrom(2) and recvmsg(2) with the flags TCP gives a meaning an AF_UNIX stream does not
// (numbers.ts FLAGGED_CALLS: the filter traps only these; every other receive stays in the
// kernel). On a connection's socketpair end the sentry answers as tcp_recvmsg would:
// MSG_ERRQUEUE reads the error queue, which a connection never fills (EAGAIN), and MSG_TRUNC
// discards the bytes without copying them (so a NULL buffer is fine: HAProxy drains
// connections so). On any other fd (UDP, a kernel TCP socket, a listener) the kernel runs the
// call as the app made it.
import { native } from "../../native/index.js";
import { SyscallError, type Task } from "../platform/platform.js";
import { CONTINUE, asApp, fail, isNonblocking, receiveTimeoutMs, ret, withFd, type FdRef, type SocketHandler } from "./common.js";
import {
  E,
  MAX_RW_COUNT,
  MSG_CMSG_CLOEXEC,
  MSG_DONTWAIT,
  MSG_ERRQUEUE,
  MSG_OOB,
  MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL,
  SIZEOF_IOVEC,
  SIZEOF_MSGHDR,
  UIO_MAXIOV,
  argInt,
} from "./linux.js";
import { moveAddrToUser } from "./sockaddr.js";

/** How often a held receive checks that its call is still pending (a signal ends it silently). */
const HELD_RECV_SWEEP_MS = 200;
/** TASK_SIZE_MAX on x86_64 (4-level paging): access_ok refuses a range reaching past it. */
const TASK_SIZE_MAX = (1n << 47n) - 4096n;

/**
 * A connection's socketpair end: a vsocket that is not a listener (as sys_ioctl.ts tells them; a
 * vsocket is keyed by its file's inode, so a fd replaced by a kernel socket is not one).
 */
function isConnectionEnd(ref: FdRef): boolean {
  return ref.vs !== undefined && ref.vs.isConnection;
}

/** import_ubuf / import_iovec: the length is cut to MAX_RW_COUNT, the range must be user space. */
function userRange(base: bigint, len: bigint): number {
  const n = len > BigInt(MAX_RW_COUNT) ? BigInt(MAX_RW_COUNT) : len;
  if (base + n > TASK_SIZE_MAX) throw new SyscallError(E.EFAULT, "buffer past user space");
  return Number(n);
}

type Waited = "readable" | "timeout" | "interrupted";

/**
 * Waits until the end is readable (data, EOF or an error), `deadline` passes (ms since the
 * epoch, 0: none), or the call stops being pending (a signal: the kernel restarts or fails it).
 */
function waitReadable(dup: number, task: Task, deadline: number): Promise<Waited> {
  return new Promise((resolve) => {
    const watcher = new native.ReadableWatcher(dup);
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const done = (w: Waited) => {
      if (settled) return;
      settled = true;
      watcher.stop();
      for (const t of timers) clearTimeout(t);
      resolve(w);
    };
    watcher.start(() => done("readable"));
    timers.push(setInterval(() => task.stillPending() || done("interrupted"), HELD_RECV_SWEEP_MS));
    if (deadline) timers.push(setTimeout(() => done("timeout"), Math.max(0, deadline - Date.now())));
  });
}

/**
 * tcp_recvmsg_locked with MSG_TRUNC: up to `len` bytes go unseen (with MSG_PEEK only counted).
 * Waits as a blocking receive does (O_NONBLOCK and MSG_DONTWAIT not set) for the first byte, or
 * with MSG_WAITALL for all `len`; EOF ends it; SO_RCVTIMEO gives up with what it has (EAGAIN if
 * nothing). A signal while it waits ends the call for the kernel to restart or fail: bytes a
 * MSG_WAITALL discard took before are gone unreported (TCP would return their count).
 */
async function discard(task: Task, dup: number, len: number, flags: number): Promise<number> {
  const peek = (flags & MSG_PEEK) !== 0;
  const waitAll = (flags & MSG_WAITALL) !== 0 && !peek;
  const nonblocking = (flags & MSG_DONTWAIT) !== 0 || isNonblocking(dup);
  let total = 0;
  let deadline: number | undefined;
  for (;;) {
    const n = asApp(() => native.discardNow(dup, len - total, peek));
    if (n === 0) return total; // EOF (or len 0 with data waiting)
    if (n > 0) {
      total += n;
      if (total >= len || !waitAll) return total;
    }
    // Nothing (more) waits.
    if (nonblocking) return orAgain(total);
    if (deadline === undefined) {
      const ms = receiveTimeoutMs(dup);
      deadline = ms ? Date.now() + ms : 0;
    }
    const w = await waitReadable(dup, task, deadline);
    if (w === "interrupted" || !task.stillPending()) throw new SyscallError(E.EINTR, "receive interrupted");
    if (w === "timeout") return orAgain(total);
  }
}

/** What a receive that cannot wait answers: the bytes it took, else EAGAIN. */
function orAgain(total: number): number {
  if (total > 0) return total;
  throw new SyscallError(E.EAGAIN, "nothing to receive");
}

/**
 * implements recvfrom(2) with MSG_TRUNC or MSG_ERRQUEUE on a connection (net/socket.c
 * __sys_recvfrom, net/ipv4/tcp.c tcp_recvmsg). TCP names no sender: a non-NULL src_addr gets
 * length 0 (move_addr_to_user), after the bytes went.
 */
export const sysRecvfrom: SocketHandler = (stack, task, args) =>
  withFd(stack, task, args[0], async (ref) => {
    if (!isConnectionEnd(ref)) return CONTINUE;
    const flags = argInt(args[3]);
    if (flags & MSG_OOB) return CONTINUE; // urgent data: the socketpair's own answer, as before
    const len = userRange(args[1], args[2]);
    // inet_recv_error: the error queue holds nothing, whether or not data waits.
    if (flags & MSG_ERRQUEUE) return fail(E.EAGAIN);
    const n = await discard(task, ref.dup, len, flags);
    if (args[4] !== 0n) moveAddrToUser(task, args[4], args[5], Buffer.alloc(0));
    return ret(n);
  });

/** struct msghdr's fields the kernel reads and writes back (x86_64 offsets). */
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_CONTROLLEN = 40;
const MSG_FLAGS = 48;

/**
 * The bytes an msghdr asks for (copy_msghdr_from_user, import_iovec): EFAULT for an unreadable
 * msghdr or iovec array, EINVAL for a negative namelen or iov_len, EMSGSIZE for more than
 * UIO_MAXIOV iovecs; each length is cut so the total stays within MAX_RW_COUNT.
 */
function msghdrLength(task: Task, msg: Buffer): number {
  const name = msg.readBigUInt64LE(MSG_NAME);
  if (name !== 0n && msg.readInt32LE(MSG_NAMELEN) < 0) throw new SyscallError(E.EINVAL, "negative msg_namelen");
  const iovlen = msg.readBigUInt64LE(MSG_IOVLEN);
  if (iovlen > BigInt(UIO_MAXIOV)) throw new SyscallError(E.EMSGSIZE, "msg_iovlen over UIO_MAXIOV");
  if (iovlen === 0n) return 0;
  const iov = task.readMemory(msg.readBigUInt64LE(MSG_IOV), Number(iovlen) * SIZEOF_IOVEC);
  let total = 0;
  for (let i = 0; i < Number(iovlen); i++) {
    const base = iov.readBigUInt64LE(i * SIZEOF_IOVEC);
    const len = iov.readBigInt64LE(i * SIZEOF_IOVEC + 8);
    if (len < 0n) throw new SyscallError(E.EINVAL, "negative iov_len");
    const room = BigInt(MAX_RW_COUNT - total);
    total += userRange(base, len > room ? room : len);
  }
  return total;
}

/**
 * implements recvmsg(2) with MSG_TRUNC or MSG_ERRQUEUE on a connection (net/socket.c
 * ____sys_recvmsg, tcp_recvmsg): afterwards msg_namelen is 0 (if msg_name was given), msg_flags
 * holds MSG_CMSG_CLOEXEC as asked (TCP adds none) and msg_controllen is 0 (no ancillary data).
 */
export const sysRecvmsg: SocketHandler = (stack, task, args) =>
  withFd(stack, task, args[0], async (ref) => {
    if (!isConnectionEnd(ref)) return CONTINUE;
    const flags = argInt(args[2]);
    if (flags & MSG_OOB) return CONTINUE;
    const msg = task.readMemory(args[1], SIZEOF_MSGHDR);
    const len = msghdrLength(task, msg);
    if (flags & MSG_ERRQUEUE) return fail(E.EAGAIN);
    const n = await discard(task, ref.dup, len, flags);
    if (msg.readBigUInt64LE(MSG_NAME) !== 0n) moveAddrToUser(task, 0n, args[1] + BigInt(MSG_NAMELEN), Buffer.alloc(0));
    const out = Buffer.alloc(4);
    out.writeInt32LE(flags & MSG_CMSG_CLOEXEC, 0);
    task.writeMemory(args[1] + BigInt(MSG_FLAGS), out);
    task.writeMemory(args[1] + BigInt(MSG_CONTROLLEN), Buffer.alloc(8));
    return ret(n);
  });
