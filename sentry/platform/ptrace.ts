// The ptrace platform (DESIGN.md "Platforms"): the same trapped calls as the seccomp platform,
// for kernels without seccomp user-notify ADDFD. tsor-init installs the same filter returning
// SECCOMP_RET_TRACE (native/PLAN.md, `trap trace`); the sentry, which seizes the container's
// first process before `start` (and each `tsor exec`'d process before its start, through the trap
// server), gets a PTRACE_EVENT_SECCOMP stop for every trapped call. PTRACE_SEIZE needs no
// parenthood: a tracer waits for its tracees' stops and exits itself (ptrace(2), "the tracer"),
// and an exec'd process's real parent (tsor-init) is told of its exit once we have seen it.
//
// Every traced thread runs its own loop: wait for its next stop (waitPid traced, one report per
// call), act, resume. Calls are independent: a held accept() parks its thread while the others
// go on. Answers:
//   return/errno   orig_rax = -1 skips the call; rax is what the app sees.
//   continue       resume: the kernel runs the call.
//   installFd      syscall injection (inject.ts): the app receives our fd over a socketpair.
//   replaceFd      the same, dup3'd onto the target fd, then the call answered.
// A held call (the handler returned a pending promise) parks the thread in pause(2), so that a
// signal interrupts it as it would a blocking accept (-ERESTARTSYS: restarted after an SA_RESTART
// handler, EINTR otherwise); the handler's answer wakes it with PTRACE_INTERRUPT.
//
// Cost (Linux 6.18, the test's printed figures): a stop is ~80-100 us (a waitPid thread per
// report), so an answered call costs ~0.1 ms against ~0.01 ms under seccomp, and an installed fd
// (four injected calls, nine stops) ~0.8 ms against ~0.02 ms. Hence: for portability only.
//
// Group stops (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) are kept with PTRACE_LISTEN until SIGCONT.
// Limits: x86_64 only; a signal that arrives during an fd injection is re-sent afterwards as
// process-directed; the config's own SCMP_ACT_TRACE rules get ENOSYS, as with no tracer.
import { readdirSync, readFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { native, NativeError, type WaitStatus } from "../../native/index.js";
import type { Logger } from "../../oci/log.js";
import { Handoff, INJECTED_SYSCALLS, Injector, isGroupStop, listen, Regs, resume, setRegs, TaskGone, transferFd, type Tracee } from "./inject.js";
import { SyscallError, type Outcome, type Platform, type PlatformTarget, type SyscallHandler, type Task } from "./platform.js";

const { EBADF, EFAULT, EIO, ENOSYS, ESRCH } = osConstants.errno;
const { SIGCHLD, SIGCONT, SIGURG, SIGWINCH } = osConstants.signals;

/**
 * SECCOMP_RET_DATA of tsor-init's trace filter (native/tsor-init/trap.c TRAP_TRACE_DATA, "Ts"):
 * a stop with other data comes from the config's own SCMP_ACT_TRACE rules.
 */
export const TRAP_TRACE_DATA = 0x5473n;

/** The kernel's "restart me" errno for a blocking call a signal interrupted (include/linux/errno.h). */
const ERESTARTSYS = 512n;

/** Signals whose default action is to ignore them: they do not interrupt a held call either. */
const DEFAULT_IGNORED = new Set([SIGCHLD, SIGCONT, SIGURG, SIGWINCH]);

export interface PtracePlatformOptions {
  log?: Pick<Logger, "debug" | "warn" | "error">;
  /**
   * The container's first process ended. As its tracer the platform reaps it (a second waiter
   * on the same pid would steal ptrace stops), so this is the supervisor's exit status (both
   * null: it was reaped by someone else).
   */
  onExit?: (exit: { code: number | null; signal: number | null }) => void;
}

/**
 * Every thread some PtracePlatform of this sentry has a loop for. The container's first process
 * and each `tsor exec`'d process (sentry/trapserver.ts) have a platform of their own, all traced
 * by this process: one platform must never adopt another's thread (two waiters on one tid would
 * steal each other's stops).
 */
const TRACKED = new Set<number>();

/** One held call's fate, shared by the handler's promise and the thread's loop. */
interface HeldCall {
  /** Still waiting for its answer in pause(2). */
  pending: boolean;
  outcome?: Outcome;
}

export class PtracePlatform implements Platform {
  readonly name = "ptrace" as const;
  private readonly tasks = new Map<number, TracedThread>();
  private dispatch: SyscallHandler | undefined;
  private targetPid = 0;
  private stopped = false;
  private resolveDone!: () => void;
  /** Resolves once the first process exited (or stop()). */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly opts: PtracePlatformOptions = {}) {}

  /** Seizes `target.pid` (and, from then on, every thread and child it makes). */
  start(target: PlatformTarget, dispatch: SyscallHandler): void {
    if (this.dispatch) throw new Error("ptrace platform: already started");
    const c = native.constants;
    native.ptraceSeize(
      target.pid,
      c.PTRACE_O_TRACESECCOMP | c.PTRACE_O_TRACEFORK | c.PTRACE_O_TRACEVFORK | c.PTRACE_O_TRACECLONE | c.PTRACE_O_TRACEEXEC | c.PTRACE_O_EXITKILL,
    );
    this.dispatch = dispatch;
    this.targetPid = target.pid;
    this.track(target.pid);
  }

  /** Stops delivering: held calls get ENOSYS (as when a seccomp listener closes), threads are detached. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.tasks.values()) t.release();
    this.resolveDone();
  }

  /** Starts the loop of a newly traced thread (once). */
  private track(tid: number): void {
    if (this.tasks.has(tid) || TRACKED.has(tid) || this.stopped) return;
    const t = new TracedThread(tid, tid === this.targetPid, this);
    this.tasks.set(tid, t);
    TRACKED.add(tid);
    void this.run(t);
  }

  private async run(t: TracedThread): Promise<void> {
    let next: WaitStatus | undefined;
    for (;;) {
      try {
        const st = next ?? (await t.nextStop());
        next = undefined;
        if (this.stopped) {
          TRACKED.delete(t.tid);
          return t.detach(st);
        }
        await this.onStop(t, st);
        // stop() came while this thread was busy: interrupt it again so that its loop detaches it.
        if (this.stopped) t.release();
      } catch (e) {
        if (e instanceof TaskGone) return this.gone(t, e.status);
        if (e instanceof Handoff) {
          next = e.stop;
        } else {
          // Our bug: say so, and let the thread go on rather than leave it stopped for good.
          this.opts.log?.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e), tid: t.tid }, "ptrace platform: stop handling failed");
          try {
            resume(t.tid);
          } catch {
            /* nothing more to do */
          }
        }
      } finally {
        t.flushDeferred();
      }
    }
  }

  private gone(t: TracedThread, status: WaitStatus | null): void {
    this.tasks.delete(t.tid);
    TRACKED.delete(t.tid);
    t.abandonHeld();
    if (t.tid === this.targetPid) {
      this.opts.onExit?.({ code: status?.code ?? null, signal: status?.signal ?? null });
      if (!this.stopped) this.resolveDone();
    }
    // A child whose fork event we never saw (its parent was killed in the event stop) is still ours.
    if (status?.signal != null && !this.stopped) this.adoptOrphans();
  }

  private onStop(t: TracedThread, st: WaitStatus): Promise<void> | void {
    const c = native.constants;
    switch (st.event) {
      case c.PTRACE_EVENT_SECCOMP:
        return this.onSeccomp(t);
      case c.PTRACE_EVENT_FORK:
      case c.PTRACE_EVENT_VFORK:
      case c.PTRACE_EVENT_CLONE: {
        // Auto-attached already; its own first stop waits for its own loop.
        this.track(Number(native.ptraceGetEventMsg(t.tid)));
        return resume(t.tid);
      }
      case 0:
        // A signal-delivery stop: deliver it.
        return resume(t.tid, st.stopSignal ?? 0);
      default:
        // A group stop (SIGSTOP, SIGTSTP...): kept, as without a tracer, until SIGCONT.
        if (isGroupStop(st)) return listen(t.tid);
        // PTRACE_EVENT_STOP (a new thread's first stop, a stale interrupt), EXEC.
        return resume(t.tid);
    }
  }

  private async onSeccomp(t: TracedThread): Promise<void> {
    const regs = Regs.of(t.tid);
    const inj = new Injector(t, regs, true);
    if (native.ptraceGetEventMsg(t.tid) !== TRAP_TRACE_DATA) return inj.finish(-BigInt(ENOSYS));
    const held: HeldCall = { pending: true };
    const task = this.task(t, held);
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = this.dispatch!(task, { nr: regs.nr, args: regs.args() });
    } catch (e) {
      outcome = this.failure(e, regs.nr, t.tid);
    }
    if (!(outcome instanceof Promise)) {
      held.pending = false;
      return this.apply(inj, t, outcome);
    }
    t.held = held;
    outcome.then(
      (o) => this.settle(t, held, o),
      (e: unknown) => this.settle(t, held, this.failure(e, regs.nr, t.tid)),
    );
    return this.hold(t, regs, held);
  }

  /** A handler answered a held call: wake its thread, or drop the answer if the call is gone. */
  private settle(t: TracedThread, held: HeldCall, o: Outcome): void {
    if (!held.pending || this.stopped) return closeOutcomeFd(o);
    held.outcome = o;
    try {
      native.ptraceInterrupt(t.tid);
    } catch (e) {
      if (!(e instanceof NativeError && e.errno === ESRCH)) throw e;
    }
  }

  /**
   * Parks the thread in pause(2) until the answer comes (a PTRACE_INTERRUPT trap) or a signal
   * interrupts the call, as it would interrupt the kernel's own blocking accept.
   */
  private async hold(t: TracedThread, regs: Regs, held: HeldCall): Promise<void> {
    setRegs(t.tid, regs.withCall(INJECTED_SYSCALLS.pause, []));
    resume(t.tid);
    for (;;) {
      const st = await t.nextStop();
      const signal = st.event === 0 ? (st.stopSignal ?? 0) : 0;
      if (st.event !== native.constants.PTRACE_EVENT_STOP && signal === 0) {
        held.pending = false;
        throw new Handoff(st);
      }
      if (held.outcome) {
        held.pending = false;
        t.held = undefined;
        return this.complete(t, regs, held.outcome, signal);
      }
      // A group stop is kept until SIGCONT (then pause(2) restarts, -ERESTARTNOHAND); a signal
      // the app ignores is passed over.
      if (isGroupStop(st)) {
        listen(t.tid);
        continue;
      }
      if (signal === 0 || t.ignores(signal)) {
        resume(t.tid);
        continue;
      }
      // Interrupted: -ERESTARTSYS on the original call, which the kernel's signal code turns into
      // EINTR or a restart (which traps again) as for any blocking call.
      held.pending = false;
      t.held = undefined;
      const r = regs.clone();
      r.set("rax", -ERESTARTSYS);
      setRegs(t.tid, r);
      return resume(t.tid, signal);
    }
  }

  /** Answers a parked call from the stop that woke it (`signal`: the one it was delivering, if any). */
  private async complete(t: TracedThread, regs: Regs, o: Outcome, signal: number): Promise<void> {
    if (o.kind === "return" || o.kind === "errno") {
      setRegs(t.tid, regs.withResult(o.kind === "return" ? BigInt(o.value) : -BigInt(o.errno)));
      return resume(t.tid, signal);
    }
    if (signal) t.deferSignal(signal);
    return this.apply(new Injector(t, regs, false), t, o);
  }

  private async apply(inj: Injector, t: TracedThread, o: Outcome): Promise<void> {
    switch (o.kind) {
      case "return":
        return inj.finish(BigInt(o.value));
      case "errno":
        return inj.finish(-BigInt(o.errno));
      case "continue":
        return inj.reexecute();
      case "installFd":
      case "replaceFd":
        try {
          const target = o.kind === "replaceFd" ? o.targetFd : undefined;
          const fd = await transferFd(inj, t, o.fd, { target, cloexec: o.cloexec });
          if (o.kind === "installFd") return inj.finish(BigInt(fd));
          return inj.finish(o.errno ? -BigInt(o.errno) : BigInt(o.value));
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
          return inj.finish(-BigInt(e.errno));
        } finally {
          native.closeFd(o.fd);
        }
    }
  }

  /** A handler threw: its SyscallError is the app's errno; anything else is our bug, so EIO. */
  private failure(e: unknown, nr: number, tid: number): Outcome {
    if (e instanceof SyscallError) return { kind: "errno", errno: e.errno };
    this.opts.log?.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e), nr, tid }, "ptrace platform: handler failed; the call gets EIO");
    return { kind: "errno", errno: EIO };
  }

  /** The trapping thread as handlers see it. */
  private task(t: TracedThread, held: HeldCall): Task {
    const platform = this;
    return {
      tid: t.tid,
      get tgid() {
        return t.tgid;
      },
      readMemory(addr: bigint, len: number): Buffer {
        if (len === 0) return Buffer.alloc(0);
        const buf = vm(() => native.processVmReadv(t.tid, addr, len), addr, len);
        if (buf.length < len) throw new SyscallError(EFAULT, `read ${len} bytes at 0x${addr.toString(16)}: only ${buf.length} mapped`);
        return buf;
      },
      writeMemory(addr: bigint, data: Buffer): void {
        if (data.length === 0) return;
        const n = vm(() => native.processVmWritev(t.tid, addr, data), addr, data.length);
        if (n < data.length) throw new SyscallError(EFAULT, `write ${data.length} bytes at 0x${addr.toString(16)}: only ${n} mapped`);
      },
      getFd(fd: number): number {
        return t.getFd(fd);
      },
      stillPending(): boolean {
        return held.pending && !platform.stopped;
      },
    };
  }

  /**
   * pidfd_getfd of the process's fd `fd`. The pidfd is not cached: next to a ptrace stop's cost
   * its two extra calls do not show, and a stopped task's tgid cannot have been reused.
   */
  getFd(tgid: number, fd: number): number {
    let pidfd: number;
    try {
      pidfd = native.pidfdOpen(tgid);
    } catch (e) {
      if (e instanceof NativeError && e.errno === ESRCH) throw new SyscallError(ESRCH, `task ${tgid} is gone`);
      throw e;
    }
    try {
      return native.pidfdGetfd(pidfd, fd);
    } catch (e) {
      if (e instanceof NativeError && e.errno === EBADF) throw new SyscallError(EBADF, `task ${tgid} has no fd ${fd}`);
      throw e;
    } finally {
      native.closeFd(pidfd);
    }
  }

  /** Tracks traced tasks we have no loop for (/proc/PID/status TracerPid is us). */
  private adoptOrphans(): void {
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        for (const tid of readdirSync(`/proc/${name}/task`)) {
          const m = /^TracerPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${name}/task/${tid}/status`, "utf8"));
          if (m && Number(m[1]) === process.pid) this.track(Number(tid));
        }
      } catch {
        /* gone meanwhile */
      }
    }
  }
}

/** One traced thread: its waits, its deferred signals, its held call. */
class TracedThread implements Tracee {
  private cachedTgid: number | undefined;
  private readonly deferred: number[] = [];
  /** The call parked in pause(2), if any. */
  held: HeldCall | undefined;

  constructor(
    readonly tid: number,
    /** The container's first process: its wait keeps the sentry alive. */
    private readonly first: boolean,
    private readonly platform: PtracePlatform,
  ) {}

  nextStop(): Promise<WaitStatus> {
    return new Promise((resolve, reject) => {
      const report = (st: WaitStatus) => {
        if (st.error || st.stopSignal === null) {
          reject(new TaskGone(this.tid, st.error ? null : st));
        } else {
          resolve(st);
        }
      };
      try {
        native.waitPid(this.tid, report, { traced: true, keepAlive: this.first });
      } catch {
        reject(new TaskGone(this.tid, null)); // ECHILD: already reaped
      }
    });
  }

  get tgid(): number {
    if (this.cachedTgid !== undefined) return this.cachedTgid;
    let status: string;
    try {
      status = readFileSync(`/proc/${this.tid}/status`, "utf8");
    } catch {
      throw new SyscallError(ESRCH, `task ${this.tid} is gone`);
    }
    const m = /^Tgid:\s+(\d+)$/m.exec(status);
    if (!m) throw new Error(`/proc/${this.tid}/status: no Tgid line`);
    this.cachedTgid = Number(m[1]);
    return this.cachedTgid;
  }

  getFd(fd: number): number {
    return this.platform.getFd(this.tgid, fd);
  }

  /** Whether the app ignores `signal` (SIG_IGN, or SIG_DFL of a default-ignored signal). */
  ignores(signal: number): boolean {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.tid}/status`, "utf8");
    } catch {
      return false;
    }
    const mask = (field: string) => BigInt("0x" + (new RegExp(`^${field}:\\s+([0-9a-f]+)$`, "m").exec(status)?.[1] ?? "0"));
    const bit = 1n << BigInt(signal - 1);
    if (mask("SigIgn") & bit) return true;
    return !(mask("SigCgt") & bit) && DEFAULT_IGNORED.has(signal);
  }

  deferSignal(signal: number): void {
    this.deferred.push(signal);
  }

  /** Sends again the signals held back during an injection (process-directed: kill(2) of a tid). */
  flushDeferred(): void {
    for (const signal of this.deferred.splice(0)) {
      try {
        process.kill(this.tid, signal);
      } catch {
        /* gone */
      }
    }
  }

  /** The thread is gone: a held call's answer, when it comes, is dropped. */
  abandonHeld(): void {
    if (this.held) this.held.pending = false;
    this.held = undefined;
  }

  /** stop(): a held call gets ENOSYS, a running thread is interrupted so that its loop detaches it. */
  release(): void {
    if (this.held) {
      this.held.outcome = { kind: "errno", errno: ENOSYS };
    }
    try {
      native.ptraceInterrupt(this.tid);
    } catch {
      /* gone */
    }
  }

  /** Lets the thread go from stop `st` (a trapped call gets ENOSYS, as with no tracer). */
  detach(st: WaitStatus): void {
    try {
      if (st.event === native.constants.PTRACE_EVENT_SECCOMP) setRegs(this.tid, Regs.of(this.tid).withResult(-BigInt(ENOSYS)));
      native.ptraceDetach(this.tid, st.event === 0 ? (st.stopSignal ?? 0) : 0);
    } catch (e) {
      if (!(e instanceof NativeError && e.errno === ESRCH)) throw e;
    }
  }
}

/** The fd an outcome carries, closed when nobody will install it. */
function closeOutcomeFd(o: Outcome): void {
  if (o.kind === "installFd" || o.kind === "replaceFd") native.closeFd(o.fd);
}

/** process_vm_readv/writev with the app's view of failure: a bad pointer (or a gone task) is EFAULT. */
function vm<T>(fn: () => T, addr: bigint, len: number): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NativeError && (e.errno === EFAULT || e.errno === ESRCH)) {
      throw new SyscallError(EFAULT, `${len} bytes at 0x${addr.toString(16)}: ${e.code}`);
    }
    throw e;
  }
}
