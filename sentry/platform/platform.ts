// How trapped syscalls reach the sentry: one interface, one sibling file per platform
// (seccomp.ts: seccomp user notification, the default; ptrace.ts: SECCOMP_RET_TRACE + ptrace).
// Handlers (sentry/syscalls/) see only `Task` and return an `Outcome`; they never know which
// platform delivered the call (gVisor's platform.Platform seam plays the same role).

/** The platforms `--platform` accepts. */
export const PLATFORM_NAMES = ["seccomp", "ptrace"] as const;
export type PlatformName = (typeof PLATFORM_NAMES)[number];

/** A failure a handler reports to the app as -errno (never a sentry crash). */
export class SyscallError extends Error {
  constructor(
    readonly errno: number,
    message?: string,
  ) {
    super(message ?? `errno ${errno}`);
    this.name = "SyscallError";
  }
}

/** One trapped syscall, as the platform received it. */
export interface TrappedSyscall {
  /** Syscall number (x86_64 numbering). */
  readonly nr: number;
  /** The six raw arguments. */
  readonly args: readonly bigint[];
}

/** The trapping thread, as a handler may act on it while the syscall is held. */
export interface Task {
  /** Thread id (in the sentry's pid namespace). */
  readonly tid: number;
  /** Thread-group id (the process), for per-process fd lookups. */
  readonly tgid: number;
  /** Read `len` bytes of the task's memory; throws SyscallError(EFAULT) for a bad pointer. */
  readMemory(addr: bigint, len: number): Buffer;
  /** Write into the task's memory; throws SyscallError(EFAULT) for a bad pointer. */
  writeMemory(addr: bigint, data: Buffer): void;
  /**
   * A duplicate, in the sentry, of the task's fd `fd` (pidfd_getfd); the caller closes it.
   * Throws SyscallError(EBADF) if the task has no such fd.
   */
  getFd(fd: number): number;
  /**
   * True while the syscall is still pending. seccomp: NOTIF_ID_VALID, which also guards against
   * the task having changed the memory we read (TOCTOU, seccomp_unotify(2)); a signal that
   * interrupted a held call makes it false (the kernel restarts or fails the call itself).
   */
  stillPending(): boolean;
}

/** What to do with a trapped syscall. */
export type Outcome =
  /** Return `value` (>= 0) from the syscall. */
  | { kind: "return"; value: number | bigint }
  /** Fail the syscall with -errno. */
  | { kind: "errno"; errno: number }
  /** Not ours (a UDP socket, a kernel socket): let the kernel run the syscall as the app made it. */
  | { kind: "continue" }
  /** Install our fd `fd` in the task as a new fd and return its number from the syscall (atomic: seccomp ADDFD_FLAG_SEND). */
  | { kind: "installFd"; fd: number; cloexec: boolean }
  /**
   * Put our fd `fd` at the task's fd number `targetFd` (dup2-like: SETFD, the old file there is
   * closed), then answer the syscall with `value` (>= 0) or -`errno`.
   */
  | { kind: "replaceFd"; fd: number; targetFd: number; cloexec: boolean; value: number; errno: number };

/** A handler for one syscall; it may hold the call (accept) by resolving later. */
export type SyscallHandler = (task: Task, call: TrappedSyscall) => Outcome | Promise<Outcome>;

/** What a platform needs from the container it serves. */
export interface PlatformTarget {
  /** Host pid of the container's first process (ptrace seizes it). */
  pid: number;
  /**
   * seccomp: the sentry's end of the trap channel, a unix socket on which tsor-init sends the
   * filter's listener fd (SCM_RIGHTS) just before execve (native/PLAN.md, `trap`).
   */
  trapChannel?: number;
}

export interface Platform {
  readonly name: PlatformName;
  /**
   * Start delivering trapped syscalls of the container to `dispatch`. Each call is answered with
   * the outcome of its (possibly asynchronous) handler; calls are independent, so a held accept
   * never delays another thread's connect.
   */
  start(target: PlatformTarget, dispatch: SyscallHandler): void;
  /** Stop delivering (the container exited); pending calls are abandoned. */
  stop(): void;
}
