// One container's socket stack: its vsockets by inode (listeners and connections), the listener
// registry, the ephemeral port allocator for virtual connections, accept queues and doorbells,
// and the hand-over of connections through tsor-netd. The app's unconnected TCP sockets are real
// kernel sockets in the pod's netns (socket/bind run natively), so this stack keeps no bind table
// of its own: the kernel decides EADDRINUSE, ephemeral ports of bind(0), SO_REUSEADDR and
// TIME_WAIT. The syscall handlers (sentry/syscalls/sys_*.ts) read and check the app's arguments;
// the state changes happen here.
import { readFileSync, readlinkSync } from "node:fs";
import { constants as osConstants } from "node:os";

import { native, NativeError, type FastSetsockoptApi } from "../../native/index.js";
import type { IncomingConnection, NetdClient } from "../../netstack/client.js";
import type { Endpoint } from "../../netstack/api.js";
import { SyscallError, type Task } from "../platform/platform.js";
import {
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_V6ONLY,
  IP_MULTICAST_TTL,
  IP_TTL,
  IPV6_2292HOPLIMIT,
  IPV6_2292PKTINFO,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_UNICAST_HOPS,
  SOL_SOCKET,
  SO_ERROR,
  SO_PASSRIGHTS,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_ZEROCOPY,
  TCP_DEFER_ACCEPT,
  TCP_FASTOPEN,
  TCP_MAXSEG,
  TCP_WINDOW_CLAMP,
} from "../syscalls/linux.js";
import { decodeSockaddr, formatSockaddr } from "../syscalls/sockaddr.js";
import {
  AF_INET,
  AF_INET6,
  IPV4_LOOPBACK,
  IPV6_LOOPBACK,
  addrText,
  anyOf,
  ipText,
  isAny,
  isLoopback,
  isV4Mapped,
  parseIp,
  v4Mapped,
  v4Of,
  type InetAddr,
  type InetFamily,
} from "./address.js";
import { CloseWatcher } from "./closewatch.js";
import { NetnsKernel, copyKernelSocketOptions, type KernelNet } from "./kernel.js";
import { ListenerRegistry, PortAllocator, type Binding } from "./registry.js";
import { AppEpolls } from "./epoll.js";
import { KernelSetOpts, ListenQueue, MAX_OPTION_LEN, SockOpts, VirtualSocket, closeQuietly, smallerMssCap, type PendingConn } from "./vsocket.js";

export { ListenerRegistry, PortAllocator, EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN } from "./registry.js";

const { EADDRNOTAVAIL, ECONNREFUSED, EINPROGRESS, EINTR, ENOPROTOOPT } = osConstants.errno;

/** The slice of a pino logger the stack and the handlers use. */
export interface StackLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const silent: StackLog = { warn: () => {}, debug: () => {} };

export interface SocketStackOptions {
  /** The container's network namespace (e.g. /proc/<pid>/ns/net): doorbell sockets live there. */
  netnsPath?: string;
  /** Overrides `netnsPath` (tests). */
  kernel?: KernelNet;
  /** The pod's own addresses besides loopback (connect() to them reaches this stack's listeners). */
  localAddresses?: readonly Buffer[];
  /** The node's tsor-netd session (pod-to-pod connections); may also come later (attachNetd). */
  netd?: StackNetd;
  /** false: no inotify close watches, the periodic sweep only (what happens when inotify is unavailable). */
  closeWatches?: boolean;
  log?: StackLog;
}

/**
 * The slice of NetdClient the stack uses (tests fake it): listener registration, the hand-over of
 * a client's end, fallback reports, the pod's IPs and the incoming connections.
 */
export type StackNetd = Pick<
  NetdClient,
  "available" | "podIps" | "supports" | "listen" | "unlisten" | "connect" | "hinted" | "connectHinted" | "reportFallback" | "on" | "off"
>;

/**
 * How many bytes a connection buffers before its writer blocks. An AF_UNIX stream end stops its
 * writer once its sk_sndbuf worth of data waits unread (the reader's buffer plays no part): 208 KiB
 * by default. Loopback TCP buffers about 3.9 MB (tcp_wmem's 4 MB max, rmem autotuning), and apps
 * rely on it (a 1 MB sendfile before the peer reads: test/syscalls/sendfile_socket.c), so each
 * end gets sk_sndbuf 4 MB (SO_SNDBUFFORCE doubles the value; wmem_max caps plain SO_SNDBUF).
 */
const CONNECTION_SNDBUF = 2 * 1024 * 1024;

function sizeSendBuffer(fd: number): void {
  try {
    native.setsockoptInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, CONNECTION_SNDBUF);
  } catch {
    // Without CAP_NET_ADMIN: as much as net.core.wmem_max allows.
    native.setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, CONNECTION_SNDBUF);
  }
}

/** Runs `then` once `ready()` holds, checking every millisecond, or after `tries` checks regardless. */
function settle(ready: () => boolean, then: () => void, tries = 100): void {
  if (ready() || tries <= 0) return then();
  setTimeout(() => settle(ready, then, tries - 1), 1).unref();
}

/** A connection accepted from `listener` now, or -1 (none yet, or an error). */
function acceptQuietly(listener: number): number {
  try {
    return native.acceptNow(listener)?.fd ?? -1;
  } catch {
    return -1;
  }
}

/** Does this kernel have SO_PASSRIGHTS (Linux 6.16)? Learnt from the first connection. */
let kernelHasPassRights: boolean | undefined;

/**
 * No fd crosses a connection: TCP carries no SCM_RIGHTS (__sock_cmsg_send drops them), while an
 * AF_UNIX end takes them unless it refuses with SO_PASSRIGHTS 0, and then the sender's sendmsg
 * fails EPERM instead (a listed divergence: test/syscalls/scm_rights_over_tcp.c). Without it (a
 * kernel before 6.16), a peer can still hand the app an fd (docs/comparison.md).
 */
function refuseFds(fd: number): void {
  if (kernelHasPassRights === false) return;
  try {
    native.setsockoptInt(fd, SOL_SOCKET, SO_PASSRIGHTS, 0);
    kernelHasPassRights = true;
  } catch (e) {
    // sk_setsockopt's answer to an option it does not know.
    if (kernelHasPassRights === undefined && e instanceof NativeError && e.errno === ENOPROTOOPT) kernelHasPassRights = false;
    else throw e;
  }
}

/** Was SO_ZEROCOPY enabled on the socket these options were recorded from? */
function zerocopy(opts: SockOpts): boolean {
  return opts.getInt(SOL_SOCKET, SO_ZEROCOPY, 0) !== 0;
}

/**
 * What a local connection's client end sends first, before the app has it: one byte waiting in
 * the server's end while the connection is queued, which the sentry takes when it hands the end
 * to accept (takeQueuedMark). A queued connection whose listener goes (close, shutdown(SHUT_RD),
 * exit) is then reset, as inet_csk_listen_stop resets TCP's: unix_release_sock gives the client
 * ECONNRESET when the closing end had unread bytes, where a bare close would read as EOF.
 */
const QUEUED_MARK = Buffer.from([0]);

/**
 * A socketpair for one connection: [client's end, server's end], both sized for loopback-like
 * buffering and refusing fds; with `marked`, the server's end holds QUEUED_MARK.
 */
function connectionPair(marked: boolean): [number, number] {
  const pair = native.socketpair();
  try {
    sizeSendBuffer(pair[0]);
    sizeSendBuffer(pair[1]);
    refuseFds(pair[0]);
    refuseFds(pair[1]);
    if (marked && native.sendNow(pair[0], QUEUED_MARK) !== 1) throw new Error("socketpair: the queued mark was not sent");
  } catch (e) {
    closeQuietly(pair[0]);
    closeQuietly(pair[1]);
    throw e;
  }
  return pair;
}

/**
 * Takes QUEUED_MARK from the server's end of a local connection that still holds it (as accept
 * hands the end over): it is the first byte there, whatever the client sent after it. Throws if
 * it is missing.
 */
export function takeQueuedMark(conn: PendingConn): void {
  if (conn.kind === "kernel" || !conn.marked) return;
  // Discarded unseen: no buffer for it on this side.
  if (native.discardNow(conn.fd, 1) !== 1) throw new Error("socketpair: the queued mark is missing");
  conn.marked = false;
}

/**
 * Whether the client of a connection not yet accepted has sent something (bytes beyond its
 * queued mark, or its FIN): what lets a connection into a TCP_DEFER_ACCEPT listener's queue.
 */
function clientSpoke(conn: PendingConn): boolean {
  const mark = conn.kind !== "kernel" && conn.marked ? 1 : 0;
  if (native.discardNow(conn.fd, mark + 1, true) > mark) return true;
  return (native.pollNow(conn.fd, POLLRDHUP) & POLLRDHUP) !== 0;
}

/**
 * LOOPBACK4_IPV6 (include/net/ipv6.h): the IPv4 address Linux keeps in an IPv6 socket's
 * sk_rcv_saddr (inet6_bind, tcp_v6_syn_recv_sock), which IPv4 binds are checked against.
 */
