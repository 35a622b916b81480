// The exact surface of native/addon/build/Release/tsor_native.node (see native/addon/src/*.cc and
// native/addon/README.md). Every failed system call throws (or passes to a callback) a NativeError
// (native/errors.ts) naming the call and errno; a bad argument throws TypeError. Fds are plain
// numbers owned by the caller (close them with closeFd); every fd the addon creates is
// close-on-exec.

import type { NativeError } from './errors.js';

/** How a waited-for task ended (or, with `traced`, stopped). */
export interface WaitStatus {
  pid: number;
  /** Exit code, or null if it did not exit normally. */
  code: number | null;
  /** Terminating signal, or null. */
  signal: number | null;
  coreDumped: boolean;
  /** `traced` only: the signal of a ptrace stop (SIGTRAP | 0x80 for a TRACESYSGOOD syscall stop), else null. */
  stopSignal: number | null;
  /** `traced` only: the PTRACE_EVENT_* of the stop (status >> 16), else 0. */
  event: number;
  /** Set if the wait itself failed after it started (e.g. ECHILD: someone else reaped the task). */
  error: NativeError | null;
}

export interface WaitOptions {
  /** Keep the event loop alive until the task is reaped. Default true. */
  keepAlive?: boolean;
  /** A ptraced task: waitpid(pid, __WALL) reporting stops too (one report per call). Default false. */
  traced?: boolean;
}

export interface RecvResult {
  /** The bytes received; length 0 at EOF. */
  data: Buffer;
  /** Fds received with SCM_RIGHTS, close-on-exec. */
  fds: number[];
  /** Data or fds did not fit (MSG_TRUNC/MSG_CTRUNC, or more than maxFds: the extra fds are closed). */
  truncated: boolean;
}

/** Socket constants exported by fdpass.cc (values from the system headers). */
export type SocketConstantName =
  | 'AF_UNIX' | 'AF_INET' | 'AF_INET6'
  | 'SOCK_STREAM' | 'SOCK_DGRAM' | 'SOCK_SEQPACKET' | 'SOCK_NONBLOCK' | 'SOCK_CLOEXEC'
  | 'SOL_SOCKET' | 'SO_REUSEADDR' | 'SO_REUSEPORT' | 'SO_KEEPALIVE' | 'SO_RCVBUF' | 'SO_SNDBUF'
  | 'SO_RCVLOWAT' | 'SO_SNDLOWAT' | 'SO_BROADCAST' | 'SO_OOBINLINE' | 'SO_ERROR' | 'SO_DOMAIN'
  | 'SO_TYPE' | 'SO_PROTOCOL' | 'SO_ACCEPTCONN'
  | 'IPPROTO_IP' | 'IPPROTO_IPV6' | 'IPPROTO_TCP' | 'IPV6_V6ONLY'
  | 'TCP_NODELAY' | 'TCP_CORK' | 'TCP_KEEPIDLE' | 'TCP_KEEPINTVL' | 'TCP_KEEPCNT' | 'TCP_QUICKACK'
  | 'TCP_DEFER_ACCEPT' | 'TCP_USER_TIMEOUT';

/** Seccomp constants exported by seccomp.cc. */
export type SeccompConstantName =
  | 'SECCOMP_USER_NOTIF_FLAG_CONTINUE' | 'SECCOMP_ADDFD_FLAG_SETFD' | 'SECCOMP_ADDFD_FLAG_SEND'
  | 'SECCOMP_FILTER_FLAG_NEW_LISTENER' | 'SECCOMP_RET_ALLOW' | 'SECCOMP_RET_ERRNO'
  | 'SECCOMP_RET_TRACE' | 'SECCOMP_RET_USER_NOTIF' | 'AUDIT_ARCH_X86_64' | 'AUDIT_ARCH_AARCH64';

/** ptrace constants exported by ptrace.cc. */
export type PtraceConstantName =
  | 'PTRACE_O_TRACESYSGOOD' | 'PTRACE_O_TRACEFORK' | 'PTRACE_O_TRACEVFORK' | 'PTRACE_O_TRACECLONE'
  | 'PTRACE_O_TRACEEXEC' | 'PTRACE_O_TRACEEXIT' | 'PTRACE_O_TRACESECCOMP' | 'PTRACE_O_EXITKILL'
  | 'PTRACE_EVENT_FORK' | 'PTRACE_EVENT_VFORK' | 'PTRACE_EVENT_CLONE' | 'PTRACE_EVENT_EXEC'
  | 'PTRACE_EVENT_EXIT' | 'PTRACE_EVENT_SECCOMP' | 'PTRACE_EVENT_STOP';

