// Syscall injection for the ptrace platform (x86_64): making a stopped task run system calls of
// our choosing, then putting it back exactly where it was. The ptrace platform needs it because
// without SECCOMP_IOCTL_NOTIF_ADDFD the only way an fd of ours reaches the app is for the app
// itself to receive it (SCM_RIGHTS over a socketpair it makes).
//
// The mechanism, measured on Linux 6.18 (test/unit/platform-ptrace.test.ts):
//
//   * At a PTRACE_EVENT_SECCOMP stop the syscall has not run yet (since 4.8 the stop comes before
//     it, and seccomp re-runs the filters on whatever the tracer left in the registers, allowing a
//     SECCOMP_RET_TRACE match on that re-check). Setting orig_rax = N and rdi..r9 runs syscall N
//     instead; orig_rax = -1 skips the call and the task sees rax as its result.
//   * To get control back right after N, PTRACE_INTERRUPT is issued *while the task is still in
//     the seccomp stop*, then PTRACE_CONT: the pending trap is only acted on when the task heads
//     back to user mode, so it stops (PTRACE_EVENT_STOP) after N and before any user instruction,
//     with N's result in rax. (From that stop an interrupt before PTRACE_CONT would fire again at
//     once, in the same pass through the signal code: each injected call must start at a seccomp
//     stop.)
//   * To get a seccomp stop again, the task is *rewound*: rip -= 2 (the 2-byte `syscall`
//     instruction the app executed) with the original number and arguments, so it re-executes the
//     app's own trapped call, which the filter traps again. No app code runs in between.
//   * A signal that arrives meanwhile shows up as a signal-delivery stop on the way back to user
//     mode; it is held back (PTRACE_CONT without it) and sent again once the task is back in the
//     app's hands (see Tracee.deferSignal), so no signal is lost, though it arrives as
//     process-directed (its siginfo is not kept).
//
// Not used: PTRACE_SYSCALL (the addon has only PTRACE_CONT), a fault at rip = 0 to regain control
// (a forced SIGSEGV resets the app's SIGSEGV disposition to SIG_DFL if any thread blocks it), and
// having the app pidfd_getfd() the fd from the sentry (the sentry's pid is not visible in the
// container's pid namespace).
import { constants as osConstants } from "node:os";
import { native, NativeError, type WaitStatus } from "../../native/index.js";
import { SyscallError } from "./platform.js";

const { ENOMEM, ESRCH } = osConstants.errno;

/** x86_64 numbers of the calls the platform injects (arch/x86/entry/syscalls/syscall_64.tbl). */
export const INJECTED_SYSCALLS = { close: 3, pause: 34, recvmsg: 47, socketpair: 53, dup3: 292, close_range: 436 } as const;

/** Length of x86_64's `syscall` instruction (0f 05): rip - 2 re-executes the trapped call. */
const SYSCALL_INSN_LEN = 2n;
/** The System V ABI's red zone below rsp, which leaf code may use: the scratch area lies beyond. */
const RED_ZONE = 128n;
const O_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;

/** The task exited (or was reaped by someone else) while we were waiting for its next stop. */
export class TaskGone extends Error {
  constructor(
    readonly tid: number,
    readonly status: WaitStatus | null,
  ) {
    super(`task ${tid} is gone`);
    this.name = "TaskGone";
  }
}

/** A stop an injection cannot continue from (an exec, a fork event): the platform's main loop handles it. */
export class Handoff extends Error {
  constructor(readonly stop: WaitStatus) {
    super(`unexpected stop (event ${stop.event}, signal ${stop.stopSignal})`);
    this.name = "Handoff";
  }
}

/** What injection needs from the platform about one traced thread. */
export interface Tracee {
  readonly tid: number;
  /** Its next ptrace stop; throws TaskGone when it exits instead. */
  nextStop(): Promise<WaitStatus>;
  /** Hold back a signal met during an injection; the platform sends it once the task runs the app again. */
  deferSignal(signal: number): void;
  /** pidfd_getfd of the task's fd `fd` into the sentry. */
  getFd(fd: number): number;
}

/** The general registers of a stopped task (PTRACE_GETREGSET NT_PRSTATUS), by name. */
export class Regs {
  private static index: Map<string, number> | undefined;

  constructor(readonly words: BigUint64Array) {}

  static of(tid: number): Regs {
    return new Regs(native.ptraceGetRegs(tid));
  }

  private static at(name: string): number {
    if (!Regs.index) {
      if (process.arch !== "x64") throw new Error(`ptrace platform: x86_64 only (this is ${process.arch})`);
      Regs.index = new Map(native.ptraceRegNames.map((n, i) => [n, i]));
    }
    const i = Regs.index.get(name);
    if (i === undefined) throw new Error(`ptrace platform: no register ${name}`);
    return i;
  }

  /** A register as a signed 64-bit value. */
  get(name: string): bigint {
    return BigInt.asIntN(64, this.words[Regs.at(name)]);
  }

  set(name: string, value: bigint | number): void {
    this.words[Regs.at(name)] = BigInt.asUintN(64, BigInt(value));
  }