const LOOPBACK4_IPV6 = Buffer.from([127, 0, 0, 6]);

/**
 * The family and address of each kernel socket that stands for a connection's end at `local`
 * (a port holder, a TIME_WAIT): IPv4 (v4-mapped too) as AF_INET, which bind(2) checks alike; an
 * IPv6 address as AF_INET6, and for an end that is not `v6only` also as AF_INET on
 * LOOPBACK4_IPV6. Binding a specific IPv6 address makes a socket v6only (inet6_bind), so that
 * socket alone would let an IPv4 wildcard bind through, where the dual-stack end it stands for
 * (a child of a [::] listener, a client bound to [::]) refuses it: ipv4_rcv_saddr_equal matches
 * the wildcard against its LOOPBACK4_IPV6 unless it is v6only.
 */
function kernelSides(local: InetAddr, v6only: boolean): Array<{ family: InetFamily; ip: Buffer }> {
  const ip4 = v4Of(local.ip);
  if (ip4) return [{ family: AF_INET, ip: ip4 }];
  const v6 = { family: AF_INET6, ip: local.ip } as const;
  return v6only ? [v6] : [v6, { family: AF_INET, ip: LOOPBACK4_IPV6 }];
}

/**
 * A server's end whose connection is over on TCP's terms: both FINs went and its own was the
 * second, so it is TCP_CLOSE with no TIME_WAIT of its own (the peer, which closed first, has it).
 */
function servedAndOver(vs: VirtualSocket): boolean {
  if (!vs.acceptedFrom || vs.boundPort || !vs.sentFin || !vs.rcvdFin) return false;
  const peerFin = vs.peerVs?.finSeq ?? 0;
  return peerFin !== 0 && peerFin < vs.finSeq;
}

/** `ip` (4 or 16 bytes) as an address of a socket of `family` (IPv4 on AF_INET6 becomes v4-mapped). */
function inFamily(family: InetFamily, ip: Buffer, port: number): InetAddr {
  if (family === AF_INET) return { family, ip: v4Of(ip) ?? ip, port };
  return { family, ip: ip.length === 4 ? v4Mapped(ip) : ip, port };
}

/** What a doorbell sends (its value carries no meaning). */
const DOORBELL_BYTE = Buffer.from([0]);

/** How many doorbell sockets one trip into the netns makes. */
const DOORBELL_POOL = 64;

/** A doorbell: the sentry's kernel client connected to a listener, standing for one queued virtual connection. */
interface Doorbell {
  readonly fd: number;
  readonly owner: VirtualSocket;
}

/** The kernel TCP socket the app is connecting, as the handler found it (not yet a vsocket). */
export interface ConnectingSocket {
  readonly family: InetFamily;
  /** Its address if it was bound before connect (getsockname with a port), else null. */
  readonly bound: InetAddr | null;
  /** Options set on it that a connection keeps answering (SockOpts of the handler's recording). */
  readonly opts: SockOpts;
}

/** A connection made: the app's end (installed over its fd), its vsocket, and what connect(2) answers. */
export interface Connected {
  readonly appEnd: number;
  readonly vs: VirtualSocket;
  readonly result: 0 | typeof EINPROGRESS;
}

/**
 * A TCP_WINDOW_CLAMP of 0 set while the socket was TCP_CLOSE (before connect or listen) does not
 * outlive the handshake: tcp_connect_init and tcp_openreq_init_rwin take the route's clamp then,
 * so the connection reads a fresh one's (sys_sockopt.ts), not 0.
 */
function dropZeroWindowClamp(opts: SockOpts): void {
  if (opts.getInt(IPPROTO_TCP, TCP_WINDOW_CLAMP, -1) === 0) opts.delete(IPPROTO_TCP, TCP_WINDOW_CLAMP);
}

/** include/uapi/linux/ip.h: the TTL when the netns's default cannot be read. */
const IPDEFTTL = 64;
/** The loopback device's ifindex in every network namespace (net/core/dev.c: registered first). */
const LOOPBACK_IFINDEX = 1;

/** A connect to another pod waiting for netd's answer (connectRemote): what it made beforehand. */
interface RemoteConnect {
  readonly sock: ConnectingSocket;
  readonly dest: InetAddr;
  readonly nonblock: boolean;
  readonly src: Buffer;
  readonly to: Endpoint;
  readonly from: Endpoint;
  readonly marked: boolean;
  readonly appEnd: number;
  readonly serverEnd: number;
}

/**
 * How often the stack looks for connections the app closed when their close cannot be watched
 * (no inotify instance or watch left: fs.inotify.max_user_instances / max_user_watches).
 */
const SWEEP_INTERVAL_MS = 5000;

/**
 * How long a port stays in TIME_WAIT after the side holding it closed first (TCP_TIMEWAIT_LEN,
 * include/net/tcp.h: 60 s). A real TIME_WAIT socket is left for the kernel's bind checks.
 */
const TIME_WAIT_MS = 60_000;

const POLLIN = 0x1;
const POLLRDHUP = 0x2000;

/** The inodes of the unix sockets in the sentry's netns (/proc/self/net/unix: where it made the socketpairs). */
function liveUnixInodes(): Set<bigint> {
  const live = new Set<bigint>();
  const text = readFileSync("/proc/self/net/unix", "utf8");
  for (const line of text.split("\n").slice(1)) {
    const ino = line.trim().split(/\s+/)[6];
    if (ino) live.add(BigInt(ino));
  }
  return live;
}

export class SocketStack {
  readonly kernel: KernelNet | null;
  readonly registry = new ListenerRegistry<VirtualSocket>();
  readonly ports = new PortAllocator();
  /** The app's epoll instances, for registrations a replaced fd carries over (epoll.ts). */
  readonly epolls = new AppEpolls();
  readonly log: StackLog;
  private readonly sockets = new Map<bigint, VirtualSocket>();
  /** Options the app set on kernel TCP sockets the sentry has not taken over yet, by inode. */
  private readonly kernelOpts = new Map<bigint, SockOpts>();
  private readonly hops = new Map<InetFamily, number>();
  /** Options the kernel set at the app's word on kernel sockets not taken over yet, by inode (noteKernelOpt). */
  private readonly kernelSetOpts = new Map<bigint, KernelSetOpts>();
  /** Kernel sockets whose later connects stay the kernel's (keepWithKernel), by inode. */
  private readonly keptSockets = new Set<bigint>();
  private readonly doorbells = new Map<string, Doorbell>();
  private readonly doorbellPool = new Map<InetFamily, number[]>();
  private localAddrs: Buffer[];
  private readonly ownAddrs: Buffer[];
  /** The pod's IPs from netd's hello reply. */
  private podAddrs: Buffer[] = [];
  private netd: StackNetd | null = null;
  /** The app's last close of a vsocket's file (undefined: not made yet; null: inotify unavailable). */
  private closes: CloseWatcher | null | undefined;
  /** The close watcher lost events (its queue overflowed): a listener's watch no longer proves it open. */
  private closeEventsLost = false;
  /** Orders FINs: the side whose FIN went first is the one left in TIME_WAIT. */
  private finCounter = 0;
  /** The container is going (dispose): nothing is kept for its netns any more. */
  private disposing = false;
  private readonly onIncoming = (c: IncomingConnection): void => this.netdIncoming(c);
  private readonly onUp = (): void => this.learnPodIps();

  constructor(opts: SocketStackOptions = {}) {
    this.kernel = opts.kernel ?? (opts.netnsPath ? new NetnsKernel(opts.netnsPath) : null);
    this.ownAddrs = (opts.localAddresses ?? []).map((ip) => Buffer.from(v4Of(ip) ?? ip));
    this.localAddrs = [...this.ownAddrs];
    this.log = opts.log ?? silent;
    if (opts.closeWatches === false) this.closes = null;
    if (opts.netd) this.attachNetd(opts.netd);
  }

  /**
   * Uses `netd` from now on: its incoming connections go to this stack's listeners, listeners
   * that already exist are registered, the pod's IPs (netd's hello reply) count as local.
   */
  attachNetd(netd: StackNetd): void {
    if (this.netd) this.detachNetd();
    this.netd = netd;
    netd.on("incoming", this.onIncoming);
    netd.on("up", this.onUp);
    this.learnPodIps();
    for (const vs of this.sockets.values()) if (vs.state === "listening") void this.registerListener(vs);
  }

  detachNetd(): void {
    this.netd?.off("incoming", this.onIncoming);
    this.netd?.off("up", this.onUp);
    this.netd = null;
  }

  /** The pod's IPs as netd reported them, added to the addresses that reach this stack's listeners. */
  private learnPodIps(): void {
    const ips = (this.netd?.podIps ?? []).map((t) => parseIp(t)).filter((b): b is Buffer => b !== null);
    this.podAddrs = ips.map((ip) => Buffer.from(v4Of(ip) ?? ip));
    this.localAddrs = [...this.ownAddrs];
    for (const key of this.podAddrs) if (!this.localAddrs.some((a) => a.equals(key))) this.localAddrs.push(key);
  }