/** inotify constants exported by inotify.cc. */
export type InotifyConstantName = 'IN_CLOSE_WRITE' | 'IN_CLOSE_NOWRITE' | 'IN_IGNORED' | 'IN_Q_OVERFLOW';

export type ConstantName = SocketConstantName | SeccompConstantName | PtraceConstantName | InotifyConstantName;

/** One trapped syscall (struct seccomp_notif). */
export interface SeccompNotif {
  /** The cookie every answer names. */
  id: bigint;
  /** The trapping task's tid, in the listener's pid namespace. */
  pid: number;
  flags: number;
  /** Syscall number (for `arch`). */
  nr: number;
  /** AUDIT_ARCH_* */
  arch: number;
  instructionPointer: bigint;
  /** The six raw syscall arguments. */
  args: bigint[];
}

export interface AddFdFlags {
  /** SECCOMP_ADDFD_FLAG_SETFD: install at `newFd` exactly (replacing it); else the lowest free fd. */
  setfd?: boolean;
  /** SECCOMP_ADDFD_FLAG_SEND: also answer the notification with the new fd, atomically. */
  send?: boolean;
  /** O_CLOEXEC on the installed fd. */
  cloexec?: boolean;
}

/**
 * A seccomp user-notification listener fd. A dedicated thread polls it and receives
 * notifications (SECCOMP_IOCTL_NOTIF_RECV), delivering them in batches through one thread-safe
 * function; answers are ioctls on the calling (JS) thread. Does not own the fd.
 * Answers to a task that is gone (it died, or a signal interrupted the trapped call) throw a
 * NativeError with code ENOENT: see isNotificationGone().
 */
/**
 * The event loop watches a fd for readability (uv_poll; the fd is not owned, never closed here):
 * what a net.Socket on the fd would do for an EOF watch, without a stream. start() calls
 * `onReadable()` whenever the fd is readable or hung up (read it until EAGAIN, e.g. recvNow), or
 * `onReadable(err)` once if watching fails (then it has stopped). Ref'd like a Node handle.
 */
export declare class ReadableWatcher {
  constructor(fd: number);
  start(onReadable: (err?: NativeError) => void): void;
  /** No call after it returns. */
  stop(): void;
  ref(): void;
  unref(): void;
}

export declare class SeccompListener {
  constructor(listenerFd: number);
  readonly fd: number;
  /** Between start() and stop() or the end. */
  readonly running: boolean;
  /**
   * Starts the receiving thread. `onEnd` is called once when no task uses the filter any more
   * (null) or receiving fails (NativeError), never after stop(). While running, the listener
   * keeps itself and (unless unref()'d) the event loop alive. Throws if already running.
   */
  start(onNotif: (notif: SeccompNotif) => void, onEnd?: (err: NativeError | null) => void): void;
  /**
   * As start(), without the thread: the event loop watches the listener fd and each notification
   * is received and delivered on the JS thread as it arrives (one thread hand-over fewer per call).
   * Falls back to start() for a fd the loop cannot watch.
   */
  startOnLoop(onNotif: (notif: SeccompNotif) => void, onEnd?: (err: NativeError | null) => void): void;
  /** Stops and joins the thread; no callback runs after it returns (undelivered notifications are dropped). */
  stop(): void;
  /** SECCOMP_IOCTL_NOTIF_SEND: `error` is a positive errno (0: success, returning `val`); flags: SECCOMP_USER_NOTIF_FLAG_CONTINUE (val, error 0). */
  respond(id: bigint, val: bigint | number, error: number, flags: number): void;
  /** SECCOMP_IOCTL_NOTIF_ADDFD: installs a duplicate of our `srcFd` in the task; returns its number there. */
  addFd(id: bigint, srcFd: number, newFd: number, flags?: AddFdFlags): number;
  /**
   * addFd on a worker thread (the ioctl waits for the task to install the fd), followed by a SEND
   * answering the call with `then` when given (not with `send`); `onFail(err)` runs on the loop
   * if either fails, and nothing runs on success (no wake-up of the loop). `srcFd` is the
   * worker's from now on (closed right after the ADDFD).
   */
  addFdAsync(
    id: bigint,
    srcFd: number,
    newFd: number,
    flags: AddFdFlags,
    then: { val: number; error: number } | null,
    onFail: (err: NativeError) => void,
  ): void;
  /** SECCOMP_IOCTL_NOTIF_ID_VALID: the notification is still pending (re-check after reading task memory). */
  idValid(id: bigint): boolean;
  /**
   * SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) (Linux 6.6): the task and
   * the sentry wake each other on the current CPU. False where the kernel lacks it.
   */
  setSyncWakeUp(): boolean;
  /**
   * Loop mode: after the last waiting notification, poll the listener for up to `us`
   * microseconds before returning to the event loop (0: never). A call that follows within that
   * time needs no wake-up of a sleeping thread.
   */
  setSpin(us: number): void;
  /** Keep the event loop alive while running (the default). */
  ref(): void;
  unref(): void;
}

