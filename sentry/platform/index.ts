// The platforms by name (`--platform`), the dispatch the sentry hands them, and the trap filter
// the platform needs tsor-init to install (the plan's `trap` directive), derived from the one
// list of trapped syscalls in sentry/syscalls/numbers.ts.
import type { TrapOptions } from "../../gofer/plan.js";
import { FLAGGED_CALLS, SOCKET_SYSCALLS, TRAPPED_IOCTLS, TRAPPED_SOCKET_CALLS, UNTRAPPED_ARGS } from "../syscalls/numbers.js";
import { SeccompPlatform, type SeccompPlatformOptions } from "./seccomp.js";
import { PtracePlatform, type PtracePlatformOptions } from "./ptrace.js";
import type { Platform, PlatformName, SyscallHandler } from "./platform.js";
import { native, type FastSetsockoptApi } from "../../native/index.js";
import { createDispatcher } from "../syscalls/index.js";
import { fastSetsockoptRules } from "../syscalls/sys_sockopt.js";
import { SocketStack } from "../vsock/stack.js";
import type { StackLog, StackNetd } from "../vsock/stack.js";

export type { Platform, PlatformName, PlatformTarget, SyscallHandler } from "./platform.js";
export { PLATFORM_NAMES, SyscallError } from "./platform.js";

/** Every trapped call runs in the kernel as the app made it: the plain pass-through. */
export const PassthroughDispatch: SyscallHandler = () => ({ kind: "continue" });

/**
 * The dispatch the supervisor gives its platform: the syscall table over the container's own
 * SocketStack, whose kernel side (doorbells, scratch sockets) lives in the container's
 * network namespace; with the node's tsor-netd session (or one attached later), pod-to-pod.
 */
export function containerDispatch(
  pid: number,
  log?: StackLog,
  netd?: StackNetd,
  opts: { fastSetsockopt?: boolean } = {},
): { dispatch: SyscallHandler; stack: SocketStack } {
  const stack = new SocketStack({ netnsPath: `/proc/${pid}/ns/net`, log });
  if (netd) stack.attachNetd(netd);
  // The addon answers trivial setsockopts of connections itself (seccomp platform only: the
  // listener's loop sees them before JS does); one container per sentry, one set of marks.
  let fast: FastSetsockoptApi | undefined;
  if (opts.fastSetsockopt) {
    fast = native.fastSetsockopt;
    fast.configure(fastSetsockoptRules());
    stack.enableFastSetsockopt(fast);
  }
  return { dispatch: createDispatcher(stack, log, fast), stack };
}

/**
 * A new, unstarted platform. ptrace must start (seize) before anyone else waits for the
 * container's first process: as its tracer it reaps it and reports the exit to `opts.onExit`.
 */
export function createPlatform(name: PlatformName, opts: SeccompPlatformOptions & PtracePlatformOptions = {}): Platform {
  switch (name) {
    case "seccomp":
      return new SeccompPlatform(opts);
    case "ptrace":
      return new PtracePlatform(opts);
  }
}

/**
 * The `trap` directive a platform needs: seccomp notifies (listener over the trap channel at
 * tsor-init's fd `fd`), ptrace traces. ioctl traps by its request, recvfrom/recvmsg by their
 * flags, the rest always.
 */
export function trapOptions(platform: PlatformName, fd: number): TrapOptions {
  const calls = {
    nrs: TRAPPED_SOCKET_CALLS.map((n) => SOCKET_SYSCALLS[n]),
    ioctls: Object.values(TRAPPED_IOCTLS),
    passes: UNTRAPPED_ARGS.map((p) => ({ nr: SOCKET_SYSCALLS[p.call], arg1: p.arg1, arg2: p.arg2, ...(p.zero ? { zero: true } : {}) })),
    flagged: FLAGGED_CALLS.map((f) => ({ nr: SOCKET_SYSCALLS[f.call], arg: f.arg, mask: f.mask })),
  };
  return platform === "seccomp" ? { mode: "notify", fd, ...calls } : { mode: "trace", ...calls };
}