  /** The address netd knows a listener by: wildcard or pod IP (text); null for loopback (stays in the pod). */
  private netdAddress(vs: VirtualSocket): { ip: string; port: number } | null {
    const b = vs.binding;
    if (!b) return null;
    if (isLoopback(b.ip)) return null;
    if (isAny(b.ip)) return { ip: b.family === AF_INET ? "0.0.0.0" : "::", port: b.port };
    return { ip: ipText(v4Of(b.ip) ?? b.ip), port: b.port };
  }

  /**
   * listen(2) succeeded: tell netd, so that other pods' connects reach this listener as a
   * hand-over. Never fails the app's listen (netd down: registered when it is back).
   */
  async registerListener(vs: VirtualSocket): Promise<void> {
    const netd = this.netd;
    if (!netd || vs.netdListen) return;
    const where = this.netdAddress(vs);
    if (!where) return;
    vs.netdListen = where;
    try {
      await netd.listen(where.ip, where.port, { reuseport: vs.reusePort, queuedMark: true });
    } catch (e) {
      this.log.warn({ ip: where.ip, port: where.port, err: (e as Error).message }, "vsock: listener not registered with netd");
      if (vs.netdListen === where) vs.netdListen = null;
    }
  }

  private unregisterListener(vs: VirtualSocket): void {
    const where = vs.netdListen;
    vs.netdListen = null;
    if (where && this.netd) void this.netd.unlisten(where.ip, where.port).catch(() => {});
  }

  /**
   * An option is about to be set on `listener` (`dup`: the sentry's duplicate of it): the
   * connections already in its queue keep the options they were made with. Linux copies the
   * listener into a connection's socket when the handshake completes (sk_clone_lock, from
   * tcp_check_req), not at accept, so an option set meanwhile reaches only later connections.
   * The recorded options are copied for them, the kernel-held ones put on their ends now.
   * SO_KEEPALIVE set on a listener is not trapped (numbers.ts UNTRAPPED_ARGS): a queued
   * connection takes the value the listener has at its accept.
   */
  keepQueuedOptions(listener: VirtualSocket, dup: number): void {
    this.refreshListenerOpts(listener, dup); // what was set before belongs to them
    const pending = listener.queue?.pending;
    if (!pending?.length) return;
    let before: SockOpts | undefined;
    for (const conn of pending) {
      if (conn.kind === "kernel") continue; // the kernel cloned its socket already
      if (conn.opts === listener.opts) {
        if (!before) {
          before = new SockOpts();
          before.copyFrom(listener.opts);
        }
        conn.opts = before;
      }
      if (!conn.kernelOptsTaken) {
        copyKernelSocketOptions(dup, conn.fd);
        conn.kernelOptsTaken = true;
      }
    }
  }

  /** A connection netd handed over for one of our listeners: queued as the next accept's result. */
  private netdIncoming(c: IncomingConnection): void {
    const dstIp = parseIp(c.dst.ip);
    const peerIp = parseIp(c.peer.ip);
    const listenerIp = parseIp(c.listener.ip);
    let listener: VirtualSocket | undefined;
    if (dstIp) listener = this.registry.lookup(dstIp, c.dst.port)?.owner;
    if ((!listener || !listener.queue) && listenerIp) listener = this.registry.lookup(listenerIp, c.listener.port)?.owner;
    if (!listener?.queue || !dstIp || !peerIp) {
      this.log.debug({ listener: c.listener, dst: c.dst }, "vsock: netd connection for no listener, closed");
      closeQuietly(c.fd);
      return;
    }
    const queue = listener.queue;
    if (queue.full) {
      // tcp_conn_request drops a SYN while the accept queue is full and the client retries: the
      // connection is queued once an accept has made room (closed if the listener goes first).
      void queue.waitRoom().then((open) => (open ? this.netdIncoming(c) : closeQuietly(c.fd)));
      return;
    }
    this.incoming(listener, {
      kind: "remote",
      fd: c.fd,
      local: inFamily(listener.family, v4Of(dstIp) ?? dstIp, c.dst.port),
      peer: inFamily(listener.family, v4Of(peerIp) ?? peerIp, c.peer.port),
      opts: listener.opts,
      marked: c.queuedMark,
    });
  }

  /**
   * The TTL (IPv4) or hop limit (IPv6) of a socket that never set one in the pod's netns
   * (net.ipv4.ip_default_ttl, net.ipv6.conf.default.hop_limit), read once from a fresh socket.
   */
  private defaultHops(family: InetFamily): number {
    let hops = this.hops.get(family);
    if (hops === undefined) {
      try {
        const [level, name] = family === AF_INET ? [IPPROTO_IP, IP_TTL] : [IPPROTO_IPV6, IPV6_UNICAST_HOPS];
        hops = this.kernel?.probeBytes(family, level, name, 4).readInt32LE(0) ?? IPDEFTTL;
      } catch {
        hops = IPDEFTTL;
      }
      this.hops.set(family, hops);
    }
    return hops;
  }

  /** How many vsockets the stack knows. */
  get size(): number {
    return this.sockets.size;
  }

  find(ino: bigint): VirtualSocket | undefined {
    return this.sockets.get(ino);
  }

  /** The addon's fast path for trivial setsockopts (sys_sockopt.ts FAST_TCP_OPTS), if enabled. */
  private fastSetsockopt: FastSetsockoptApi | null = null;

  /**
   * Lets `api` answer the fast-path setsockopts of this stack's connections: every connection is
   * marked while it lives (listeners, kernel sockets and everything else still reach the handlers).
   */
  enableFastSetsockopt(api: FastSetsockoptApi): void {
    this.fastSetsockopt = api;
    for (const vs of this.sockets.values()) if (vs.isConnection) api.mark(vs.ino);
  }

  /** Records an option the app set on a kernel TCP socket not taken over yet (a later connection keeps answering it). */
  recordKernelOpt(ino: bigint, level: number, name: number, value: Buffer): void {
    let opts = this.kernelOpts.get(ino);
    if (!opts) {
      // Sockets that are closed without ever connecting or listening leave their entry behind
      // (close is not trapped): the oldest go once there are many.
      if (this.kernelOpts.size >= 4096) this.kernelOpts.delete(this.kernelOpts.keys().next().value!);
      opts = new SockOpts();
      this.kernelOpts.set(ino, opts);
    }
    opts.set(level, name, value);
  }

  /**
   * Kernel socket `ino` has a state only the kernel knows (the kernel ran its connect, or it was
   * shut down unconnected): its later connects stay the kernel's (sysConnect).
   */
  keepWithKernel(ino: bigint): void {
    // Closed sockets leave their entry behind (close is not trapped): the oldest go once there are many.
    if (this.keptSockets.size >= 4096 && !this.keptSockets.has(ino)) this.keptSockets.delete(this.keptSockets.values().next().value!);
    this.keptSockets.add(ino);
  }

  /** Whether socket `ino` stays the kernel's (keepWithKernel). */
  keptWithKernel(ino: bigint): boolean {
    return this.keptSockets.has(ino);
  }

  /** The options recorded for kernel socket `ino` (handed over: the entry goes). */
  takeKernelOpts(ino: bigint, dup: number): SockOpts {
    const opts = this.kernelOpts.get(ino) ?? new SockOpts();
    this.kernelOpts.delete(ino);
    const set = this.kernelSetOpts.get(ino);
    if (set) {
      this.kernelSetOpts.delete(ino);
      set.readInto(dup, opts, MAX_OPTION_LEN);
    }
    return opts;
  }

  /**
   * The app set an option the sentry does not emulate on kernel socket `ino` (not a listener),
   * which the kernel runs: a connection of that socket reads it back from the socket (takeKernelOpts).
   */
  noteKernelOpt(ino: bigint, level: number, name: number): void {
    let set = this.kernelSetOpts.get(ino);
    if (!set) {
      // Sockets closed without connecting or listening leave their entry behind, as kernelOpts.
      if (this.kernelSetOpts.size >= 4096) this.kernelSetOpts.delete(this.kernelSetOpts.keys().next().value!);
      set = new KernelSetOpts();
      this.kernelSetOpts.set(ino, set);
    }
    set.add(level, name);
  }

  /** The same for a listener: read into its options at its next accept or option (refreshListenerOpts). */
  noteListenerOpt(listener: VirtualSocket, level: number, name: number): void {
    (listener.kernelSet ??= new KernelSetOpts()).add(level, name);
  }

  /** Reads what the kernel set on `listener` (`dup`) since the last time into its options, which its connections take. */
  private refreshListenerOpts(listener: VirtualSocket, dup: number): void {
    if (!listener.kernelSet) return;
    listener.kernelSet.readInto(dup, listener.opts, MAX_OPTION_LEN);
    listener.kernelSet = null;
  }