export type Callback<T> = (err: NativeError | null, result: T) => void;

/** The raw addon exports, exactly as registered by the C++ init functions. */
export interface NativeBinding {
  /** Registers the class every failure is thrown as: `new ctor(syscall, errno)`. Called by the loader. */
  setErrorClass(ctor: new (syscall: string, errno: number) => Error): void;
  /** Numbers from the system headers the addon was built against. */
  readonly constants: Readonly<Record<ConstantName, number>>;

  // --- process supervision (process.cc)
  /**
   * Waits for a child on a dedicated thread (waitid(P_PID, WEXITED); with `traced`, waitpid(__WALL))
   * and calls `cb` once on the JS thread. Throws ECHILD at once if `pid` is not a child. For
   * children libuv does not know (e.g. created with CLONE_PARENT by tsor-init): libuv reaps only
   * its own children, pid by pid.
   */
  waitPid(pid: number, cb: (status: WaitStatus) => void, options?: WaitOptions): void;
  /** pidfd_open(pid, 0): a close-on-exec pidfd. */
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  /** pidfd_getfd: a close-on-exec duplicate of `targetFd` of the pidfd's process. */
  pidfdGetfd(pidfd: number, targetFd: number): number;
  closeFd(fd: number): void;
  /** prctl(PR_SET_CHILD_SUBREAPER). */
  setChildSubreaper(on: boolean): void;
  getChildSubreaper(): boolean;
  /** prctl(PR_SET_PDEATHSIG); 0 clears it. */
  setPdeathsig(signal: number): void;
  getPdeathsig(): number;
  /** fstat(fd): the (st_dev, st_ino) identity of the open file, e.g. a socket behind an app fd. */
  fstatIno(fd: number): { dev: bigint; ino: bigint };
  /** Sets or clears O_NONBLOCK (per open file description). */
  setNonblock(fd: number, on: boolean): void;
  /** fcntl(F_GETFL): the open file's status flags (O_NONBLOCK is per open file description). */
  getFileFlags(fd: number): number;

