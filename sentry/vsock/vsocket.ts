// A virtual TCP socket: what the sentry knows about one socket the app created with socket(2).
// The app holds one end (A1) of an AF_UNIX stream socketpair; the vsocket is keyed by that end's
// inode, so dup/fork/SCM_RIGHTS copies of the fd all find it. Today the bytes travel through the
// socketpair itself (the kernel moves them; the sentry never sees them); `dataPath` names that, so
// a second data path (shared-memory rings injected into the app, DESIGN.md "Later: an in-process
// data path") can be added without code assuming the socketpair carries the bytes.

import type { Task } from "../platform/platform.js";
import { AF_INET6, isV4Mapped, type InetAddr, type InetFamily } from "./address.js";
import type { ShadowSocket } from "./kernel.js";
import type { Binding } from "./registry.js";
import { native, type ReadableWatcher } from "../../native/index.js";
import { IPPROTO_IPV6, IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT, SOL_SOCKET } from "../syscalls/linux.js";

export type VSocketState = "unbound" | "bound" | "listening" | "connecting" | "connected";

/** TCP states a connected vsocket reports (include/net/tcp_states.h), from the FINs the sentry saw. */
export function connectionTcpState(vs: { sentFin: boolean; rcvdFin: boolean }): "ESTABLISHED" | "FIN_WAIT2" | "CLOSE_WAIT" | "CLOSE" {
  if (vs.sentFin) return vs.rcvdFin ? "CLOSE" : "FIN_WAIT2";
  return vs.rcvdFin ? "CLOSE_WAIT" : "ESTABLISHED";
}

/** How the bytes of a connected vsocket travel. */
export type DataPath = "socketpair";

/** The byte written to the app's end per pending connection (its value carries no meaning). */
const READINESS_BYTE = Buffer.from([0x2a]);

/**
 * The sentry's end (A2) of a vsocket's socketpair while the sentry holds it (not yet handed to a
 * peer). Watches it: EOF means the app closed its last copy of A1 (close is not trapped), and
 * writes one readiness byte per pending connection of a listener (the app's epoll/poll/select on
 * A1 then see it readable). The watch is a bare event-loop poll on the fd (the addon's
 * ReadableWatcher), not a net.Socket: no stream per socket() on the trap path.
 */
export class SentryEnd {
  private watcher: ReadableWatcher | null;
  /** Readiness bytes that found the buffer full, written on a retry. */
  private unsent = 0;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    readonly fd: number,
    private readonly onHangup: () => void,
  ) {
    // O_NONBLOCK as a stream on the fd would have set it (the end keeps it when handed over).
    native.setNonblock(fd, true);
    const watcher = new native.ReadableWatcher(fd);
    watcher.start((err) => {
      if (this.watcher !== watcher) return;
      if (err) return this.hangup();
      this.drain();
    });
    watcher.unref();
    this.watcher = watcher;
  }

  /**
   * Look at the end now instead of when the event loop's watch next runs: close(2) is not
   * trapped, so an app that closed its listener a moment ago may not have been noticed yet, and
   * a connect must then be refused as Linux refuses it.
   */
  pollNow(): void {
    if (this.watcher) this.drain();
  }

  /** Bytes the app wrote to an unconnected socket are dropped; EOF or an error is the hangup. */
  private drain(): void {
    for (;;) {
      let got: Buffer | null;
      try {
        got = native.recvNow(this.fd, 65536);
      } catch {
        return this.hangup();
      }
      if (got === null) return;
      if (got.length === 0) return this.hangup();
    }
  }

  get open(): boolean {
    return this.watcher !== null;
  }

  private hangup(): void {
    if (!this.watcher) return;
    this.close();
    this.onHangup();
  }

  /** One more pending connection: one readiness byte for the app's end, written at once. */
  signal(): void {
    if (!this.watcher) return;
    this.unsent++;
    this.flush();
  }

  private flush(): void {
    while (this.unsent > 0 && this.watcher) {
      let sent: number;
      try {
        sent = native.sendNow(this.fd, READINESS_BYTE);
      } catch {
        this.unsent = 0;
        return; // the app's end is gone (EPIPE): the watch sees the hangup
      }
      if (sent !== 1) {
        // The buffer is full (the app wrote into its listener and never reads): try again soon.
        this.retry ??= setTimeout(() => {
          this.retry = null;
          this.flush();
        }, 1).unref();
        return;
      }
      this.unsent--;
    }
  }

  /** Stops watching and hands the end over: the fd, owned by the caller from now on. */
  release(): number {
    if (!this.stop()) throw new Error("SentryEnd.release: the end is already closed");
    return this.fd;
  }

  close(): void {
    if (this.stop()) closeQuietly(this.fd);
  }

  /** Ends the watch; true if it was running (the fd is still ours). */
  private stop(): boolean {
    const watcher = this.watcher;
    if (!watcher) return false;
    this.watcher = null;
    watcher.stop();
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.unsent = 0;
    return true;
  }
}

/** The recorded socket options (for getsockopt and for replay on the kernel fallback). */
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
}