  /** Records the server side of a virtual connection `listener` hands out: `fd` (its end) is what the app gets. */
  adopt(fd: number, listener: VirtualSocket, conn: { local: InetAddr; peer: InetAddr; opts: SockOpts; synHops?: number }, client?: VirtualSocket): VirtualSocket {
    const vs = new VirtualSocket(native.fstatIno(fd).ino, listener.family, "connected");
    vs.opts.copyFrom(conn.opts);
    // What a child does not take from its listener: its TCP Fast Open queue and TCP_DEFER_ACCEPT
    // are the listener's own (inet_csk_clone_lock starts the child's accept queue empty), and
    // its multicast TTL or hop limit is the one its SYN came with, its multicast interface the
    // one the SYN came in on (tcp_v4_syn_recv_sock; tcp_v6_syn_recv_sock, for a v4-mapped peer
    // too): loopback's for a connection inside the pod, not known here for one from another pod.
    vs.opts.delete(IPPROTO_TCP, TCP_FASTOPEN);
    vs.opts.delete(IPPROTO_TCP, TCP_DEFER_ACCEPT);
    dropZeroWindowClamp(vs.opts);
    const v4 = v4Of(conn.peer.ip) !== null;
    const hops = conn.synHops ?? this.defaultHops(v4 ? AF_INET : AF_INET6);
    if (v4) vs.opts.setInt(IPPROTO_IP, IP_MULTICAST_TTL, hops);
    if (listener.family === AF_INET6) {
      vs.opts.setInt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops);
      if (client) vs.opts.setInt(IPPROTO_IPV6, IPV6_MULTICAST_IF, LOOPBACK_IFINDEX);
    }
    vs.local = conn.local;
    vs.peer = conn.peer;
    vs.acceptedFrom = listener;
    // The listener's cap (inherited by its child) and the client's announced one: the client's
    // end worked it out at connect (connectLocal); from another pod only ours is known.
    vs.mssCap = client ? client.mssCap : conn.opts.getInt(IPPROTO_TCP, TCP_MAXSEG, 0);
    this.addConnection(vs, fd);
    if (client) {
      vs.peerVs = client;
      client.peerVs = vs;
      vs.rcvdFin = client.sentFin;
      this.leftQueue(client, true);
    }
    return vs;
  }

  /**
   * A client's connection leaves its listener's queue: accepted, or dropped (its listener went: a
   * reset). A client the app closed while it waited kept its bound port meanwhile (FIN_WAIT2 on
   * Linux: lastClose); accepted, the port goes into TIME_WAIT (its FIN went first); dropped, the
   * reset frees it.
   */
  leftQueue(client: VirtualSocket, accepted: boolean): void {
    client.queuedAt = null;
    if (!client.closedWhileQueued) return;
    client.closedWhileQueued = false;
    this.dropPortHolders(client);
    if (accepted && client.local) this.leaveTimeWait(client.local, client.reuseAddr, client.v6only);
  }

  /** A queued connection closed unaccepted (its listener gone). */
  private dropQueued(conn: PendingConn): void {
    closeQuietly(conn.fd);
    if (conn.kind === "local") this.leftQueue(conn.client, false);
  }

  /**
   * listen(2) on the app's kernel socket `dup` (inode `ino`) succeeded: the sentry takes it over
   * as a listener. The kernel listener stays the app's fd (its readiness, FIONREAD, names and
   * options are Linux's own; clients outside TSoR connect to it); the sentry adds a virtual
   * queue for connections from TSoR clients. A registered listener the kernel let this one
   * coexist with (not an SO_REUSEPORT group) must have been closed: it is dropped.
   */
  listen(ino: bigint, dup: number, family: InetFamily, backlog: number, at?: { tgid: number; fd: number }): VirtualSocket {
    const existing = this.sockets.get(ino);
    if (existing?.state === "listening" && existing.queue) {
      existing.queue.backlog = backlog;
      return existing;
    }
    const local = decodeSockaddr(native.getsockname(dup));
    if (!local) throw new SyscallError(EADDRNOTAVAIL, "listener has no inet address");
    const vs = new VirtualSocket(ino, family, "listening");
    vs.listenedAt = at ?? null;
    vs.opts.copyFrom(this.takeKernelOpts(ino, dup));
    if (family === AF_INET6) vs.opts.setInt(IPPROTO_IPV6, IPV6_V6ONLY, native.getsockoptInt(dup, IPPROTO_IPV6, IPV6_V6ONLY));
    vs.opts.setInt(SOL_SOCKET, SO_REUSEPORT, native.getsockoptInt(dup, SOL_SOCKET, SO_REUSEPORT));
    vs.opts.setInt(SOL_SOCKET, SO_REUSEADDR, native.getsockoptInt(dup, SOL_SOCKET, SO_REUSEADDR));
    vs.deferAcceptSecs = Math.max(0, native.getsockoptInt(dup, IPPROTO_TCP, TCP_DEFER_ACCEPT));
    vs.local = local;
    vs.queue = new ListenQueue(backlog);
    const binding: Binding<VirtualSocket> = {
      family,
      ip: local.ip,
      port: local.port,
      v6only: vs.v6only,
      reuseAddr: () => false,
      reusePort: () => vs.reusePort,
      listening: true,
      owner: vs,
    };
    for (let stale = this.registry.conflict(binding); stale; stale = this.registry.conflict(binding)) {
      this.log.debug({ port: local.port }, "vsock: a listener the app closed is dropped");
      this.forget(stale.owner);
    }
    vs.binding = binding;
    this.registry.add(binding);
    this.sockets.set(ino, vs);
    this.watchClose(vs, dup);
    return vs;
  }

  /**
   * A new connection for `listener`: to a held accept, or queued with a doorbell. False if the
   * app has closed the listener (its close watch fired): the connect is then the kernel's, which
   * refuses it as Linux would. The doorbell is rung after the event loop's current turn, and not
   * at all if an accept that the app had already made takes the connection first (a server
   * looping on accept pays no doorbell); without a close watch, when the listener may be gone it
   * is rung at once, and a refused doorbell answers the same way.
   */
  incoming(listener: VirtualSocket, conn: PendingConn): boolean {
    if (!listener.queue) {
      this.dropQueued(conn);
      return false;
    }
    if (listener.deferAcceptSecs > 0 && conn.kind !== "kernel" && !clientSpoke(conn)) return this.deferUntilData(listener, conn);
    return this.enqueue(listener, conn);
  }

  /**
   * TCP_DEFER_ACCEPT: tcp_check_req drops the client's bare ACK, so the connection reaches the
   * accept queue with the client's first bytes (or its FIN), or once the option's time has run
   * out and the kernel completes it anyway. The client's connect succeeded meanwhile, as on Linux.
   * A marked end keeps its mark, which keeps the server's end readable: the watch is
   * edge-triggered (each of the client's writes and its hang-up wakes it) and looks past the mark.
   * A listener gone meanwhile then resets the client at its data or FIN, as the kernel answers a
   * request socket whose listener closed. False as enqueue, if the connection could not wait.
   */
  private deferUntilData(listener: VirtualSocket, conn: PendingConn): boolean {
    let edge: number;
    try {
      edge = native.edgeWatchFd(conn.fd, POLLIN | POLLRDHUP);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "vsock: TCP_DEFER_ACCEPT watch failed; connection queued at once");
      return this.enqueue(listener, conn);
    }
    const watcher = new native.ReadableWatcher(edge);
    let timer: NodeJS.Timeout | undefined;
    const queue = (): void => {
      if (!timer) return;
      clearTimeout(timer);
      timer = undefined;
      watcher.stop();
      closeQuietly(edge);
      this.enqueue(listener, conn);
    };
    timer = setTimeout(queue, listener.deferAcceptSecs * 1000).unref();
    watcher.start((err) => {
      if (err) return queue();
      native.edgeWatchDrain(edge);
      if (clientSpoke(conn)) queue();
    });
    watcher.unref();
    return true;
  }

  /** Hands `conn` to a held accept or queues it (doorbell); false if the listener turned out to be gone. */
  private enqueue(listener: VirtualSocket, conn: PendingConn): boolean {
    const open = this.listenerOpen(listener);
    const queue = listener.queue;
    if (!queue || open === "closed") {
      this.dropQueued(conn);
      return false;
    }
    if (queue.offer(conn) === "delivered") return true;
    listener.unrung++;
    if (open === "open") {
      this.ringLater(listener);
      return true;
    }
    if (this.ringPending(listener)) return true;
    const i = queue.pending.indexOf(conn);
    if (i >= 0) queue.pending.splice(i, 1);
    this.dropQueued(conn);
    this.forget(listener);
    return false;
  }

  /** Puts back a connection an interrupted accept had taken: first in line again, doorbell rung. */
  requeue(listener: VirtualSocket, conn: PendingConn): void {
    if (!listener.queue) return this.dropQueued(conn);
    listener.queue.unshift(conn);
    listener.unrung++;
    this.ringLater(listener);
  }

  /**
   * Whether the app still holds the listener's file. With a close watch: "open" until its last
   * close, read from the close events queued so far (a close the app made before this call is
   * among them; a close found here forgets the listener). Without one: "open" if the fd listen(2)
   * was called on still names it (readlink of /proc/<tgid>/fd/<fd>), else "unknown" (the app may
   * have moved it to another fd or process: the caller asks the kernel with a doorbell).
   */
  private listenerOpen(listener: VirtualSocket): "open" | "closed" | "unknown" {
    if (listener.closeWatch !== null && this.closes && !this.closeEventsLost) {
      this.closes.poll();
      return this.sockets.get(listener.ino) === listener && listener.queue ? "open" : "closed";
    }
    const where = listener.listenedAt;
    if (!where) return "unknown";
    try {
      return readlinkSync(`/proc/${where.tgid}/fd/${where.fd}`) === `socket:[${listener.ino}]` ? "open" : "unknown";
    } catch {
      return "unknown";
    }
  }

  /** Rings the listener's outstanding doorbells after this turn of the event loop. */
  private ringLater(listener: VirtualSocket): void {
    if (listener.ringScheduled) return;
    listener.ringScheduled = true;
    setImmediate(() => {
      listener.ringScheduled = false;
      if (listener.queue && !this.ringPending(listener)) this.forget(listener);
    });
  }

  /** Rings one doorbell per queued connection that has none; false if the kernel listener is gone. */
  private ringPending(listener: VirtualSocket): boolean {
    while (listener.unrung > 0) {
      if (!this.ring(listener)) return false;
      listener.unrung--;
    }
    return true;
  }

  private doorbellKey(src: InetAddr, listenerPort: number): string {
    return `${listenerPort}/${(v4Of(src.ip) ?? src.ip).toString("hex")}/${src.port}`;
  }

  private doorbellSocket(family: InetFamily): number {
    let pool = this.doorbellPool.get(family);
    if (!pool || pool.length === 0) {
      if (!this.kernel) throw new SyscallError(ECONNREFUSED, "no kernel side for doorbells");
      pool = this.kernel.sockets(family, DOORBELL_POOL);
      this.doorbellPool.set(family, pool);
    }
    return pool.pop()!;
  }

  /**
   * Makes `listener` readable for the app as a real client would: a kernel connection from the
   * sentry to the app's kernel listener (loopback in the pod's netns; the handshake completes
   * inside connect). False if nothing listens there any more.
   */
  private ring(listener: VirtualSocket): boolean {
    const local = listener.local;
    if (!local || !this.kernel) return false;
    let ip = local.ip;
    if (isAny(ip)) ip = listener.family === AF_INET ? IPV4_LOOPBACK : IPV6_LOOPBACK;
    else if (isV4Mapped(ip) && isAny(v4Of(ip)!)) ip = v4Mapped(IPV4_LOOPBACK);
    let fd: number;
    try {
      fd = this.doorbellSocket(listener.family);
    } catch (e) {
      // No socket in the pod's netns: the container is gone (its netns with it) or the sentry is
      // out of fds. Rung after the event loop's turn, this must not throw: nothing can be rung.
      this.log.debug({ err: (e as Error).message }, "doorbell: no kernel socket");
      return false;
    }
    const r = native.connectNow(fd, formatSockaddr({ ...local, ip }));
    if ((r !== 0 && r !== EINPROGRESS) || native.getsockoptInt(fd, SOL_SOCKET, SO_ERROR) !== 0) {
      closeQuietly(fd);
      return false;
    }
    const src = decodeSockaddr(native.getsockname(fd));
    if (!src) {
      closeQuietly(fd);
      return false;
    }
    // A listener with TCP_DEFER_ACCEPT queues a connection only once data arrives: one byte,
    // discarded with the doorbell by the accept that takes it.
    if (listener.deferAcceptSecs > 0) {
      try {
        native.sendNow(fd, DOORBELL_BYTE);
      } catch {
        /* not connected yet (a full backlog dropped the SYN): it still lands later, without data */
      }
    }
    this.doorbells.set(this.doorbellKey(src, local.port), { fd, owner: listener });
    return true;
  }

  /**
   * The next connection for an accept on `listener` (`dup`: the sentry's duplicate of the app's
   * kernel listener), or null if there is none now. The kernel queue goes first, in its order: a
   * client outside TSoR is handed out as is; a doorbell stands for the oldest virtual connection
   * of its listener (an SO_REUSEPORT sibling's doorbell may land here: the kernel spread it, and
   * the connection goes with it). Throws the kernel's errno (EINVAL once it stopped listening).
   */
  nextConnection(listener: VirtualSocket, dup: number): PendingConn | null {
    this.refreshListenerOpts(listener, dup);
    for (;;) {
      const got = native.acceptNow(dup);
      if (!got) break;
      const peer = decodeSockaddr(got.addr);
      const key = peer && listener.local ? this.doorbellKey(peer, listener.local.port) : null;
      const bell = key ? this.doorbells.get(key) : undefined;
      if (!bell) {
        return { kind: "kernel", fd: got.fd, peer: peer && inFamily(listener.family, peer.ip, peer.port) };
      }
      this.doorbells.delete(key!);
      // The client end resets the connection (no TIME_WAIT on either side); ours then just goes.
      native.closeReset(bell.fd);
      closeQuietly(got.fd);
      if (bell.owner.orphanDoorbells > 0) {
        bell.owner.orphanDoorbells--;
        continue;
      }
      const conn = bell.owner.queue?.take();
      if (conn) return conn;
    }
    // A virtual connection with no doorbell in the kernel queue: not rung yet (then it never
    // is), or in flight (a full backlog dropped its SYN: discarded when it arrives).
    const conn = listener.queue?.take();
    if (conn) {
      if (listener.unrung > 0) listener.unrung--;
      else listener.orphanDoorbells++;
    }
    return conn ?? null;
  }

  /**
   * connect(2) of the app's kernel socket `sock` to `dest`, if `dest` is a TSoR listener: here in
   * this container, or in another pod through netd. The connection is a socketpair; the caller
   * installs `appEnd` over the app's fd. Null: not a TSoR listener (the kernel connects). Throws
   * ECONNREFUSED when netd knows the pod but nothing listens there.
   */
  connect(task: Task, sock: ConnectingSocket, dest: InetAddr, nonblock: boolean): Connected | null | Promise<Connected | null> {
    // Synchronous unless it must wait (a full queue, netd): the platform then answers the
    // connect before the accept it woke, without a hop through the microtask queue.
    const local = this.connectLocal(task, sock, dest, nonblock);
    if (local instanceof Promise) return local.then((c) => c ?? this.connectRemote(task, sock, dest, nonblock));
    return local ?? this.connectRemote(task, sock, dest, nonblock);
  }

  /** A connection between two sockets of this container: the server's end goes to the listener's queue. */
  private connectLocal(task: Task, sock: ConnectingSocket, dest: InetAddr, nonblock: boolean): Connected | null | Promise<Connected | null> {
    const listener = this.listenerFor(dest);
    if (!listener) return null;
    // SO_ZEROCOPY on either side: its completions come on the socket's error queue, which only
    // the kernel's TCP has (sys_sockopt.ts SO_ZEROCOPY).
    if (zerocopy(sock.opts) || zerocopy(listener.opts)) return null;
    if (!listener.queue!.full) return this.connectTo(listener, sock, dest, nonblock);
    // A non-blocking connect to a full queue is the kernel's: the doorbells fill the kernel
    // listener's queue just as far, so its SYN is dropped and it stays in SYN_SENT (EALREADY,
    // not writable), then lands in the kernel queue as a client from outside would.
    if (nonblock) return null;
    return this.waitForRoom(task, dest).then((l) => this.connectTo(l, sock, dest, nonblock));
  }

  /** A blocking connect to a full queue waits for room, as a client whose SYN is dropped retries. */
  private async waitForRoom(task: Task, dest: InetAddr): Promise<VirtualSocket> {
    let listener = this.listenerFor(dest);
    while (listener?.queue!.full) {
      const open = await listener.queue!.waitRoom();
      if (!task.stillPending()) throw new SyscallError(EINTR, "connect interrupted while waiting for room");
      if (!open) throw new SyscallError(ECONNREFUSED, "listener closed");
      listener = this.listenerFor(dest);
    }
    if (!listener) throw new SyscallError(ECONNREFUSED, "listener closed");
    return listener;
  }

  /** The connection to `listener`, which has room in its queue. */
  private connectTo(listener: VirtualSocket, sock: ConnectingSocket, dest: InetAddr, nonblock: boolean): Connected | null {
    // The source address: the bound one, else what the route to a local destination would pick.
    const dest4 = v4Of(dest.ip);
    let src: Buffer;
    if (sock.bound && !isAny(sock.bound.ip)) src = v4Of(sock.bound.ip) ?? sock.bound.ip;
    else if (dest4) src = dest4[0] === 127 ? IPV4_LOOPBACK : dest4;
    else src = isLoopback(dest.ip) ? IPV6_LOOPBACK : dest.ip;
    const srcPort = this.sourcePort(sock, dest);
    const destIp = dest4 ?? dest.ip;

    const [appEnd, serverEnd] = connectionPair(true);
    let vs: VirtualSocket;
    try {
      vs = this.connection(appEnd, sock, nonblock, src, srcPort, dest);
    } catch (e) {
      closeQuietly(appEnd);
      closeQuietly(serverEnd);
      throw e;
    }
    vs.queuedAt = listener;
    vs.mssCap = smallerMssCap(sock.opts.getInt(IPPROTO_TCP, TCP_MAXSEG, 0), listener.opts.getInt(IPPROTO_TCP, TCP_MAXSEG, 0));
    if (!dest4) this.tookSynAck(vs, listener);
    const queued = this.incoming(listener, {
      kind: "local",
      fd: serverEnd,
      local: inFamily(listener.family, destIp, dest.port),
      peer: inFamily(listener.family, src, srcPort),
      opts: listener.opts,
      client: vs,
      marked: true,
      // The TTL or hop limit its SYN had: the client's own if it set one before connecting.
      synHops: (dest4 ? sock.opts.get(IPPROTO_IP, IP_TTL) : sock.opts.get(IPPROTO_IPV6, IPV6_UNICAST_HOPS))?.readInt32LE(0),
    });
    if (!queued) {
      // The app closed that listener: the kernel answers (ECONNREFUSED, or whoever listens now).
      this.forget(vs);
      closeQuietly(appEnd);
      return null;
    }
    return { appEnd, vs, result: nonblock ? EINPROGRESS : 0 };
  }

  /**
   * A connection to a listener of another TSoR pod on this node, through netd: the server's end
   * is handed to the listener's sentry, and the two apps share the socketpair. Null for the
   * kernel path (no netd, netd down, not a TSoR pod here). Synchronous for a destination netd
   * said a listener takes (NetdClient.hinted): the end goes without waiting for netd's answer,
   * which saves the app a round trip through netd (about half of a connect between pods).
   */
  private connectRemote(task: Task, sock: ConnectingSocket, dest: InetAddr, nonblock: boolean): Connected | null | Promise<Connected | null> {
    const netd = this.netd;
    if (!netd || isLoopback(dest.ip) || this.isLocal(dest.ip) || zerocopy(sock.opts)) return null;
    if (!netd.available) {
      netd.reportFallback("netd_unavailable");
      return null;
    }
    const dest4 = v4Of(dest.ip);
    const destIp = dest4 ?? dest.ip;
    let src: Buffer | undefined;
    if (sock.bound && !isAny(sock.bound.ip)) src = v4Of(sock.bound.ip) ?? sock.bound.ip;
    else src = [...this.podAddrs, ...this.ownAddrs].find((a) => a.length === destIp.length);
    if (!src) return null; // no pod address of the destination's family: the kernel knows the route
    const to = { ip: ipText(destIp), port: dest.port };
    const from = { ip: ipText(src), port: this.sourcePort(sock, dest) };
    // Marked when netd knows the convention: it then takes the mark off for a listener whose
    // sentry does not (another version), and a queued connection whose listener goes is reset.
    const marked = netd.supports("queued-mark");
    const [appEnd, serverEnd] = connectionPair(marked);
    if (netd.hinted(to)) {
      try {
        // The end is sent as is (the kernel duplicates it in flight); ours is closed either way.
        netd.connectHinted(to, from, serverEnd, { queuedMark: marked });
      } catch (e) {
        closeQuietly(appEnd);
        netd.reportFallback("netd_unavailable");
        this.log.debug({ dest: addrText(dest), err: (e as Error).message }, "vsock: hinted netd connect not sent");
        return null;
      } finally {
        closeQuietly(serverEnd);
      }
      return this.remoteConnection(appEnd, sock, nonblock, src, from.port, dest);
    }
    return this.connectThroughNetd(task, netd, { sock, dest, nonblock, src, to, from, marked, appEnd, serverEnd });
  }

  /** connectRemote's hand-over when netd must answer first (ECONNREFUSED, ENOTLOCAL: the kernel path). */
  private async connectThroughNetd(task: Task, netd: StackNetd, c: RemoteConnect): Promise<Connected | null> {
    try {
      await netd.connect(c.to, c.from, c.serverEnd, { queuedMark: c.marked });
    } catch (e) {
      closeQuietly(c.appEnd);
      const code = (e as { code?: string }).code;
      if (code === "ECONNREFUSED") throw new SyscallError(ECONNREFUSED, `${addrText(c.dest)}: refused (netd)`);
      if ((e as Error).name === "NetdUnavailable") netd.reportFallback("netd_unavailable");
      else if (code !== "ENOTLOCAL" && code !== "EAGAIN") this.log.warn({ dest: addrText(c.dest), err: (e as Error).message }, "vsock: netd connect failed");
      return null;
    } finally {
      closeQuietly(c.serverEnd);
    }
    if (!task.stillPending()) this.log.debug({ dest: addrText(c.dest) }, "vsock: connect interrupted after the hand-over");
    return this.remoteConnection(c.appEnd, c.sock, c.nonblock, c.src, c.from.port, c.dest);
  }

  /**
   * An IPv6 client that asked for packet info or hop limits (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT or
   * their RFC 2292 forms) keeps the interface and hop limit of the last segment it received as its
   * multicast ones (tcp_v6_do_rcv's pktoptions): after connect, the server's SYN-ACK over loopback.
   */
  private tookSynAck(client: VirtualSocket, listener: VirtualSocket): void {
    const on = (name: number): boolean => client.opts.getInt(IPPROTO_IPV6, name, 0) !== 0;
    if (on(IPV6_RECVPKTINFO) || on(IPV6_2292PKTINFO)) client.opts.setInt(IPPROTO_IPV6, IPV6_MULTICAST_IF, LOOPBACK_IFINDEX);
    if (on(IPV6_RECVHOPLIMIT) || on(IPV6_2292HOPLIMIT)) {
      client.opts.setInt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, listener.opts.get(IPPROTO_IPV6, IPV6_UNICAST_HOPS)?.readInt32LE(0) ?? this.defaultHops(AF_INET6));
    }
  }

  /** The client's side of a connection handed to another pod. */
  private remoteConnection(appEnd: number, sock: ConnectingSocket, nonblock: boolean, src: Buffer, srcPort: number, dest: InetAddr): Connected {
    let vs: VirtualSocket;
    try {
      vs = this.connection(appEnd, sock, nonblock, src, srcPort, dest);
    } catch (e) {
      closeQuietly(appEnd);
      throw e;
    }
    vs.mssCap = sock.opts.getInt(IPPROTO_TCP, TCP_MAXSEG, 0); // the other pod's is not known here
    return { appEnd, vs, result: nonblock ? EINPROGRESS : 0 };
  }

  /** The bound port, else an ephemeral one no listener of this stack uses. */
  private sourcePort(sock: ConnectingSocket, dest: InetAddr): number {
    const port = sock.bound?.port || this.ports.allocate((p) => this.registry.portFree(p) && p !== dest.port);
    if (!port) throw new SyscallError(EADDRNOTAVAIL, "no ephemeral port left");
    return port;
  }

  /** The client's vsocket for its end `appEnd` of a new connection. */
  private connection(appEnd: number, sock: ConnectingSocket, nonblock: boolean, src: Buffer, srcPort: number, dest: InetAddr): VirtualSocket {
    if (nonblock) native.setNonblock(appEnd, true);
    const vs = new VirtualSocket(native.fstatIno(appEnd).ino, sock.family, nonblock ? "connecting" : "connected");
    vs.opts.copyFrom(sock.opts);
    dropZeroWindowClamp(vs.opts);
    vs.local = inFamily(sock.family, src, srcPort);
    vs.peer = { ...inFamily(sock.family, v4Of(dest.ip) ?? dest.ip, dest.port), flowinfo: dest.flowinfo, scopeId: dest.scopeId };
    this.addConnection(vs, appEnd);
    return vs;
  }

  private sweeper: NodeJS.Timeout | null = null;

  /** A connection's vsocket (`fd`: the sentry's copy of its file); forgotten at the app's last close. */
  private addConnection(vs: VirtualSocket, fd: number): void {
    this.sockets.set(vs.ino, vs);
    this.fastSetsockopt?.mark(vs.ino);
    this.watchClose(vs, fd);
  }

  /** The close watcher, made on first use; null (and a warning) if inotify is unavailable. */
  private closeWatcher(): CloseWatcher | null {
    if (this.closes === undefined) {
      try {
        this.closes = new CloseWatcher((err) => {
          // Events were lost: look at the connections now; listeners are checked as without
          // watches from now on (by the fd listen(2) was called on, and their doorbells).
          this.log.warn({ err: err.message }, "vsock: close watch failed; sweeping");
          this.closeEventsLost = true;
          this.sweep();
        });
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, "vsock: no inotify for close watches; closed connections are swept every 5 s");
        this.closes = null;
      }
    }
    return this.closes;
  }

  /**
   * Learns of the app's last close of `vs` (`fd`: the sentry's copy of its file) through the
   * close watcher; without one, the sweeper finds closed connections within SWEEP_INTERVAL_MS.
   */
  private watchClose(vs: VirtualSocket, fd: number): void {
    const w = this.closeWatcher();
    if (w) {
      try {
        vs.closeWatch = w.watch(fd, () => this.lastClose(vs));
        return;
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, "vsock: cannot watch a socket's close; sweeping");
      }
    }
    if (vs.isConnection) this.sweeper ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  /** The app closed `vs` for good (its last reference, in whichever process). */
  private lastClose(vs: VirtualSocket): void {
    vs.closeWatch = null;
    if (this.sockets.get(vs.ino) !== vs) return;
    if (vs.isConnection) {
      this.finSent(vs);
      // unix_release_sock shut both directions of the survivor: what observePeer would see.
      if (vs.peerVs) vs.peerVs.peerClosed = true;
    }
    if (vs.queuedAt && vs.boundPort) {
      // Its connection still waits in a queue of ours: Linux keeps the port (FIN_WAIT2) until it
      // is accepted or dropped (leftQueue).
      this.forget(vs, { portStays: true });
      vs.closedWhileQueued = true;
      return;
    }
    this.forget(vs);
    if (vs.isConnection) this.timeWaitAfterClose(vs);
  }

  /**
   * A connection sent its FIN (shutdown(SHUT_WR) or its last close): the first one of the pair is
   * remembered, its peer in this stack has received it, and a served port whose connection is
   * now over on either side is released (releaseClosedPort).
   */
  finSent(vs: VirtualSocket): void {
    vs.finSeq ||= ++this.finCounter;
    this.releaseClosedPort(vs);
    if (vs.peerVs) {
      vs.peerVs.rcvdFin = true;
      this.releaseClosedPort(vs.peerVs);
    }
  }

  /**
   * A served connection whose listener is gone keeps its port (holdServedPorts) until it is over
   * on TCP's terms (servedAndOver): bind(2) may take the port then.
   */
  private releaseClosedPort(vs: VirtualSocket): void {
    if (servedAndOver(vs)) this.dropPortHolders(vs);
  }

  /** Closes the kernel sockets that kept `vs`'s port (holdPort). */
  private dropPortHolders(vs: VirtualSocket): void {
    if (vs.portHolder !== null) closeQuietly(vs.portHolder);
    if (vs.ipv4Holder !== null) closeQuietly(vs.ipv4Holder);
    vs.portHolder = vs.ipv4Holder = null;
  }

  /**
   * TIME_WAIT for a connection the app closed first (tcp_time_wait, entered by the side whose FIN
   * went first): its port stays busy for bind(2) for 60 s, unless both the new socket and the old
   * one had SO_REUSEADDR. The bytes never crossed the kernel's TCP, so the sentry leaves a real
   * TIME_WAIT socket on that address for the kernel's own bind checks: for a server's end once
   * its listener's socket is gone (until then it holds the port anyway, listening or not), for a
   * client that had bound its port once the connection closes. Ephemeral client ports are the
   * sentry's, and a connection through netd does not know its peer's FIN order: neither leaves
   * one. SO_LINGER {1, 0} resets instead.
   */
  private timeWaitAfterClose(vs: VirtualSocket): void {
    const peer = vs.peerVs;
    if (!peer || !vs.local) return;
    if (peer.finSeq && peer.finSeq < vs.finSeq) return; // the peer closed first: it is the one in TIME_WAIT
    if (vs.resetsOnClose) return;
    const listener = vs.acceptedFrom;
    if (listener) {
      if (this.sockets.get(listener.ino) === listener || listener.stoppedOpen) listener.timeWaits.set(addrText(vs.local), { local: vs.local, until: Date.now() + TIME_WAIT_MS });
      else this.leaveTimeWait(vs.local, listener.reuseAddr, listener.v6only);
    } else if (vs.boundPort) {
      this.leaveTimeWait(vs.local, vs.reuseAddr, vs.v6only);
    }
  }

  /**
   * `listener` is going while connections it served live on. On TCP each of them keeps the port
   * (an established child holds its bind bucket, with the listener's SO_REUSEADDR and
   * SO_REUSEPORT: inet_csk_clone_lock), so bind(2) to it still fails with EADDRINUSE; a
   * socketpair holds none. The sentry keeps kernel sockets bound to each one's address, with
   * those options, until the connection is closed (holdPort).
   */
  private holdServedPorts(listener: VirtualSocket): void {
    if (!this.kernel || this.disposing) return;
    for (const vs of this.sockets.values()) {
      if (vs.acceptedFrom !== listener || vs.portHolder !== null || !vs.local || servedAndOver(vs)) continue;
      this.holdPort(vs, vs.local, listener.reuseAddr, listener.reusePort, listener.v6only);
    }
  }

  /**
   * The socket of a listener is gone (its last close, or the container's end) while connections
   * it served live on or wait in TIME_WAIT: they hold its port from now on. TIME_WAITs first: a
   * served connection on the same address as one cannot bind its holder beside it (neither has
   * SO_REUSEADDR unless the listener had), and a holder first would cost the TIME_WAIT, whose
   * port a connection closing soon after would then free at once. Such a connection tries again
   * once those TIME_WAITs are over.
   */
  private listenerSocketGone(listener: VirtualSocket): void {
    const waited = listener.timeWaits.size > 0;
    if (waited) this.flushTimeWaits(listener);
    this.holdServedPorts(listener);
    if (waited) setTimeout(() => this.holdServedPorts(listener), TIME_WAIT_MS + 1000).unref();
  }

  /**
   * A client that bound a wildcard address with a port before connecting: on Linux connect
   * narrows its bind to the source address (inet_bhash2_update_saddr), so another socket may
   * then bind that port on another address. Called once the app's fd is the connection's end:
   * the kernel socket kept for the port (its portHolder, bound to the wildcard) gives way to one
   * bound to the connection's own address, with the same SO_REUSEADDR and SO_REUSEPORT. `at`:
   * the app's fd, which names the old socket until the platform has installed the connection
   * (ptrace injects it over several stops): until then the bind is the old socket's still.
   */
  narrowPortHolder(vs: VirtualSocket, at: { tgid: number; fd: number }, tries = 200): void {
    const old = vs.portHolder;
    if (old === null || !vs.local || this.sockets.get(vs.ino) !== vs) return;
    let installed: boolean;
    try {
      installed = readlinkSync(`/proc/${at.tgid}/fd/${at.fd}`) === `socket:[${vs.ino}]`;
    } catch {
      installed = true; // the app is gone, or closed the fd: the old socket is ours alone
    }
    if (!installed) {
      if (tries > 0) setTimeout(() => this.narrowPortHolder(vs, at, tries - 1), 1).unref();
      return;
    }
    let reuseAddr = false;
    let reusePort = false;
    try {
      reuseAddr = native.getsockoptInt(old, SOL_SOCKET, SO_REUSEADDR) !== 0;
      reusePort = native.getsockoptInt(old, SOL_SOCKET, SO_REUSEPORT) !== 0;
    } catch {
      return;
    }
    this.dropPortHolders(vs);
    this.holdPort(vs, vs.local, reuseAddr, reusePort, vs.v6only);
  }

  /**
   * Keeps `local`'s port in use for `vs` (its portHolder, and its ipv4Holder: kernelSides), with
   * the end's SO_REUSEADDR and SO_REUSEPORT. A side that cannot be bound is not held.
   */
  private holdPort(vs: VirtualSocket, local: InetAddr, reuseAddr: boolean, reusePort: boolean, v6only: boolean): void {
    const [main, ipv4] = kernelSides(local, v6only).map((side) => this.portHolder(side, local.port, reuseAddr, reusePort));
    vs.portHolder = main ?? null;
    vs.ipv4Holder = ipv4 ?? null;
  }

  /** A kernel socket of the pod's netns bound to `side`'s address and `port`, or null if it cannot be. */
  private portHolder(side: { family: InetFamily; ip: Buffer }, port: number, reuseAddr: boolean, reusePort: boolean): number | null {
    if (!this.kernel) return null;
    const local = { family: side.family, ip: side.ip, port };
    let holder = -1;
    try {
      holder = this.kernel.sockets(side.family, 1)[0]!;
      native.setsockoptInt(holder, SOL_SOCKET, SO_REUSEADDR, reuseAddr ? 1 : 0);
      native.setsockoptInt(holder, SOL_SOCKET, SO_REUSEPORT, reusePort ? 1 : 0);
      native.bind(holder, formatSockaddr(local));
      return holder;
    } catch (e) {
      // Taken again already (e.g. the app bound it before a listener's close was seen).
      this.log.debug({ local: addrText(local), err: (e as Error).message }, "vsock: port not held");
      if (holder >= 0) closeQuietly(holder);
      return null;
    }
  }

  /**
   * Leaves kernel TIME_WAIT sockets for an end at `local` in the pod's netns (kernelSides): each
   * bound with `reuseAddr`, connected to a listener of the sentry's on the same address, and
   * closed first (the other side closes once our FIN has reached it, so ours is the side that
   * waits). If the address is taken again already (the app bound it meanwhile), there is nothing
   * to keep.
   */
  private leaveTimeWait(local: InetAddr, reuseAddr: boolean, v6only: boolean): void {
    for (const side of kernelSides(local, v6only)) this.leaveTimeWaitAt(side, local.port, reuseAddr);
  }

  private leaveTimeWaitAt({ family, ip }: { family: InetFamily; ip: Buffer }, port: number, reuseAddr: boolean): void {
    if (!this.kernel) return;
    const local = { family, ip, port };
    let fds: number[];
    try {
      fds = this.kernel.sockets(family, 2);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "vsock: no socket for a TIME_WAIT");
      return;
    }
    const [tw, server] = fds as [number, number];
    try {
      native.setsockoptInt(tw, SOL_SOCKET, SO_REUSEADDR, reuseAddr ? 1 : 0);
      native.bind(tw, formatSockaddr(local));
      native.bind(server, formatSockaddr({ family, ip, port: 0 }));
      native.listen(server, 1);
      const r = native.connectNow(tw, native.getsockname(server));
      if (r !== 0 && r !== EINPROGRESS) throw new Error(`connect: errno ${r}`);
    } catch (e) {
      this.log.debug({ local: addrText(local), err: (e as Error).message }, "vsock: no TIME_WAIT left");
      closeQuietly(tw);
      closeQuietly(server);
      return;
    }
    // Loopback completes the handshake, and carries our FIN, within the calls that send them;
    // should softirq work be deferred, each step waits a little (and gives up after ~100 ms).
    let accepted = -1;
    settle(
      () => (accepted = acceptQuietly(server)) >= 0,
      () => {
        closeQuietly(server);
        closeQuietly(tw);
        if (accepted < 0) return this.log.debug({ local: addrText(local) }, "vsock: no TIME_WAIT left (no handshake)");
        // Ours closed first; the other side closes once our FIN has reached it.
        settle(() => (native.pollNow(accepted, POLLRDHUP) & POLLRDHUP) !== 0, () => closeQuietly(accepted));
      },
    );
  }

  /** The TIME_WAITs a listener's served connections left, for when it is gone (they held its port). */
  private flushTimeWaits(listener: VirtualSocket): void {
    const now = Date.now();
    for (const tw of listener.timeWaits.values()) if (tw.until > now) this.leaveTimeWait(tw.local, listener.reuseAddr, listener.v6only);
    listener.timeWaits.clear();
  }

  /**
   * Forgets connections whose app end no longer exists, freeing the ports their port holders
   * kept: the fallback when a close cannot be watched. Listeners are checked by their doorbells.
   */
  sweep(): void {
    let live: Set<bigint>;
    try {
      live = liveUnixInodes();
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "vsock: cannot read /proc/self/net/unix");
      return;
    }
    let connections = 0;
    for (const vs of [...this.sockets.values()]) {
      if (vs.state === "listening") continue;
      if (live.has(vs.ino)) connections++;
      else this.forget(vs);
    }
    if (connections === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private listenerFor(dest: InetAddr): VirtualSocket | null {
    if (!this.isLocal(dest.ip)) return null;
    const l = this.registry.lookup(dest.ip, dest.port)?.owner;
    return l?.queue ? l : null;
  }

  /** Loopback, the wildcard, or one of the pod's own addresses. */
  isLocal(ip: Buffer): boolean {
    if (isAny(ip) || isLoopback(ip)) return true;
    const key = v4Of(ip) ?? ip;
    return this.localAddrs.some((a) => a.equals(key));
  }

  /**
   * connect(AF_UNSPEC) on a connection (tcp_disconnect): the kernel socket that takes the app's
   * fd over (the caller installs the fd returned), unconnected, with the connection's options
   * replayed: the port the app bound before connecting if it did (its port holder, which is
   * that very socket), else a fresh one on an ephemeral port of the wildcard address, as
   * tcp_disconnect leaves an unbound client. The connection itself is forgotten; its peer sees
   * the close when the app's old end goes (a reset on Linux: see close_linger_reset).
   */
  disconnect(vs: VirtualSocket, nonblock: boolean): number {
    let fd = vs.portHolder;
    vs.portHolder = null;
    this.dropPortHolders(vs); // the IPv4 side of a dual-stack end, which the bind keeps itself
    const fresh = fd === null;
    if (fd === null) {
      if (!this.kernel) throw new SyscallError(EADDRNOTAVAIL, "no kernel side for a disconnected socket");
      fd = this.kernel.sockets(vs.family, 1)[0]!;
    }
    try {
      // Best effort, as the options were accepted once already (IPV6_V6ONLY before the bind).
      for (const o of vs.opts.all()) {
        try {
          native.setsockoptBuf(fd, o.level, o.name, o.value);
        } catch {
          /* an option only a connection knows */
        }
      }
      if (fresh) native.bind(fd, formatSockaddr({ family: vs.family, ip: anyOf(vs.family), port: 0 }));
      native.setNonblock(fd, nonblock);
    } catch (e) {
      closeQuietly(fd);
      throw e;
    }
    vs.boundPort = false; // the port goes with the new socket, not into TIME_WAIT
    this.forget(vs);
    return fd;
  }

  /**
   * shutdown(2) of a listener with SHUT_RD or SHUT_RDWR (inet_shutdown -> tcp_disconnect ->
   * inet_csk_listen_stop), or connect(AF_UNSPEC): held accepts wake (EINVAL), pending virtual
   * connections are dropped, and the vsocket goes; the caller lets the kernel stop its own
   * listener. tcp_disconnect leaves it TCP_CLOSE with what listening set (its port,
   * sk_shutdown): the kernel answers its later connect and listen. Its socket, still bound,
   * shares the port with the connections it served until the app closes it: only then do they
   * hold it themselves (listenerSocketGone), as they would at a listener's close.
   */
  stopListening(vs: VirtualSocket): void {
    const watch = vs.closeWatch;
    vs.closeWatch = null; // kept past forget, for the socket's own close
    const listening = this.sockets.get(vs.ino) === vs;
    this.forget(vs, { portStays: true });
    this.keepWithKernel(vs.ino);
    if (listening && watch !== null && this.closes?.rewatch(watch, () => this.stoppedListenerClosed(vs))) {
      vs.closeWatch = watch;
      vs.stoppedOpen = true;
      return;
    }
    if (watch !== null) this.closes?.unwatch(watch);
    if (listening) this.listenerSocketGone(vs); // its close cannot be seen: as at a close
  }

  private stoppedListenerClosed(vs: VirtualSocket): void {
    vs.closeWatch = null;
    vs.stoppedOpen = false;
    this.listenerSocketGone(vs);
  }

  /**
   * Drops a vsocket: unregisters a listener, closes its pending connections and doorbells, wakes
   * held accepts, and lets its port go: a listener's served connections take it over
   * (listenerSocketGone), a connection's port holders close. Unless the port stays held
   * (`portStays`): by a listener's own socket that only stopped listening (stopListening), by the
   * holders of a client closed while its connection is queued (lastClose).
   */
  forget(vs: VirtualSocket, { portStays = false } = {}): void {
    const listening = vs.state === "listening" && this.sockets.get(vs.ino) === vs;
    if (this.sockets.get(vs.ino) === vs) {
      this.sockets.delete(vs.ino);
      this.fastSetsockopt?.unmark(vs.ino);
    }
    if (vs.closeWatch !== null) this.closes?.unwatch(vs.closeWatch);
    vs.closeWatch = null;
    this.unregisterListener(vs);
    if (vs.binding) this.registry.remove(vs.binding);
    vs.binding = null;
    if (vs.queue) {
      for (const c of vs.queue.close()) {
        this.dropQueued(c);
        // Its queued mark unread, the close resets the client (QUEUED_MARK): known here, even
        // once the app has read the ECONNRESET that observePeer would see.
        if (c.kind === "local" && c.marked) c.client.markPeerReset();
      }
      vs.queue = null;
    }
    if (!portStays) this.dropPortHolders(vs);
    for (const [key, bell] of this.doorbells) {
      if (bell.owner !== vs) continue;
      this.doorbells.delete(key);
      closeQuietly(bell.fd);
    }
    if (listening && !portStays) this.listenerSocketGone(vs);
  }

  /** Forgets every vsocket (the container is gone). */
  dispose(): void {
    this.disposing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    this.detachNetd();
    // The netns is going with the container: no TIME_WAIT is left for listeners' ports.
    for (const vs of this.sockets.values()) vs.timeWaits.clear();
    for (const vs of [...this.sockets.values()]) this.forget(vs);
    for (const pool of this.doorbellPool.values()) for (const fd of pool) closeQuietly(fd);
    this.doorbellPool.clear();
    this.kernelOpts.clear();
    this.kernelSetOpts.clear();
    this.keptSockets.clear();
    this.closes?.dispose();
    this.closes = null;
    this.kernel?.close();
  }
}