  clone(): Regs {
    return new Regs(this.words.slice());
  }

  /** The syscall number at a syscall stop (orig_rax). */
  get nr(): number {
    return Number(this.get("orig_rax"));
  }

  /** The six syscall arguments (rdi rsi rdx r10 r8 r9), unsigned as seccomp gives them. */
  args(): bigint[] {
    return ["rdi", "rsi", "rdx", "r10", "r8", "r9"].map((r) => this.words[Regs.at(r)]);
  }

  /** These registers with the call `nr(args)` in place of the trapped one. */
  withCall(nr: number, args: readonly (bigint | number)[]): Regs {
    const r = this.clone();
    r.set("orig_rax", nr);
    ["rdi", "rsi", "rdx", "r10", "r8", "r9"].forEach((name, i) => r.set(name, args[i] ?? 0));
    return r;
  }

  /** These registers with the call done: it returns `result` and nothing restarts it. */
  withResult(result: bigint): Regs {
    const r = this.clone();
    r.set("orig_rax", -1);
    r.set("rax", result);
    return r;
  }

  /** These registers rewound to re-execute the trapped call itself. */
  rewound(): Regs {
    const r = this.clone();
    r.set("rip", this.get("rip") - SYSCALL_INSN_LEN);
    r.set("rax", this.get("orig_rax"));
    r.set("orig_rax", -1);
    return r;
  }
}

/** PTRACE_CONT; a task killed meanwhile (ESRCH) is reported by its next wait instead. */
export function resume(tid: number, signal = 0): void {
  ptraceQuietly(() => native.ptraceCont(tid, signal));
}

/** PTRACE_LISTEN: a task in group-stop stays stopped until SIGCONT (ESRCH as for resume). */
export function listen(tid: number): void {
  ptraceQuietly(() => native.ptraceListen(tid));
}

const { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU } = osConstants.signals;
const STOP_SIGNALS = new Set([SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]);

/**
 * A group-stop report of a SEIZE'd task: PTRACE_EVENT_STOP with a stopping signal (ptrace(2),
 * "Group-stop"); other PTRACE_EVENT_STOPs (PTRACE_INTERRUPT, a new thread) carry SIGTRAP.
 */
export function isGroupStop(st: WaitStatus): boolean {
  return st.event === native.constants.PTRACE_EVENT_STOP && STOP_SIGNALS.has(st.stopSignal ?? 0);
}

export function setRegs(tid: number, regs: Regs): void {
  ptraceQuietly(() => native.ptraceSetRegs(tid, regs.words));
}

function ptraceQuietly(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof NativeError && e.errno === ESRCH)) throw e;
  }
}

/**
 * Runs system calls in a task that is stopped in the trapped call `trapped` (its registers at
 * the seccomp stop), then finishes that call. Starts at the seccomp stop (`atSeccompStop`) or in
 * the kernel's signal path of the same call (a parked, held call woken by PTRACE_INTERRUPT).
 */
export class Injector {
  constructor(
    private readonly t: Tracee,
    readonly trapped: Regs,
    private atSeccompStop: boolean,
  ) {}

  /** Runs `nr(args)` in the task; its raw result (negative: -errno). */
  async call(nr: number, args: readonly (bigint | number)[]): Promise<bigint> {
    if (!this.atSeccompStop) await this.rewind();
    setRegs(this.t.tid, this.trapped.withCall(nr, args));
    ptraceQuietly(() => native.ptraceInterrupt(this.t.tid));
    resume(this.t.tid);
    this.atSeccompStop = false;
    for (;;) {
      const st = await this.t.nextStop();
      // The interrupt's trap (or a group stop, which clears it): either way the call is done.
      if (st.event === native.constants.PTRACE_EVENT_STOP) break;
      if (st.event === 0 && st.stopSignal !== null) {
        this.t.deferSignal(st.stopSignal);
        resume(this.t.tid);
        continue;
      }
      throw new Handoff(st);
    }
    return Regs.of(this.t.tid).get("rax");
  }

  /** The trapped call returns `result` (>= 0, or -errno) without running. */
  finish(result: bigint): void {
    setRegs(this.t.tid, this.trapped.withResult(result));
    resume(this.t.tid);
  }

  /** The kernel runs the trapped call as the app made it (after what was injected). */
  async reexecute(): Promise<void> {
    if (!this.atSeccompStop) await this.rewind();
    setRegs(this.t.tid, this.trapped);
    resume(this.t.tid);
  }

  /** Back to a seccomp stop of the trapped call: the task re-executes its `syscall` instruction. */
  private async rewind(): Promise<void> {
    setRegs(this.t.tid, this.trapped.rewound());
    resume(this.t.tid);
    for (;;) {
      const st = await this.t.nextStop();
      if (st.event === native.constants.PTRACE_EVENT_SECCOMP) break;
      if (st.event === 0 && st.stopSignal !== null) {
        this.t.deferSignal(st.stopSignal);
      } else if (st.event !== native.constants.PTRACE_EVENT_STOP) {
        throw new Handoff(st);
      }
      // A stale interrupt's trap or a group stop: the rewound registers are still in place.
      resume(this.t.tid);
    }
    this.atSeccompStop = true;
  }