/** A connection waiting in a listener's queue, as the server will see it. */
export type PendingConn =
  /** From a vsocket of this stack: `fd` is the client's A2; addresses from the server's side. */
  | { kind: "local"; fd: number; local: InetAddr; peer: InetAddr; opts: SockOpts; client: VirtualSocket }
  /** Handed over by tsor-netd from another pod's sentry: `fd` is that client's A2; addresses from the server's side. */
  | { kind: "remote"; fd: number; local: InetAddr; peer: InetAddr; opts: SockOpts }
  /** Accepted by the shadow kernel listener (a client outside TSoR): installed as is. */
  | { kind: "kernel"; fd: number; peer: InetAddr | null };

export type AcceptWake =
  | { kind: "conn"; conn: PendingConn }
  /** The listener went away (the app closed or shut down its fd) while the accept was held. */
  | { kind: "closed" }
  /** The held call is no longer pending (a signal interrupted it); the connection went elsewhere. */
  | { kind: "interrupted" };

interface AcceptWaiter {
  readonly task: Task;
  readonly resolve: (w: AcceptWake) => void;
}

/** A listener's accept queue: pending connections, held accepts, and connects waiting for room. */
export class ListenQueue {
  readonly pending: PendingConn[] = [];
  private waiters: AcceptWaiter[] = [];
  private roomWaiters: (() => void)[] = [];

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
   * else it is queued ("queued": the caller signals readiness).
   */
  offer(conn: PendingConn): "delivered" | "queued" {
    while (this.waiters.length > 0) {
      const w = this.waiters.shift()!;
      if (!w.task.stillPending()) {
        w.resolve({ kind: "interrupted" });
        continue;
      }
      w.resolve({ kind: "conn", conn });
      return "delivered";
    }
    this.pending.push(conn);
    return "queued";
  }

  /** The oldest pending connection, if any (a connect waiting for room may proceed). */
  take(): PendingConn | undefined {
    const conn = this.pending.shift();
    if (conn) this.roomWaiters.shift()?.();
    return conn;
  }

  /** Holds an accept until a connection arrives or the listener closes. */
  wait(task: Task): Promise<AcceptWake> {
    return new Promise((resolve) => this.waiters.push({ task, resolve }));
  }

  /** Holds a blocking connect until the queue has room (resolves false if the listener closed). */
  waitRoom(): Promise<boolean> {
    return new Promise((resolve) => this.roomWaiters.push(() => resolve(!this.closed)));
  }

  private closed = false;

  /** The listener is gone: wakes everyone; returns the connections nobody will accept. */
  close(): PendingConn[] {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve({ kind: "closed" });
    for (const r of this.roomWaiters.splice(0)) r();
    return this.pending.splice(0);
  }
}

export class VirtualSocket {
  state: VSocketState = "unbound";
  /** getsockname's answer once bound or connected (in this socket's family: v4 peers are v4-mapped on AF_INET6). */
  local: InetAddr | null = null;
  /** getpeername's answer once connected. */
  peer: InetAddr | null = null;
  /** The pending error SO_ERROR reports (and clears). */
  soError = 0;
  readonly opts = new SockOpts();
  /** The registry entry while bound. */
  binding: Binding<VirtualSocket> | null = null;
  /** The kernel socket holding the same address in the netns, while bound/listening. */
  shadow: ShadowSocket | null = null;
  /** The (address, port) this listener is registered under with tsor-netd, if it is. */
  netdListen: { ip: string; port: number } | null = null;
  /** The accept queue while listening. */
  queue: ListenQueue | null = null;
  /**
   * The app closed its last fd of this listener while accepts were held: as on Linux (where each
   * blocked accept holds a reference to the file), it keeps listening until they return.
   */
  closing = false;
  /** Readiness bytes written to the app's end and not yet consumed by an accept. */
  signalled = 0;
  readonly dataPath: DataPath = "socketpair";
  /** A connection's own shutdown(SHUT_WR) (its FIN sent; the peer acks at once, as on loopback). */
  sentFin = false;
  /** The peer's shutdown(SHUT_WR) (its FIN received). A peer's close is not trapped, so not seen here. */
  rcvdFin = false;
  /** The other end of a connection between two vsockets of this stack. */
  peerVs: VirtualSocket | null = null;

  constructor(
    /** The inode of the app's end (A1): the vsocket's identity. */
    readonly ino: bigint,
    readonly family: InetFamily,
    /** The sentry's end while it holds it; null once handed to a peer, and for accepted sockets. */
    public end: SentryEnd | null,
  ) {}

  /** IPV6_V6ONLY (recorded by setsockopt; AF_INET sockets: false). */
  get v6only(): boolean {
    return this.family === AF_INET6 && this.opts.getInt(IPPROTO_IPV6, IPV6_V6ONLY, 0) !== 0;
  }

  get reuseAddr(): boolean {
    return this.opts.getInt(SOL_SOCKET, SO_REUSEADDR, 0) !== 0;
  }

  get reusePort(): boolean {
    return this.opts.getInt(SOL_SOCKET, SO_REUSEPORT, 0) !== 0;
  }

  /** Bound (directly or by connect) to a v4-mapped IPv6 address. */
  get boundV4Mapped(): boolean {
    return this.local !== null && this.family === AF_INET6 && isV4Mapped(this.local.ip);
  }
}

/** Closes an fd the sentry owns, ignoring errors (it may be gone already). */
export function closeQuietly(fd: number): void {
  try {
    native.closeFd(fd);
  } catch {
    /* already closed */
  }
}
