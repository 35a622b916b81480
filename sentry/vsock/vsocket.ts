// What the sentry knows about the app's TCP sockets it has taken over. An unconnected TCP socket
// is a real kernel socket in the pod's netns (socket(2) and bind(2) run natively, so fresh
// sockets poll, read and write exactly as Linux's do); the sentry takes one over when it listens
// (a *listener*: the app's fd stays that kernel listener, the sentry queues virtual connections
// for it) or connects to a TSoR listener (a *connection*: the app's fd is replaced by one end of
// an AF_UNIX stream socketpair that carries the bytes). A vsocket is keyed by the inode of the
// app's file, so dup/fork/SCM_RIGHTS copies of the fd all find it. `dataPath` names how bytes
// travel, so a second data path (DESIGN.md "Later: an in-process data path") can be added
// without code assuming the socketpair.

import type { Task } from "../platform/platform.js";
import { AF_INET6, type InetAddr, type InetFamily } from "./address.js";
import type { Binding } from "./registry.js";
import { native } from "../../native/index.js";
import { IPPROTO_IPV6, IPV6_V6ONLY, SO_LINGER, SO_REUSEADDR, SO_REUSEPORT, SOL_SOCKET } from "../syscalls/linux.js";

export type VSocketState = "listening" | "connecting" | "connected";

/** TCP states a connection reports (include/net/tcp_states.h), from the FINs the sentry saw. */
export function connectionTcpState(vs: { sentFin: boolean; rcvdFin: boolean }): "ESTABLISHED" | "FIN_WAIT2" | "CLOSE_WAIT" | "CLOSE" {
  if (vs.sentFin) return vs.rcvdFin ? "CLOSE" : "FIN_WAIT2";
  return vs.rcvdFin ? "CLOSE_WAIT" : "ESTABLISHED";
}

/** The smaller of two TCP_MAXSEG caps, 0 standing for none. */
export function smallerMssCap(a: number, b: number): number {
  return a > 0 && b > 0 ? Math.min(a, b) : a > 0 ? a : b > 0 ? b : 0;
}

/** How the bytes of a connection travel. */
export type DataPath = "socketpair";

/** Socket options as set (for getsockopt on a connection, and what accepted sockets inherit). */
export class SockOpts {
  private readonly values = new Map<string, { level: number; name: number; value: Buffer }>();

  set(level: number, name: number, value: Buffer): void {
    this.values.set(`${level}/${name}`, { level, name, value: Buffer.from(value) });
  }

  get(level: number, name: number): Buffer | undefined {
    return this.values.get(`${level}/${name}`)?.value;
  }

  getInt(level: number, name: number, dflt: number): number {
    const v = this.get(level, name);
    return v && v.length >= 4 ? v.readInt32LE(0) : dflt;
  }

  setInt(level: number, name: number, value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value, 0);
    this.set(level, name, b);
  }

  all(): { level: number; name: number; value: Buffer }[] {
    return [...this.values.values()];
  }

  copyFrom(other: SockOpts): void {
    for (const o of other.all()) this.set(o.level, o.name, o.value);
  }

  delete(level: number, name: number): void {
    this.values.delete(`${level}/${name}`);
  }
}

/** The most bytes of an option's value the sentry keeps (an unknown option set, or one read back). */
export const MAX_OPTION_LEN = 256;

/**
 * Options the kernel set at the app's word on one of its sockets (a setsockopt of an option the
 * sentry does not emulate, let through so that the app's own privileges and Linux's checks
 * decide): their values are read back from that socket when a connection takes them over.
 */
export class KernelSetOpts {
  private readonly names = new Map<string, { level: number; name: number }>();

  add(level: number, name: number): void {
    this.names.set(`${level}/${name}`, { level, name });
  }

  /** Reads each from socket `fd` into `opts`; one the kernel does not read back (set-only) is left out. */
  readInto(fd: number, opts: SockOpts, maxLen: number): void {
    for (const { level, name } of this.names.values()) {
      try {
        opts.set(level, name, native.getsockoptBuf(fd, level, name, maxLen));
      } catch {
        /* set-only, or gone */
      }
    }
  }
}

/**
 * A connection waiting in a listener's queue, as the server will see it. `opts`: the options it
 * answers once accepted, its listener's (the same object until an option is set on the listener
 * while it waits: SocketStack.keepQueuedOptions). `kernelOptsTaken`: its end holds the listener's
 * kernel-held options already (copyKernelSocketOptions), so the accept does not copy them again.
 * `synHops`: the TTL or hop limit its client set before connecting, which its SYN carried.
 */
