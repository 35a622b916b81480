// The seccomp platform (DESIGN.md "Platforms"): tsor-init installs the trap filter with
// SECCOMP_FILTER_FLAG_NEW_LISTENER and sends the listener fd over the trap channel just before
// execve (native/PLAN.md, `trap notify`); every trapped call then arrives here as a seccomp
// notification, becomes a Task for the dispatch, and is answered with SECCOMP_IOCTL_NOTIF_SEND
// or _ADDFD. Calls are independent: a held accept() never delays another thread's connect().
import { readFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { isNotificationGone, native, NativeError, type SeccompListener, type SeccompNotif } from "../../native/index.js";
import type { Logger } from "../../oci/log.js";
import { SyscallError, type Outcome, type Platform, type PlatformTarget, type SyscallHandler, type Task } from "./platform.js";

const { EFAULT, EBADF, EIO, ESRCH } = osConstants.errno;

/** The text tsor-init sends with the listener fd (native/PLAN.md `trap`). */
export const TRAP_CHANNEL_MESSAGE = "seccomp";

/**
 * Cached tid -> tgid and tgid -> pidfd entries are dropped all at once past this many (a
 * container that forks many short-lived processes must not grow the sentry without bound).
 */
const MAX_CACHED_TASKS = 4096;

/**
 * How long the event loop looks for the next notification after the last one (µs) before it
 * sleeps: a connect is followed within microseconds by the server's accept and option calls,
 * and catching them awake spares a wake-up, which on a VM with halting vCPUs costs tens of µs.
 * Measured here in alternation (sockets.ts, three full runs each): connect() ~121 -> ~114 µs at
 * 30; 100 gained nothing more. TSOR_NOTIF_SPIN_US overrides (0: never spin).
 */
const NOTIF_SPIN_US = 30;

function notifSpinUs(): number {
  const env = process.env.TSOR_NOTIF_SPIN_US;
  const v = env === undefined || env === "" ? NOTIF_SPIN_US : Number(env);
  return Number.isInteger(v) && v >= 0 && v <= 1_000_000 ? v : NOTIF_SPIN_US;
}

export interface SeccompPlatformOptions {
  /** Where unexpected handler failures and channel problems are reported. */
  log?: Pick<Logger, "debug" | "warn" | "error">;
}

export class SeccompPlatform implements Platform {
  readonly name = "seccomp" as const;
  private listener: SeccompListener | undefined;
  private listenerFd = -1;
  private started = false;
  private stopped = false;
  private readonly tgids = new Map<number, number>();
  private readonly pidfds = new Map<number, number>();
  private resolveDone!: () => void;
  /**
   * Resolves once no more calls can arrive: every task using the filter is gone, the trap
   * channel closed without a listener (the app never ran), or stop().
   */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly opts: SeccompPlatformOptions = {}) {}

  /**
   * Takes ownership of `target.trapChannel` (closed once the listener fd arrived) and waits for
   * the listener on the addon's own thread; `dispatch` then sees every trapped call.
   */
  start(target: PlatformTarget, dispatch: SyscallHandler): void {
    if (this.started) throw new Error("seccomp platform: already started");
    if (target.trapChannel === undefined) throw new Error("seccomp platform: no trap channel (was the plan given `trap notify`?)");
    this.started = true;
    const channel = target.trapChannel;
    native.recvFds(channel, 64, 1, (err, got) => {
      // The channel is ours to close only now: the receiving thread used it until this call.
      native.closeFd(channel);
      if (err) {
        this.opts.log?.error({ err: err.message, pid: target.pid }, "seccomp platform: trap channel");
        return this.finish();
      }
      const [fd, ...extra] = got.fds;
      for (const e of extra) native.closeFd(e);
      if (fd === undefined) {
        // EOF: tsor-init died before execve (a failed or aborted create).
        this.opts.log?.debug({ pid: target.pid }, "seccomp platform: trap channel closed without a listener");
        return this.finish();
      }
      if (got.data.toString() !== TRAP_CHANNEL_MESSAGE || this.stopped) {
        if (!this.stopped) this.opts.log?.error({ data: got.data.toString() }, "seccomp platform: unexpected message on the trap channel");
        native.closeFd(fd);
        return this.finish();
      }
      this.listenerFd = fd;
      const listener = new native.SeccompListener(fd);
      this.listener = listener;
      // The app and the sentry hand the CPU to each other on every trapped call (Linux 6.6+;
      // elsewhere nothing changes).
      try {
        listener.setSyncWakeUp();
      } catch (e) {
        this.opts.log?.debug({ err: (e as Error).message }, "seccomp platform: no synchronous wake-ups");
      }
      listener.setSpin(notifSpinUs());
      // On the event loop, not a thread: each trapped call reaches its handler one wake-up sooner.
      listener.startOnLoop(
        (notif) => this.onNotif(listener, notif, dispatch),
        (endErr) => {
          if (endErr) this.opts.log?.error({ err: endErr.message }, "seccomp platform: listener failed");
          this.release();
        },
      );
    });
  }

  /** Stops delivering; calls still held get ENOSYS from the kernel once the listener closes. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.listener?.stop();
    this.release();
  }

  /** Closes the listener and every cached pidfd (no more answers can be sent). */
  private release(): void {
    this.stopped = true;
    this.listener = undefined;
    if (this.listenerFd >= 0) native.closeFd(this.listenerFd);
    this.listenerFd = -1;
    this.forgetTasks();
    this.finish();
  }

  private finish(): void {
    this.resolveDone();
  }

  private forgetTasks(): void {
    for (const fd of this.pidfds.values()) native.closeFd(fd);
    this.pidfds.clear();
    this.tgids.clear();
  }

  private onNotif(listener: SeccompListener, notif: SeccompNotif, dispatch: SyscallHandler): void {
    const task = new SeccompTask(this, listener, notif);
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = dispatch(task, { nr: notif.nr, args: notif.args });
    } catch (e) {
      return this.fail(listener, notif, e);
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (o) => this.answer(listener, notif, o),
        (e: unknown) => this.fail(listener, notif, e),
      );
    } else {
      this.answer(listener, notif, outcome);
    }
  }

  /** No more answers can be sent. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Tgid from /proc/TID/status, cached per tid. */
  tgidOf(tid: number): number {
    const cached = this.tgids.get(tid);
    if (cached !== undefined) return cached;
    let status: string;
    try {
      status = readFileSync(`/proc/${tid}/status`, "utf8");
    } catch {
      throw new SyscallError(ESRCH, `task ${tid} is gone`);
    }
    const m = /^Tgid:\s+(\d+)$/m.exec(status);
    if (!m) throw new Error(`/proc/${tid}/status: no Tgid line`);
    if (this.tgids.size >= MAX_CACHED_TASKS) this.forgetTasks();
    const tgid = Number(m[1]);
    this.tgids.set(tid, tgid);
    return tgid;
  }

  /** pidfd_getfd through a pidfd cached per process; a stale pidfd (ESRCH) is reopened once. */
  getFd(tgid: number, fd: number): number {
    for (let attempt = 0; ; attempt++) {
      let pidfd = this.pidfds.get(tgid);
      if (pidfd === undefined) {
        if (this.pidfds.size >= MAX_CACHED_TASKS) this.forgetTasks();
        pidfd = native.pidfdOpen(tgid);
        this.pidfds.set(tgid, pidfd);
      }
      try {
        return native.pidfdGetfd(pidfd, fd);
      } catch (e) {
        if (e instanceof NativeError && e.errno === EBADF) throw new SyscallError(EBADF, `task ${tgid} has no fd ${fd}`);
        if (e instanceof NativeError && e.errno === ESRCH && attempt === 0) {
          this.pidfds.delete(tgid);
          native.closeFd(pidfd);
          continue;
        }
        throw e;
      }
    }
  }

  private answer(listener: SeccompListener, notif: SeccompNotif, o: Outcome): void {
    if (o.kind === "installFd" || o.kind === "replaceFd") {
      // Stopped: the listener is closed and the kernel already failed the call; the fd goes.
      if (this.stopped) return native.closeFd(o.fd);
      return this.answerWithFd(listener, notif, o);
    }
    if (this.stopped) return;
    try {
      switch (o.kind) {
        case "return":
          return listener.respond(notif.id, o.value, 0, 0);
        case "errno":
          return listener.respond(notif.id, 0, o.errno, 0);
        case "continue":
          return listener.respond(notif.id, 0, 0, native.constants.SECCOMP_USER_NOTIF_FLAG_CONTINUE);
      }
    } catch (e) {
      if (isNotificationGone(e)) return;
      this.opts.log?.error({ err: (e as Error).message, nr: notif.nr, tid: notif.pid }, "seccomp platform: answer failed");
    }
  }

  /**
   * An answer that installs our fd: ADDFD waits until the task itself has installed it, so it
   * runs on the addon's worker thread and the event loop goes on serving other calls meanwhile.
   * installFd: ADDFD_FLAG_SEND installs the fd and answers with its number in one step.
   * replaceFd: SETFD at the target number, then SEND with the call's own answer.
   */
  private answerWithFd(listener: SeccompListener, notif: SeccompNotif, o: Extract<Outcome, { kind: "installFd" | "replaceFd" }>): void {
    // The worker closes o.fd right after the ADDFD (before the answer of a replaceFd).
    const failed = (err: NativeError): void => {
      if (isNotificationGone(err) || this.stopped) return;
      // ADDFD can fail for the task's own reasons (EMFILE past its RLIMIT_NOFILE): the app sees them.
      if (err.syscall === "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)") return this.respondQuietly(listener, notif, err.errno);
      this.opts.log?.error({ err: err.message, nr: notif.nr, tid: notif.pid }, "seccomp platform: answer failed");
    };
    try {
      if (o.kind === "installFd") listener.addFdAsync(notif.id, o.fd, 0, { send: true, cloexec: o.cloexec }, null, failed);
      else listener.addFdAsync(notif.id, o.fd, o.targetFd, { setfd: true, cloexec: o.cloexec }, { val: o.value, error: o.errno }, failed);
    } catch (e) {
      // Not queued (the worker could not start): the fd is still ours, and the call gets EIO.
      native.closeFd(o.fd);
      this.opts.log?.error({ err: (e as Error).message, nr: notif.nr, tid: notif.pid }, "seccomp platform: answer failed");
      this.respondQuietly(listener, notif, EIO);
    }
  }

  /** A handler threw: its SyscallError is the app's errno; anything else is our bug, so EIO. */
  private fail(listener: SeccompListener, notif: SeccompNotif, e: unknown): void {
    if (this.stopped) return;
    if (e instanceof SyscallError) return this.respondQuietly(listener, notif, e.errno);
    if (isNotificationGone(e) || !this.stillValid(listener, notif)) return; // the task went away meanwhile
    this.opts.log?.error(
      { err: e instanceof Error ? (e.stack ?? e.message) : String(e), nr: notif.nr, tid: notif.pid },
      "seccomp platform: handler failed; the call gets EIO",
    );
    this.respondQuietly(listener, notif, EIO);
  }

  private stillValid(listener: SeccompListener, notif: SeccompNotif): boolean {
    try {
      return listener.idValid(notif.id);
    } catch {
      return false;
    }
  }

  private respondQuietly(listener: SeccompListener, notif: SeccompNotif, errno: number): void {
    try {
      listener.respond(notif.id, 0, errno, 0);
    } catch (e) {
      if (!isNotificationGone(e)) this.opts.log?.error({ err: (e as Error).message, nr: notif.nr }, "seccomp platform: answer failed");
    }
  }
}