  // --- unix sockets and fd passing (fdpass.cc)
  /** socketpair(AF_UNIX, type | SOCK_CLOEXEC); type defaults to SOCK_STREAM. */
  socketpair(type?: number): [number, number];
  /** One sendmsg(MSG_NOSIGNAL) carrying `fds` (SCM_RIGHTS, at most 253); data must be non-empty. Returns bytes sent. */
  sendFds(sock: number, data: Uint8Array, fds: number[]): number;
  /** One recvmsg on its own thread (waits with poll on a non-blocking socket); keeps the loop alive. */
  recvFds(sock: number, maxData: number, maxFds: number, cb: Callback<RecvResult>): void;
  /**
   * One recvmsg(MSG_DONTWAIT) now, on this thread: the message and its fds (empty data and no
   * fds at EOF), or null if none waits (EAGAIN). For a socket a ReadableWatcher watches.
   */
  recvFdsNow(sock: number, maxData: number, maxFds: number): RecvResult | null;
  /** One recv(MSG_DONTWAIT) now, on this thread: the bytes (empty at EOF), or null if none wait (EAGAIN). */
  recvNow(sock: number, maxData: number): Buffer | null;
  /**
   * recv(MSG_TRUNC) as TCP does it, on a stream socket that would copy (a connection's end): up
   * to `maxBytes` of what waits now consumed unseen (or with `peek` only counted, from SO_PEEK_OFF
   * on if set, which moves past them), 0 at EOF (or for maxBytes 0 with data waiting), -1 if
   * nothing waits. Never blocks.
   */
  discardNow(sock: number, maxBytes: number, peek?: boolean): number;
  /** One send(MSG_DONTWAIT | MSG_NOSIGNAL) now, on this thread: bytes sent, or -1 if the buffer is full (EAGAIN). */
  sendNow(sock: number, data: Uint8Array): number;
  getsockoptInt(fd: number, level: number, name: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;

  // --- inet sockets the sentry holds (inet.cc): never blocking, errors as NativeError
  /** A close-on-exec socket created inside the network namespace at `netnsPath` (setns on a short-lived thread). */
  socketInNetns(netnsPath: string, domain: number, type: number, protocol: number): number;
  /** `count` such sockets for the cost of one thread (a pool). */
  socketsInNetns(netnsPath: string, domain: number, type: number, protocol: number, count: number): number[];
  /**
   * A new network namespace whose lo is up with MTU `mtu` (68-65536), as a close-on-exec fd (it
   * lives while the fd is open; `/proc/self/fd/N` names it for socketsInNetns). CAP_SYS_ADMIN.
   */
  loopbackNetns(mtu: number): number;
  bind(fd: number, sockaddr: Uint8Array): void;
  listen(fd: number, backlog: number): void;
  /** A connection if one is queued now (accept4 SOCK_CLOEXEC|SOCK_NONBLOCK after a zero poll), with the peer's sockaddr; else null. */
  acceptNow(fd: number): { fd: number; addr: Buffer } | null;
  /** connect(2) with `sockaddr` as given: 0, or the errno it answered (EINPROGRESS on a non-blocking socket). */
  connectNow(fd: number, sockaddr: Uint8Array): number;
  getsockname(fd: number): Buffer;
  getpeername(fd: number): Buffer;
  /** getsockopt with a buffer of `maxLen` bytes (at most 512): the bytes the kernel answered. */
  getsockoptBuf(fd: number, level: number, name: number, maxLen: number): Buffer;
  setsockoptBuf(fd: number, level: number, name: number, value: Uint8Array): void;
  /**
   * For each [level, name, default] triple of `options` (flat), sets on `to` the value `from`
   * holds unless it is what a new socket holds (`default` for an int-sized value, all zero bytes
   * for a longer one); options either socket refuses are skipped. Returns how many were set.
   */
  copySocketOptions(from: number, to: number, options: Int32Array): number;
  /** poll(2) with a zero timeout: the revents, 0 if none. */
  pollNow(fd: number, events: number): number;
  /** null unless an AF_INET/AF_INET6 TCP socket; else its family, TCP state, IPV6_V6ONLY and name, in one call. */
  inspectTcp(fd: number): { domain: number; state: number; v6only: boolean; name: Buffer } | null;
  /** The `flags:` of /proc/<pid>/fdinfo/<fd> (pid 0: self), or -1 if gone. */
  fdinfoFlags(pid: number, fd: number): number;
  /** SO_LINGER {1, 0} then close: RST, no TIME_WAIT. */
  closeReset(fd: number): void;

  // --- close watches (inotify.cc): the last close of a file the app holds
  /** inotify_init1(IN_NONBLOCK | IN_CLOEXEC). */
  inotifyInit(): number;
  /** A watch (IN_CLOSE) on the inode `fd` refers to, through /proc/self/fd: its watch descriptor. */
  inotifyWatchClose(inotifyFd: number, fd: number): number;
  /** inotify_rm_watch; a watch already gone is not an error. */
  inotifyRmWatch(inotifyFd: number, wd: number): void;
  /** The queued events as [wd, mask, wd, mask, ...]; empty if none. */
  inotifyRead(inotifyFd: number): Int32Array;

  // --- epoll registrations of a replaced socket (epoll.cc)
  /**
   * kcmp(KCMP_EPOLL_TFD): whether the epoll instance at `epfd` in process `pid` holds the file at
   * `fd` under that number. Throws NativeError when it cannot tell (EBADF: no such fd or epfd;
   * EINVAL: `epfd` is not an epoll instance).
   */
  epollHolds(pid: number, fd: number, epfd: number): boolean;
  /**
   * In the epoll instance of our `epfd`, the registration keyed by the app's fd number `tfd` moves
   * from our `oldFd`'s file to our `newFd`'s: EPOLL_CTL_ADD of the new with the app's `events` and
   * `data`, then EPOLL_CTL_DEL of the old (one request to a thread with a private fd table, where
   * each file sits at `tfd` in turn). A registration already there (EEXIST) or already gone
   * (ENOENT) is taken as moved: another fd of the process names the same epoll instance.
   */
  epollMoveAs(epfd: number, oldFd: number, newFd: number, tfd: number, events: number, data: bigint): void;
  /**
   * An epoll instance (close-on-exec, the caller closes it) watching our `fd` for `events`
   * edge-triggered: readable again after each wake-up of `fd` with one of them once drained, so a
   * ReadableWatcher on it hears of news (more bytes, a hang-up) on a fd that stays readable.
   */
  edgeWatchFd(fd: number, events: number): number;
  /** epoll_wait with no wait on an edgeWatchFd instance: the events it had queued, 0 if none. */
  edgeWatchDrain(epfd: number): number;

  // --- unix listening/connecting sockets (unix.cc): tsor-netd's API socket
  /**
   * socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC) bound to `path` and listening. type defaults
   * to SOCK_SEQPACKET, backlog to 128. A path starting with '@' is an abstract name (no file; gone
   * with the last fd: a lock that a crash releases). The caller removes a stale socket file first.
   */
  unixListen(path: string, type?: number, backlog?: number): number;
  /** A close-on-exec socket connected to `path` ('@': abstract); ENOENT / ECONNREFUSED when nobody listens. */
  unixConnect(path: string, type?: number): number;
  /** One accept4 on its own thread (poll, then accept): a blocking close-on-exec fd. shutdownFd(sock) ends the wait with EINVAL. */
  unixAccept(sock: number, cb: Callback<number>): void;
  /** SO_PEERCRED: who is at the other end (as of connect / socketpair). */
  peerCred(sock: number): { pid: number; uid: number; gid: number };
  /** shutdown(SHUT_RDWR): wakes a pending recvFds (EOF) or unixAccept (EINVAL) on the socket; close it after they report. */
  shutdownFd(sock: number): void;

  // --- seccomp user notification (seccomp.cc)
  /** seccomp(SECCOMP_GET_NOTIF_SIZES): the running kernel's struct sizes. */
  seccompNotifSizes(): { notif: number; resp: number; data: number };
  /**
   * What a SeccompListener in loop mode answers without calling JS: setsockopt of a configured
   * [level, name] on a socket whose inode was marked, with optlen 4 and a value in [min, max]
   * (answered 0 and recorded for take()). Anything else reaches JS as before. One per addon instance.
   */
  fastSetsockopt: FastSetsockoptApi;
  readonly SeccompListener: typeof SeccompListener;
  readonly ReadableWatcher: typeof ReadableWatcher;

  // --- another process's memory (memory.cc)
  /** process_vm_readv: up to `len` bytes at `addr` (fewer if the range runs into an unmapped page); EFAULT, ESRCH. */
  processVmReadv(pid: number, addr: bigint | number, len: number): Buffer;
  /** process_vm_writev: returns the bytes written; EFAULT, ESRCH. */
  processVmWritev(pid: number, addr: bigint | number, data: Uint8Array): number;

  // --- ptrace (ptrace.cc). Every request must come from the thread that seized the task (the
  // JS thread); wait for stops with waitPid(pid, cb, { traced: true }).
  /** PTRACE_SEIZE with PTRACE_O_* options; the task keeps running. */
  ptraceSeize(pid: number, options: number): void;
  /** PTRACE_INTERRUPT: stop a seized task (it reports PTRACE_EVENT_STOP). */
  ptraceInterrupt(pid: number): void;
  /** PTRACE_CONT, delivering `signal` (0: none). */
  ptraceCont(pid: number, signal: number): void;
  ptraceDetach(pid: number, signal: number): void;
  /** PTRACE_LISTEN: a task in group-stop stays stopped (until SIGCONT) without the tracer holding it. */
  ptraceListen(pid: number): void;
  /** PTRACE_GETREGSET(NT_PRSTATUS): user_regs_struct, one word per register (see ptraceRegNames). */
  ptraceGetRegs(pid: number): BigUint64Array;
  /** PTRACE_SETREGSET(NT_PRSTATUS): all registers, as ptraceGetRegs returned them. */
  ptraceSetRegs(pid: number, regs: BigUint64Array): void;
  /** PTRACE_GETEVENTMSG: the last event's message (e.g. the seccomp filter's SECCOMP_RET_DATA). */
  ptraceGetEventMsg(pid: number): bigint;
  /** user_regs_struct field names in order (x86_64: r15 ... orig_rax ... gs); empty on other architectures. */
  readonly ptraceRegNames: readonly string[];
}

/** native.fastSetsockopt (native/addon/src/seccomp.cc, FastSetsockopt in common.h). */
export interface FastSetsockoptApi {
  /** [level, name, min, max] quadruples; an empty array turns the fast path off. */
  configure(rules: Int32Array): void;
  mark(ino: bigint): void;
  unmark(ino: bigint): void;
  /** The calls answered since the last take, as [ino, name, value] triples; null if none. */
  take(): BigInt64Array | null;
  stats(): { answered: number; inodes: number };
}