export type PendingConn =
  /**
   * From a vsocket of this stack: `fd` is the server's end of the socketpair; addresses from the
   * server's side. `marked`: its QUEUED_MARK (stack.ts) still waits in `fd`.
   */
  | { kind: "local"; fd: number; local: InetAddr; peer: InetAddr; opts: SockOpts; client: VirtualSocket; marked: boolean; kernelOptsTaken?: boolean; synHops?: number }
  /**
   * Handed over by tsor-netd from another pod's sentry: `fd` is the server's end; addresses from
   * the server's side. `marked`: its QUEUED_MARK still waits in `fd` (netd's "queued-mark").
   */
  | { kind: "remote"; fd: number; local: InetAddr; peer: InetAddr; opts: SockOpts; marked: boolean; kernelOptsTaken?: boolean }
  /** Accepted from the listener's own kernel queue (a client outside TSoR): installed as is. */
  | { kind: "kernel"; fd: number; peer: InetAddr | null };

export type AcceptWake =
  | { kind: "conn"; conn: PendingConn }
  /** The kernel listener has something (a client outside TSoR, or an error): look again. */
  | { kind: "kernel" }
  /** The listener stopped listening (shutdown) while the accept was held. */
  | { kind: "closed" }
  /** The held call is no longer pending (a signal interrupted it); the connection went elsewhere. */
  | { kind: "interrupted" };

export interface AcceptWaiter {
  readonly task: Task;
  readonly resolve: (w: AcceptWake) => void;
}

/** How often held accepts are checked for calls a signal ended. */
const HELD_ACCEPT_SWEEP_MS = 1000;

/** A listener's virtual accept queue: pending connections, held accepts, and connects waiting for room. */
export class ListenQueue {
  readonly pending: PendingConn[] = [];
  private waiters: AcceptWaiter[] = [];
  private roomWaiters: (() => void)[] = [];
  private closed = false;

  constructor(public backlog: number) {}

  /** How many accepts are held. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** sk_acceptq_is_full: more than `backlog` connections wait. */
  get full(): boolean {
    return this.pending.length > this.backlog;
  }

  /**
   * A new connection: the first held accept whose call is still pending takes it ("delivered"),
   * else it is queued ("queued": the caller rings the listener's doorbell).
   */
  offer(conn: PendingConn): "delivered" | "queued" {
    while (this.waiters.length > 0) {
      const w = this.waiters.shift()!;
      if (!w.task.stillPending()) {
        w.resolve({ kind: "interrupted" });
        continue;
      }
      // After the current turn's promise jobs: the connect that brought the connection is
      // answered first (the accept's answer waits for the server thread to install the fd).
      process.nextTick(() => w.resolve({ kind: "conn", conn }));
      this.waitersChanged();
      return "delivered";
    }
    this.waitersChanged();
    this.pending.push(conn);
    return "queued";
  }

  /** Puts back a connection an interrupted accept took (at the head: it was the oldest). */
  unshift(conn: PendingConn): void {
    this.pending.unshift(conn);
  }

  /** The oldest pending connection, if any (a connect waiting for room may proceed). */
  take(): PendingConn | undefined {
    const conn = this.pending.shift();
    if (conn) this.roomWaiters.shift()?.();
    return conn;
  }

  /** Holds an accept until a connection arrives, the kernel listener is readable, or the listener stops. */
  hold(task: Task): { wake: Promise<AcceptWake>; waiter: AcceptWaiter } {
    let waiter!: AcceptWaiter;
    const wake = new Promise<AcceptWake>((resolve) => {
      waiter = { task, resolve };
      this.waiters.push(waiter);
    });
    this.waitersChanged();
    return { wake, waiter };
  }

  /** Ends one held accept with `w` (the kernel side woke it, or its call went away). */
  release(waiter: AcceptWaiter, w: AcceptWake): void {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    waiter.resolve(w);
    this.waitersChanged();
  }

  /**
   * While accepts are held, a timer drops those whose calls are no longer pending: a signal
   * ends a held call without telling the sentry (seccomp_unotify(2)), and the accept's duplicate
   * of the listener would otherwise keep the file open for good.
   */
  private sweeper: NodeJS.Timeout | null = null;