/**
 * The trapping thread as handlers see it. A class, not an object of closures: one is made per
 * notification, and the sentry's allocation per trapped call is what its scavenges copy.
 */
class SeccompTask implements Task {
  private tgidCached: number | undefined;

  constructor(
    private readonly platform: SeccompPlatform,
    private readonly listener: SeccompListener,
    private readonly notif: SeccompNotif,
  ) {}

  get tid(): number {
    return this.notif.pid;
  }

  get tgid(): number {
    return (this.tgidCached ??= this.platform.tgidOf(this.notif.pid));
  }

  readMemory(addr: bigint, len: number): Buffer {
    if (len === 0) return Buffer.alloc(0);
    const tid = this.notif.pid;
    const buf = memoryCall(() => native.processVmReadv(tid, addr, len), "read", addr, len);
    if (buf.length < len) throw new SyscallError(EFAULT, `read ${len} bytes at 0x${addr.toString(16)}: only ${buf.length} mapped`);
    return buf;
  }

  writeMemory(addr: bigint, data: Buffer): void {
    if (data.length === 0) return;
    const tid = this.notif.pid;
    const n = memoryCall(() => native.processVmWritev(tid, addr, data), "write", addr, data.length);
    if (n < data.length) throw new SyscallError(EFAULT, `write ${data.length} bytes at 0x${addr.toString(16)}: only ${n} mapped`);
  }

  getFd(fd: number): number {
    return this.platform.getFd(this.tgid, fd);
  }

  stillPending(): boolean {
    return !this.platform.isStopped && this.listener.idValid(this.notif.id);
  }
}

/** process_vm_readv/writev with the app's view of failure: a bad pointer (or a gone task) is EFAULT. */
function memoryCall<T>(fn: () => T, what: string, addr: bigint, len: number): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NativeError && (e.errno === EFAULT || e.errno === ESRCH)) {
      throw new SyscallError(EFAULT, `${what} ${len} bytes at 0x${addr.toString(16)}: ${e.code}`);
    }
    throw e;
  }
}
