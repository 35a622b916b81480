// What every socket handler shares: the handler signature, the outcomes, and finding the vsocket
// behind an app fd (pidfd_getfd + fstat: the inode of the app's end is the vsocket's identity).
import { native, NativeError } from "../../native/index.js";
import { SyscallError, type Outcome, type Task } from "../platform/platform.js";
import { fdinfoFlags } from "../vsock/kernel.js";
import type { SocketStack } from "../vsock/stack.js";
import type { VirtualSocket } from "../vsock/vsocket.js";
import { AF_INET, AF_INET6, type InetFamily } from "../vsock/address.js";
import { E, IPPROTO_TCP, O_CLOEXEC, O_NONBLOCK, SOL_SOCKET, SO_DOMAIN, SO_PROTOCOL, argInt } from "./linux.js";

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

/** A vsocket found behind an app fd, with the sentry's duplicate of that fd (close it with `done`). */
export interface FdRef {
  readonly vs: VirtualSocket;
  readonly fd: number;
  readonly dup: number;
  done(): void;
}

/**
 * The vsocket behind the task's fd `args[0]`, or null if it is not one (a UDP, AF_UNIX or kernel
 * socket, or not a socket at all: the kernel answers, ENOTSOCK included). A bad fd throws EBADF
 * (Task.getFd), as fdget does first in every socket call.
 */
export function lookupFd(stack: SocketStack, task: Task, fdArg: bigint): FdRef | null {
  const fd = argInt(fdArg);
  if (fd < 0) throw new SyscallError(E.EBADF, `fd ${fd}`);
  const dup = task.getFd(fd);
  let vs: VirtualSocket | undefined;
  try {
    vs = stack.find(native.fstatIno(dup).ino);
  } catch (e) {
    native.closeFd(dup);
    throw e;
  }
  if (!vs) {
    native.closeFd(dup);
    return null;
  }
  let open = true;
  return {
    vs,
    fd,
    dup,
    done: () => {
      if (open) native.closeFd(dup);
      open = false;
    },
  };
}

/** The task's fd `fd`, the sentry's duplicate `dup`, its inode, and the vsocket behind it if any. */
export interface AnyFdRef {
  readonly vs: VirtualSocket | undefined;
  readonly fd: number;
  readonly dup: number;
  readonly ino: bigint;
}

/**
 * Runs `fn` on the task's fd `fdArg` whatever it is (a vsocket or not), closing the sentry's
 * duplicate after (also when `fn` holds the call). A bad fd throws EBADF (Task.getFd).
 */
export async function withFd(stack: SocketStack, task: Task, fdArg: bigint, fn: (ref: AnyFdRef) => Outcome | Promise<Outcome>): Promise<Outcome> {
  const fd = argInt(fdArg);
  if (fd < 0) throw new SyscallError(E.EBADF, `fd ${fd}`);
  const dup = task.getFd(fd);
  try {
    const ino = native.fstatIno(dup).ino;
    return await fn({ vs: stack.find(ino), fd, dup, ino });
  } finally {
    native.closeFd(dup);
  }
}

/**
 * The family of `dup` if it is an AF_INET/AF_INET6 TCP socket, else null (another kind of
 * socket, or not a socket: the kernel answers, ENOTSOCK included).
 */
export function kernelTcpSocket(dup: number): InetFamily | null {
  let proto: number;
  try {
    proto = native.getsockoptInt(dup, SOL_SOCKET, SO_PROTOCOL);
  } catch {
    return null;
  }
  if (proto !== IPPROTO_TCP) return null;
  const domain = native.getsockoptInt(dup, SOL_SOCKET, SO_DOMAIN);
  return domain === AF_INET || domain === AF_INET6 ? domain : null;
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

/** The vsocket behind the task's fd, for handlers that need no duplicate of it (lookupFd, dup closed). */
export function vsocketOf(stack: SocketStack, task: Task, fdArg: bigint): VirtualSocket | null {
  const ref = lookupFd(stack, task, fdArg);
  ref?.done();
  return ref?.vs ?? null;
}

/** O_NONBLOCK of the open file behind our duplicate (shared with the app's fd: fcntl is not trapped). */
export function isNonblocking(dup: number): boolean {
  return (native.getFileFlags(dup) & O_NONBLOCK) !== 0;
}

/** FD_CLOEXEC of the task's fd (fdinfo shows it as O_CLOEXEC); false if unreadable. */
export function isCloexec(task: Task, fd: number): boolean {
  return ((fdinfoFlags(task.tgid, fd) ?? 0) & O_CLOEXEC) !== 0;
}