  private waitersChanged(): void {
    if (this.waiters.length > 0) {
      this.sweeper ??= setInterval(() => {
        for (const w of [...this.waiters]) if (!w.task.stillPending()) this.release(w, { kind: "interrupted" });
      }, HELD_ACCEPT_SWEEP_MS).unref();
    } else if (this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** Holds a blocking connect until the queue has room (resolves false if the listener closed). */
  waitRoom(): Promise<boolean> {
    return new Promise((resolve) => this.roomWaiters.push(() => resolve(!this.closed)));
  }

  /** The listener is gone: wakes everyone; returns the connections nobody will accept. */
  close(): PendingConn[] {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve({ kind: "closed" });
    this.waitersChanged();
    for (const r of this.roomWaiters.splice(0)) r();
    return this.pending.splice(0);
  }
}

export class VirtualSocket {
  state: VSocketState;
  /** getsockname's answer (in this socket's family: v4 peers are v4-mapped on AF_INET6). */
  local: InetAddr | null = null;
  /** getpeername's answer once connected. */
  peer: InetAddr | null = null;
  /** The pending error SO_ERROR reports (and clears). */
  soError = 0;
  readonly opts = new SockOpts();
  /** A listener's entry in the stack's listener registry. */
  binding: Binding<VirtualSocket> | null = null;
  /** The (address, port) this listener is registered under with tsor-netd, if it is. */
  netdListen: { ip: string; port: number } | null = null;
  /** A listener's virtual accept queue. */
  queue: ListenQueue | null = null;
  /**
   * A listener's doorbells: the sentry's kernel client sockets connected to the app's kernel
   * listener, one per queued virtual connection, by their local port. Each makes the listener
   * readable for the app's epoll/poll/select exactly as a real client would; the accept that
   * takes the virtual connection accepts the doorbell too and resets both.
   */
  readonly doorbells = new Map<number, number>();
  /**
   * TCP_DEFER_ACCEPT on a listener, in seconds (0: off): a virtual connection is queued once the
   * client's first bytes arrive, and its doorbell carries a byte (the kernel queues it only then).
   */
  deferAcceptSecs = 0;
  /** Virtual connections handed out before their doorbell reached the kernel queue (discarded on arrival). */
  orphanDoorbells = 0;
  /** Queued virtual connections whose doorbell is not rung yet (ringing waits for the event loop's turn). */
  unrung = 0;
  ringScheduled = false;
  /**
   * A listener that stopped listening (shutdown(SHUT_RD), connect(AF_UNSPEC)) whose socket the
   * app still has: still bound, it keeps its port for the connections it served until its close.
   */
  stoppedOpen = false;
  /** Where the app called listen(2): its process and fd (whether it still holds the listener). */
  listenedAt: { tgid: number; fd: number } | null = null;
  readonly dataPath: DataPath = "socketpair";
  /** A connection's own shutdown(SHUT_WR) (its FIN sent; the peer acks at once, as on loopback). */
  sentFin = false;
  /** A connection's own shutdown(SHUT_RD): its end shows RCV_SHUTDOWN from then on, whatever the peer does. */
  shutRd = false;
  /**
   * A connecting socket shut down once its connection was over (reset, or both FINs seen):
   * inet_shutdown makes it SS_DISCONNECTING, and connect(2) then answers EINVAL.
   */
  disconnecting = false;
  /** The peer's shutdown(SHUT_WR) (its FIN received), or its close as observePeer saw it. */
  rcvdFin = false;
  /** The peer's close, as the app's end showed it (POLLHUP: both directions shut by the peer's release). */
  peerClosed = false;
  /**
   * The peer closed with bytes of ours unread: unix_release_sock gives the survivor ECONNRESET
   * (sk_err), as tcp_close sends a reset (RFC 2525 2.17). Seen as POLLERR beside POLLHUP, until
   * the app's read or SO_ERROR takes the error; the connection stays reset (CLOSE) after that.
   */
  peerResetSeen = false;
  /** The other end of a connection between two vsockets of this stack. */
  peerVs: VirtualSocket | null = null;
  /**
   * A connection's MSS cap from its handshake (tcp_sync_mss's mss_clamp): the smaller TCP_MAXSEG
   * of the two ends as set before it (ours, and the peer's announced in its SYN or SYN-ACK), 0
   * for none. A TCP_MAXSEG set later changes nothing of it, as on Linux.
   */
  mssCap = 0;
  /** A kernel socket the sentry keeps bound to the port the app bound before connecting (the port stays in use while the connection lives). */
  portHolder: number | null = null;
  /** With portHolder, for an IPv6 end that is not v6only: its IPv4 side (kernelSides in stack.ts). */
  ipv4Holder: number | null = null;
  /** The app bound the connection's local port itself (a kernel port: TIME_WAIT keeps it after a close). */
  boundPort = false;
  /** A client's connection still waiting in this listener's queue (of this stack). */
  queuedAt: VirtualSocket | null = null;
  /** The app closed this client while it waited (queuedAt): its port holders are kept meanwhile (stack.ts leftQueue). */
  closedWhileQueued = false;
  /** The listener a server's end of a connection came from. */
  acceptedFrom: VirtualSocket | null = null;
  /** Order of this connection's FIN in its stack (0: none sent yet); the lower of a pair waits in TIME_WAIT. */
  finSeq = 0;
  /** A listener's served connections that closed first, by local address: TIME_WAITs due when the listener goes. */
  readonly timeWaits = new Map<string, { local: InetAddr; until: number }>();
  /** The close watch on the app's file (CloseWatcher), if any. */
  closeWatch: number | null = null;
  /**
   * A listener's options set by the kernel at the app's word since `opts` last read them
   * (SocketStack.noteListenerOpt): read into `opts` before a connection takes them.
   */
  kernelSet: KernelSetOpts | null = null;

  constructor(
    /** The inode of the app's file: the vsocket's identity. */
    readonly ino: bigint,
    readonly family: InetFamily,
    state: VSocketState,
  ) {
    this.state = state;
  }

  /** A connection (connecting or connected), not a listener. */
  get isConnection(): boolean {
    return this.state !== "listening";
  }

  /** IPV6_V6ONLY as recorded (AF_INET sockets: false). */
  get v6only(): boolean {
    return this.family === AF_INET6 && this.opts.getInt(IPPROTO_IPV6, IPV6_V6ONLY, 0) !== 0;
  }

  get reusePort(): boolean {
    return this.opts.getInt(SOL_SOCKET, SO_REUSEPORT, 0) !== 0;
  }

  get reuseAddr(): boolean {
    return this.opts.getInt(SOL_SOCKET, SO_REUSEADDR, 0) !== 0;
  }

  /** The peer reset the connection (peerResetSeen): it is gone, and the connection is over. */
  markPeerReset(): void {
    this.peerResetSeen = this.rcvdFin = this.peerClosed = true;
  }

  /** SO_LINGER {1, 0}: its close is a reset on TCP (no FIN, no TIME_WAIT). */
  get resetsOnClose(): boolean {
    const l = this.opts.get(SOL_SOCKET, SO_LINGER);
    return l !== undefined && l.length >= 8 && l.readInt32LE(0) !== 0 && l.readInt32LE(4) === 0;
  }
}

const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLRDHUP = 0x2000;

/**
 * What the app's end of a connection (`dup`, the sentry's duplicate) shows of the peer, without
 * consuming anything: the peer's FIN (POLLRDHUP: its shutdown(SHUT_WR) or close) and its close
 * (POLLHUP: unix_release_sock shuts both directions of the survivor). A peer in this stack is
 * also seen going by its close watch; one in another pod only this way. Call before the app's
 * own shutdown(SHUT_RD) (which also shows as POLLRDHUP). POLLERR: the peer's close left our
 * bytes unread, a reset on TCP.
 */
export function observePeer(vs: VirtualSocket, dup: number): void {
  if (vs.state === "listening") return;
  const r = native.pollNow(dup, POLLRDHUP);
  // unix_poll shows the end's own sk_shutdown: after the app's own SHUT_RD, POLLRDHUP (and with
  // its SHUT_WR too, POLLHUP) are its own doing, not the peer's (unix_shutdown sets both ends).
  if (!vs.shutRd && r & (POLLRDHUP | POLLHUP)) vs.rcvdFin = true;
  if (!vs.shutRd && r & POLLHUP) vs.peerClosed = true;
  // Only the peer's release sets an AF_UNIX stream end's sk_err.
  if (r & POLLERR) vs.markPeerReset();
}

/**
 * The peer reset the connection (after which TCP shows it CLOSE at once): it closed with
 * SO_LINGER {1, 0}, or with our bytes unread (observePeer).
 */
export function peerReset(vs: VirtualSocket): boolean {
  return vs.peerResetSeen || (vs.peerClosed && vs.peerVs !== null && vs.peerVs.resetsOnClose);
}

/**
 * The peer's address as inet_getname(peer=1) gives it, or null for its ENOTCONN: not connected,
 * or past the connection (both FINs seen: CLOSE; or the peer reset it). Call observePeer first
 * when the app's end is at hand.
 */
export function connectedPeer(vs: VirtualSocket): InetAddr | null {
  if (!vs.isConnection || !vs.peer) return null;
  if (connectionTcpState(vs) === "CLOSE" || peerReset(vs)) return null;
  return vs.peer;
}

/** Closes an fd the sentry owns, ignoring errors (it may be gone already). */
export function closeQuietly(fd: number): void {
  try {
    native.closeFd(fd);
  } catch {
    /* already closed */
  }
}
