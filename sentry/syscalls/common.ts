// What every socket handler shares: the handler signature, the outcomes, and finding the vsocket
// behind an app fd (pidfd_getfd + fstat: the inode of the app's end is the vsocket's identity).
import { native, NativeError } from "../../native/index.js";
import { SyscallError, type Outcome, type Task } from "../platform/platform.js";
import { fdinfoFlags } from "../vsock/kernel.js";
import type { SocketStack } from "../vsock/stack.js";
import type { VirtualSocket } from "../vsock/vsocket.js";
import type { InetFamily } from "../vsock/address.js";
import { E, O_CLOEXEC, O_NONBLOCK, SIZEOF_TIMEVAL, SOL_SOCKET, SO_RCVTIMEO, argInt } from "./linux.js";

/** Every handler of the table: the container's stack, the trapping task, the raw arguments. */
export type SocketHandler = (stack: SocketStack, task: Task, args: readonly bigint[]) => Outcome | Promise<Outcome>;

export const CONTINUE: Outcome = { kind: "continue" };

export function ret(value: number | bigint): Outcome {
  return { kind: "return", value };
}

export function fail(errno: number): Outcome {
  return { kind: "errno", errno };
}

/** The answer for a call whose task stopped waiting (a signal): the platform drops it anyway. */
export const INTERRUPTED: Outcome = { kind: "errno", errno: E.EINTR };

/** The task's fd `fd`, the sentry's duplicate `dup`, its inode, and the vsocket behind it if any. */
export interface FdRef {
  readonly vs: VirtualSocket | undefined;
  readonly fd: number;
  readonly dup: number;
  readonly ino: bigint;
}

/**
 * Runs `fn` on the task's fd `fdArg` whatever it is (a vsocket or not: a UDP, AF_UNIX or kernel
 * socket, or no socket at all), then closes the sentry's duplicate: at once for a synchronous
 * `fn`, once its promise settles for one that holds the call. A bad fd throws EBADF
 * (Task.getFd), as fdget does first in every socket call.
 */
export function withFd<R>(stack: SocketStack, task: Task, fdArg: bigint, fn: (ref: FdRef) => R): R {
  const fd = argInt(fdArg);
  if (fd < 0) throw new SyscallError(E.EBADF, `fd ${fd}`);
  const dup = task.getFd(fd);
  let held = false;
  try {
    const ino = native.fstatIno(dup).ino;
    const r = fn({ vs: stack.find(ino), fd, dup, ino });
    if (r instanceof Promise) {
      held = true;
      return r.finally(() => native.closeFd(dup)) as R;
    }
    return r;
  } finally {
    if (!held) native.closeFd(dup);
  }
}

/**
 * The family of `dup` if it is an AF_INET/AF_INET6 TCP socket, else null (another kind of
 * socket, or not a socket: the kernel answers, ENOTSOCK included).
 */
export function kernelTcpSocket(dup: number): InetFamily | null {
  return (native.inspectTcp(dup)?.domain as InetFamily | undefined) ?? null;
}

/**
 * Runs a syscall the sentry makes on the app's behalf on its duplicate (listen, setsockopt): the
 * kernel's refusal (EADDRINUSE, EINVAL...) is the app's answer, not a sentry failure to log.
 */
export function asApp<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NativeError) throw new SyscallError(e.errno, e.message);
    throw e;
  }
}

/** The vsocket behind the task's fd, for handlers that need no duplicate of it. */
export function vsocketOf(stack: SocketStack, task: Task, fdArg: bigint): VirtualSocket | null {
  return withFd(stack, task, fdArg, ({ vs }) => vs ?? null);
}

/** O_NONBLOCK of the open file behind our duplicate (shared with the app's fd: fcntl is not trapped). */
export function isNonblocking(dup: number): boolean {
  return (native.getFileFlags(dup) & O_NONBLOCK) !== 0;
}

/**
 * SO_RCVTIMEO of the socket behind `dup` (sock_rcvtimeo: a blocking accept or receive gives up
 * with EAGAIN after it), in ms; 0 for none.
 */
export function receiveTimeoutMs(dup: number): number {
  const tv = native.getsockoptBuf(dup, SOL_SOCKET, SO_RCVTIMEO, SIZEOF_TIMEVAL);
  if (tv.length < SIZEOF_TIMEVAL) return 0;
  const ms = Number(tv.readBigInt64LE(0)) * 1000 + Number(tv.readBigInt64LE(8)) / 1000;
  return ms > 0 ? Math.max(1, Math.ceil(ms)) : 0;
}

/** FD_CLOEXEC of the task's fd (fdinfo shows it as O_CLOEXEC); false if unreadable. */
export function isCloexec(task: Task, fd: number): boolean {
  return ((fdinfoFlags(task.tgid, fd) ?? 0) & O_CLOEXEC) !== 0;
}