  /** A scratch area of `size` bytes on the task's stack, beyond the red zone, 16-byte aligned. */
  scratch(size: number): bigint {
    return (this.trapped.get("rsp") - RED_ZONE - BigInt(size)) & ~15n;
  }
}

// struct msghdr (56 bytes), struct iovec (16), one data byte and a cmsg for one fd, laid out in
// the scratch area for recvmsg.
const MSG_OFF = 0;
const IOV_OFF = 64;
const DATA_OFF = 80;
const CTL_OFF = 96;
const CTL_LEN = 24; // CMSG_SPACE(sizeof(int))
const SCRATCH_LEN = CTL_OFF + CTL_LEN;

/**
 * Puts a duplicate of our fd `fd` into the task: the task makes a socketpair, we take one end
 * (pidfd_getfd) and send `fd` through it, the task receives it (recvmsg) and dup3s it to
 * `target`, or, without one, to the lowest free fd (the socketpair's first end, whose number the
 * kernel picked as the lowest free). Returns the fd's number in the task. Everything else it
 * opened is closed again. Failures of the task's calls are SyscallErrors (EMFILE...).
 */
export async function transferFd(inj: Injector, t: Tracee, fd: number, opts: { target?: number; cloexec: boolean }): Promise<number> {
  const scratch = inj.scratch(SCRATCH_LEN);
  const write = (off: number, data: Buffer) => {
    if (native.processVmWritev(t.tid, scratch + BigInt(off), data) !== data.length) throw new SyscallError(ENOMEM, "no stack for fd injection");
  };
  const check = (what: string, r: bigint): number => {
    if (r < 0n) throw new SyscallError(Number(-r), `injected ${what}: errno ${-r}`);
    return Number(r);
  };
  const { AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC } = native.constants;

  write(0, Buffer.alloc(8, 0xff));
  check("socketpair", await inj.call(INJECTED_SYSCALLS.socketpair, [AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, scratch]));
  const pair = native.processVmReadv(t.tid, scratch, 8);
  const ends = [pair.readInt32LE(0), pair.readInt32LE(4)];
  const opened = [...ends];
  let dest: number;
  try {
    const ours = t.getFd(ends[1]);
    try {
      native.sendFds(ours, Buffer.from("F"), [fd]);
    } finally {
      native.closeFd(ours);
    }
    const msg = Buffer.alloc(SCRATCH_LEN);
    msg.writeBigUInt64LE(scratch + BigInt(IOV_OFF), MSG_OFF + 16); // msg_iov
    msg.writeBigUInt64LE(1n, MSG_OFF + 24); // msg_iovlen
    msg.writeBigUInt64LE(scratch + BigInt(CTL_OFF), MSG_OFF + 32); // msg_control
    msg.writeBigUInt64LE(BigInt(CTL_LEN), MSG_OFF + 40); // msg_controllen
    msg.writeBigUInt64LE(scratch + BigInt(DATA_OFF), IOV_OFF); // iov_base
    msg.writeBigUInt64LE(1n, IOV_OFF + 8); // iov_len
    write(0, msg);
    check("recvmsg", await inj.call(INJECTED_SYSCALLS.recvmsg, [ends[0], scratch, MSG_DONTWAIT | MSG_CMSG_CLOEXEC]));
    const ctl = native.processVmReadv(t.tid, scratch + BigInt(CTL_OFF), CTL_LEN);
    if (ctl.readInt32LE(8) !== SOL_SOCKET || ctl.readInt32LE(12) !== SCM_RIGHTS) throw new Error("fd injection: no SCM_RIGHTS received");
    const received = ctl.readInt32LE(16);
    opened.push(received);
    dest = opts.target ?? ends[0];
    check("dup3", await inj.call(INJECTED_SYSCALLS.dup3, [received, dest, opts.cloexec ? O_CLOEXEC : 0]));
    if (opened.includes(dest)) opened.splice(opened.indexOf(dest), 1);
  } catch (e) {
    // A task that is gone (or off doing something else) has nobody left to close them in.
    if (!(e instanceof TaskGone || e instanceof Handoff)) await closeInTask(inj, opened);
    throw e;
  }
  await closeInTask(inj, opened);
  return dest;
}

/** close(2)s fds in the task: one close_range when they are consecutive (nothing else can sit between them). */
async function closeInTask(inj: Injector, fds: number[]): Promise<void> {
  const sorted = [...new Set(fds)].sort((a, b) => a - b);
  if (sorted.length === 0) return;
  const lo = sorted[0];
  const hi = sorted[sorted.length - 1];
  if (hi - lo + 1 === sorted.length) {
    await inj.call(INJECTED_SYSCALLS.close_range, [lo, hi, 0]);
    return;
  }
  for (const fd of sorted) await inj.call(INJECTED_SYSCALLS.close, [fd]);
}
