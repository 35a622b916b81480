// One container's socket stack: its vsockets by inode, the bind table / listener registry, the
// ephemeral port allocator, accept queues, and the way out to the kernel (shadow sockets and the
// kernel fallback) in the container's network namespace. The syscall handlers
// (sentry/syscalls/sys_*.ts) read and check the app's arguments; the state changes happen here.
import { constants as osConstants } from "node:os";

import { native } from "../../native/index.js";
import type { IncomingConnection, NetdClient } from "../../netstack/client.js";
import { SyscallError, type Task } from "../platform/platform.js";
import { IPPROTO_IPV6, IPV6_V6ONLY, SOL_SOCKET, SO_SNDBUF, SO_SNDBUFFORCE } from "../syscalls/linux.js";
import {
  AF_INET,
  AF_INET6,
  IPV4_LOOPBACK,
  IPV6_LOOPBACK,
  addrText,
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
import { KernelError, NetnsKernel, type KernelNet } from "./kernel.js";
import { ListenerRegistry, PortAllocator, type Binding } from "./registry.js";
import { ListenQueue, SentryEnd, VirtualSocket, closeQuietly, type PendingConn, type SockOpts } from "./vsocket.js";

export { ListenerRegistry, PortAllocator, EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN } from "./registry.js";

const { EADDRINUSE, EADDRNOTAVAIL, ECONNREFUSED, EINPROGRESS, EINTR, EINVAL, ENETUNREACH } = osConstants.errno;

/** The slice of a pino logger the stack and the handlers use. */
export interface StackLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const silent: StackLog = { warn: () => {}, debug: () => {} };

export interface SocketStackOptions {
  /** The container's network namespace (e.g. /proc/<pid>/ns/net): shadow sockets and the kernel fallback live there. */
  netnsPath?: string;
  /** Overrides `netnsPath` (tests); null: no kernel side at all (no shadows, connect() elsewhere fails ENETUNREACH). */
  kernel?: KernelNet | null;
  /** The pod's own addresses besides loopback (connect() to them reaches this stack's listeners). */
  localAddresses?: readonly Buffer[];
  /** The node's tsor-netd session (pod-to-pod connections); may also come later (attachNetd). */
  netd?: StackNetd;
  log?: StackLog;
}

/**
 * The slice of NetdClient the stack uses (tests fake it): listener registration, the hand-over of
 * a client's sentry end, fallback reports, the pod's IPs and the incoming connections.
 */
export type StackNetd = Pick<NetdClient, "available" | "podIps" | "listen" | "unlisten" | "connect" | "reportFallback" | "on" | "off">;

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

/** `ip` (4 or 16 bytes) as an address of a socket of `family` (IPv4 on AF_INET6 becomes v4-mapped). */
function inFamily(family: InetFamily, ip: Buffer, port: number): InetAddr {
  if (family === AF_INET) return { family, ip: v4Of(ip) ?? ip, port };
  return { family, ip: ip.length === 4 ? v4Mapped(ip) : ip, port };
}

export class SocketStack {
  readonly kernel: KernelNet | null;
  readonly registry = new ListenerRegistry<VirtualSocket>();
  readonly ports = new PortAllocator();
  readonly log: StackLog;
  private readonly sockets = new Map<bigint, VirtualSocket>();
  private localAddrs: Buffer[];
  private readonly ownAddrs: Buffer[];
  /** The pod's IPs from netd's hello reply. */
  private podAddrs: Buffer[] = [];
  private netd: StackNetd | null = null;
  private readonly onIncoming = (c: IncomingConnection): void => this.netdIncoming(c);
  private readonly onUp = (): void => this.learnPodIps();

  constructor(opts: SocketStackOptions = {}) {
    this.kernel = opts.kernel !== undefined ? opts.kernel : opts.netnsPath ? new NetnsKernel(opts.netnsPath) : null;
    this.ownAddrs = (opts.localAddresses ?? []).map((ip) => Buffer.from(v4Of(ip) ?? ip));
    this.localAddrs = [...this.ownAddrs];
    this.log = opts.log ?? silent;
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
      await netd.listen(where.ip, where.port, { reuseport: vs.reusePort });
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
    this.incoming(listener, {
      kind: "remote",
      fd: c.fd,
      local: inFamily(listener.family, v4Of(dstIp) ?? dstIp, c.dst.port),
      peer: inFamily(listener.family, v4Of(peerIp) ?? peerIp, c.peer.port),
      opts: listener.opts,
    });
  }

  /**
   * connect(2) to a listener of another TSoR pod on this node, through netd: the client's sentry
   * end is handed to the listener's sentry, and the two apps share the socketpair. Returns 0 /
   * EINPROGRESS when connected, null for the kernel path (no netd, netd down, not a TSoR pod here);
   * throws ECONNREFUSED when the destination is a TSoR pod with nothing listening there.
   */
  async connectRemote(task: Task, vs: VirtualSocket, dest: InetAddr, nonblock: boolean): Promise<number | null> {
    const netd = this.netd;
    if (!netd || isLoopback(dest.ip) || this.isLocal(dest.ip)) return null;
    if (!netd.available) {
      netd.reportFallback("netd_unavailable");
      return null;
    }
    if (!vs.end) throw new SyscallError(EINVAL, "vsocket has no end to connect");
    const dest4 = v4Of(dest.ip);
    const destIp = dest4 ?? dest.ip;
    let src: Buffer | undefined;
    if (vs.local && !isAny(vs.local.ip)) src = v4Of(vs.local.ip) ?? vs.local.ip;
    else src = [...this.podAddrs, ...this.ownAddrs].find((a) => a.length === destIp.length);
    if (!src) return null; // no pod address of the destination's family: the kernel knows the route
    const srcPort = vs.local?.port || this.ports.allocate((p) => this.registry.portFree(p) && p !== dest.port) || 0;
    if (srcPort === 0) throw new SyscallError(EADDRNOTAVAIL, "no ephemeral port left");

    // The end is sent as is (the kernel duplicates it in flight); ours is watched again on failure.
    const fd = vs.end.release();
    vs.end = null;
    const restore = (): void => {
      vs.end = new SentryEnd(fd, () => this.hangup(vs));
    };
    let pending: Promise<unknown>;
    try {
      pending = netd.connect({ ip: ipText(destIp), port: dest.port }, { ip: ipText(src), port: srcPort }, fd);
    } catch (e) {
      restore();
      throw e;
    }
    try {
      await pending;
    } catch (e) {
      restore();
      const code = (e as { code?: string }).code;
      if (code === "ECONNREFUSED") throw new SyscallError(ECONNREFUSED, `${addrText(dest)}: refused (netd)`);
      if ((e as Error).name === "NetdUnavailable") netd.reportFallback("netd_unavailable");
      else if (code !== "ENOTLOCAL" && code !== "EAGAIN") this.log.warn({ dest: addrText(dest), err: (e as Error).message }, "vsock: netd connect failed");
      return null;
    }
    closeQuietly(fd);
    if (!task.stillPending()) this.log.debug({ dest: addrText(dest) }, "vsock: connect interrupted after the hand-over");
    this.unbind(vs);
    vs.local = inFamily(vs.family, src, srcPort);
    vs.peer = { ...inFamily(vs.family, destIp, dest.port), flowinfo: dest.flowinfo, scopeId: dest.scopeId };
    vs.state = nonblock ? "connecting" : "connected";
    return nonblock ? EINPROGRESS : 0;
  }

  /** How many vsockets the stack knows. */
  get size(): number {
    return this.sockets.size;
  }

  find(ino: bigint): VirtualSocket | undefined {
    return this.sockets.get(ino);
  }

  /**
   * socket(2): a socketpair; the vsocket keeps one end and is keyed by the other's inode. Returns
   * that other end (the app's, O_NONBLOCK as asked), which the caller installs and then closes.
   */
  create(family: InetFamily, nonblock: boolean): { appEnd: number; vs: VirtualSocket } {
    const [a1, a2] = native.socketpair();
    try {
      // Each end may become a connection's sending side (A1 the client's, A2 the accepted one).
      sizeSendBuffer(a1);
      sizeSendBuffer(a2);
      if (nonblock) native.setNonblock(a1, true);
      const vs = new VirtualSocket(native.fstatIno(a1).ino, family, null);
      vs.end = new SentryEnd(a2, () => this.hangup(vs));
      this.sockets.set(vs.ino, vs);
      return { appEnd: a1, vs };
    } catch (e) {
      closeQuietly(a1);
      closeQuietly(a2);
      throw e;
    }
  }

  /** Records the server side of a connection accepted from a local client: `fd` is what the app gets. */
  adopt(fd: number, family: InetFamily, local: InetAddr, peer: InetAddr, opts: SockOpts, client?: VirtualSocket): VirtualSocket {
    const vs = new VirtualSocket(native.fstatIno(fd).ino, family, null);
    vs.opts.copyFrom(opts);
    vs.local = local;
    vs.peer = peer;
    vs.state = "connected";
    if (client) {
      vs.peerVs = client;
      client.peerVs = vs;
      vs.rcvdFin = client.sentFin;
    }
    this.sockets.set(vs.ino, vs);
    return vs;
  }

  /**
   * shutdown(2) of a listener with SHUT_RD or SHUT_RDWR (inet_shutdown -> tcp_disconnect ->
   * inet_csk_listen_stop): held accepts wake (EINVAL), pending connections are dropped, the socket
   * is closed but keeps its address (getsockname answers it; connects are refused). Returns how
   * many readiness bytes the caller must take back from the app's end.
   */
  stopListening(vs: VirtualSocket): number {
    if (vs.queue) for (const c of vs.queue.close()) closeQuietly(c.fd);
    vs.queue = null;
    if (vs.binding) vs.binding.listening = false;
    this.unregisterListener(vs);
    // The kernel shadow cannot stop listening: it goes (kernel clients are refused, as on Linux).
    vs.shadow?.close();
    vs.shadow = null;
    vs.state = "bound";
    const n = vs.signalled;
    vs.signalled = 0;
    return n;
  }

  /**
   * The app closed its last fd of the vsocket (EOF on the sentry's end). A listener with held
   * accepts lives on until they return (close() does not wake a blocked accept on Linux: it holds
   * the file); anything else is forgotten now.
   */
  private hangup(vs: VirtualSocket): void {
    vs.end = null;
    if (vs.queue && vs.queue.waiting > 0) vs.closing = true;
    else this.forget(vs);
  }

  /** An accept on `listener` returned: a closing listener goes once no accept is held any more. */
  acceptDone(listener: VirtualSocket): void {
    if (listener.closing && (!listener.queue || listener.queue.waiting === 0)) this.forget(listener);
  }

  /** Drops a vsocket: frees its address, closes its shadow and pending connections, wakes held accepts. */
  forget(vs: VirtualSocket): void {
    if (this.sockets.get(vs.ino) === vs) this.sockets.delete(vs.ino);
    this.unbind(vs);
    if (vs.queue) {
      for (const c of vs.queue.close()) closeQuietly(c.fd);
      vs.queue = null;
    }
    vs.end?.close();
    vs.end = null;
  }

  /** Forgets every vsocket (the container is gone). */
  dispose(): void {
    this.detachNetd();
    for (const vs of [...this.sockets.values()]) this.forget(vs);
    this.kernel?.close();
  }

  /** Loopback, the wildcard, or one of the pod's own addresses. */
  isLocal(ip: Buffer): boolean {
    if (isAny(ip) || isLoopback(ip)) return true;
    const key = v4Of(ip) ?? ip;
    return this.localAddrs.some((a) => a.equals(key));
  }

  /**
   * bind(2) after the handler checked the arguments (inet_bind/inet6_bind): EINVAL if already
   * bound, EADDRNOTAVAIL for a foreign address (without a kernel side; with one the shadow's bind
   * decides), EADDRINUSE from the registry or the kernel; port 0 takes the kernel's pick (or an
   * ephemeral port).
   */
  bind(vs: VirtualSocket, addr: InetAddr): void {
    if (vs.state !== "unbound") throw new SyscallError(EINVAL, "already bound");
    if (!this.kernel && !this.isLocal(addr.ip)) throw new SyscallError(EADDRNOTAVAIL, `${addrText(addr)} is not local`);
    const binding = (port: number): Binding<VirtualSocket> => ({
      family: vs.family,
      ip: addr.ip,
      port,
      v6only: vs.v6only,
      reuseAddr: () => vs.reuseAddr,
      reusePort: () => vs.reusePort,
      listening: false,
      owner: vs,
    });
    if (addr.port !== 0 && this.registry.conflict(binding(addr.port))) {
      throw new SyscallError(EADDRINUSE, `${addrText(addr)} in use`);
    }
    let port = addr.port;
    if (this.kernel) {
      try {
        vs.shadow = this.kernel.bindShadow(addr, { v6only: vs.v6only, reuseAddr: vs.reuseAddr, reusePort: vs.reusePort });
      } catch (e) {
        if (e instanceof KernelError) throw new SyscallError(e.errno, e.message);
        throw e;
      }
      port = vs.shadow.port;
    } else if (port === 0) {
      port = this.ports.allocate((p) => this.registry.conflict(binding(p)) === null) ?? 0;
      if (port === 0) throw new SyscallError(EADDRINUSE, "no ephemeral port left");
    }
    vs.binding = binding(port);
    this.registry.add(vs.binding);
    vs.local = { ...addr, port };
    vs.state = "bound";
    // __inet6_bind: a specific address that is not v4-mapped turns IPV6_V6ONLY on by itself.
    if (vs.family === AF_INET6 && !isAny(addr.ip) && !isV4Mapped(addr.ip)) vs.opts.setInt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
  }

  private unbind(vs: VirtualSocket): void {
    this.unregisterListener(vs);
    if (vs.binding) this.registry.remove(vs.binding);
    vs.binding = null;
    vs.shadow?.close();
    vs.shadow = null;
  }

  /**
   * listen(2) (inet_listen): EINVAL unless unconnected; again on a listener only updates the
   * backlog; an unbound socket is bound to the wildcard and an ephemeral port first (inet_autobind);
   * EADDRINUSE if another socket listens on the address (inet_csk_listen_start re-checks the port).
   */
  listen(vs: VirtualSocket, backlog: number): void {
    if (vs.state === "listening" && vs.queue) {
      vs.queue.backlog = backlog;
      return;
    }
    if (vs.state === "connected" || vs.state === "connecting") throw new SyscallError(EINVAL, "connected");
    if (vs.state === "unbound") {
      this.bind(vs, { family: vs.family, ip: Buffer.alloc(vs.family === AF_INET ? 4 : 16), port: 0 });
    }
    const binding = vs.binding!;
    binding.listening = true;
    if (this.registry.conflict(binding)) {
      binding.listening = false;
      throw new SyscallError(EADDRINUSE, `port ${binding.port} has a listener`);
    }
    const queue = new ListenQueue(backlog);
    if (vs.shadow) {
      const err = vs.shadow.listen(backlog, (fd, peer) => this.incoming(vs, { kind: "kernel", fd, peer }));
      if (err) {
        binding.listening = false;
        throw new SyscallError(err, `shadow listen on port ${binding.port}`);
      }
    }
    vs.queue = queue;
    vs.state = "listening";
  }

  /** A new connection for `listener` (or one an interrupted accept gives back): to a held accept, or queued with one readiness byte. */
  incoming(listener: VirtualSocket, conn: PendingConn): void {
    const queue = listener.queue;
    if (!queue) {
      closeQuietly(conn.fd);
      return;
    }
    if (queue.offer(conn) === "queued" && listener.end) {
      listener.end.signal();
      listener.signalled++;
    }
  }

  /**
   * The oldest pending connection of a listener, and whether the caller must consume one
   * readiness byte from the app's end (it wrote one when the connection was queued).
   */
  takePending(listener: VirtualSocket): { conn: PendingConn; consumeByte: boolean } | null {
    const conn = listener.queue?.take();
    if (!conn) return null;
    const consumeByte = listener.signalled > 0;
    if (consumeByte) listener.signalled--;
    return { conn, consumeByte };
  }

  /**
   * connect(2) to a listener of this stack, if `dest` names one: the client's sentry end becomes
   * the server's accepted socket (the socketpair is the connection). Returns 0 (blocking: done, as
   * a loopback handshake completes before accept), EINPROGRESS (non-blocking: already writable,
   * SO_ERROR 0), or null if no listener of this stack matches (the caller falls back to the kernel).
   * A blocking connect to a full queue waits for room, as a client whose SYN is dropped retries.
   */
  async connectLocal(task: Task, vs: VirtualSocket, dest: InetAddr, nonblock: boolean): Promise<number | null> {
    // A listener the app has just closed is forgotten here, synchronously (see SentryEnd.pollNow).
    this.listenerFor(dest)?.end?.pollNow();
    let listener = this.listenerFor(dest);
    if (!listener) return null;
    while (!nonblock && listener.queue!.full) {
      const open = await listener.queue!.waitRoom();
      if (!task.stillPending()) throw new SyscallError(EINTR, "connect interrupted while waiting for room");
      if (!open) throw new SyscallError(ECONNREFUSED, "listener closed");
      listener = this.listenerFor(dest);
      if (!listener) throw new SyscallError(ECONNREFUSED, "listener closed");
    }
    if (!vs.end) throw new SyscallError(EINVAL, "vsocket has no end to connect");

    // The source address: the bound one, else what the route to a local destination would pick.
    const dest4 = v4Of(dest.ip);
    let src: Buffer;
    if (vs.local && !isAny(vs.local.ip)) src = v4Of(vs.local.ip) ?? vs.local.ip;
    else if (dest4) src = dest4[0] === 127 ? IPV4_LOOPBACK : dest4;
    else src = isLoopback(dest.ip) ? IPV6_LOOPBACK : dest.ip;
    const srcPort =
      vs.local?.port || this.ports.allocate((p) => this.registry.portFree(p) && p !== dest.port) || 0;
    if (srcPort === 0) throw new SyscallError(EADDRNOTAVAIL, "no ephemeral port left");
    const destIp = dest4 ?? dest.ip;

    const fd = vs.end.release();
    vs.end = null;
    // The connection holds its port from now on; the bind table entry and shadow go (the sentry
    // cannot see this socket's close any more to free them).
    this.unbind(vs);
    vs.local = inFamily(vs.family, src, srcPort);
    vs.peer = { ...inFamily(vs.family, destIp, dest.port), flowinfo: dest.flowinfo, scopeId: dest.scopeId };
    vs.state = nonblock ? "connecting" : "connected";
    this.incoming(listener, {
      kind: "local",
      fd,
      local: inFamily(listener.family, destIp, dest.port),
      peer: inFamily(listener.family, src, srcPort),
      opts: listener.opts,
      client: vs,
    });
    return nonblock ? EINPROGRESS : 0;
  }

  private listenerFor(dest: InetAddr): VirtualSocket | null {
    if (!this.isLocal(dest.ip)) return null;
    const l = this.registry.lookup(dest.ip, dest.port)?.owner;
    return l?.queue ? l : null;
  }

  /**
   * The kernel fallback: a real socket in the netns (the bound shadow itself if there is one),
   * O_NONBLOCK as the app's file, recorded options replayed; the vsocket is forgotten. The caller
   * installs it over the app's fd and lets the kernel run the app's connect.
   */
  fallback(vs: VirtualSocket, nonblock: boolean): number {
    if (!this.kernel) throw new SyscallError(ENETUNREACH, "no kernel network for this stack");
    let fd: number;
    if (vs.shadow) {
      fd = vs.shadow.takeFd();
      vs.shadow = null;
    } else {
      fd = this.kernel.socket(vs.family, nonblock);
    }
    try {
      native.setNonblock(fd, nonblock);
      for (const o of vs.opts.all()) {
        if (o.value.length !== 4) {
          this.log.debug({ level: o.level, name: o.name }, "vsock: option not replayed on the kernel socket");
          continue;
        }
        try {
          this.kernel.setsockoptInt(fd, o.level, o.name, o.value.readInt32LE(0));
        } catch (e) {
          this.log.debug({ level: o.level, name: o.name, err: (e as Error).message }, "vsock: option replay failed");
        }
      }
    } catch (e) {
      closeQuietly(fd);
      throw e;
    }
    this.forget(vs);
    return fd;
  }
}
