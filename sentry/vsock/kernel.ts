// The kernel's side of a container's sockets, in its network namespace, as far as the sentry
// makes sockets there itself: doorbells (kernel clients that make a listener readable for each
// queued virtual connection, sentry/vsock/stack.ts) and scratch sockets that tell Linux's
// answer for options the sentry does not emulate. The app's own TCP sockets are created by the
// kernel in the app's context (socket(2) is not the sentry's), so no socket of the app is made
// here.
import { native, NativeError } from "../../native/index.js";
import { AF_INET6, IPV4_LOOPBACK, IPV6_LOOPBACK, anyOf, inetAddr, ipText, type InetFamily } from "./address.js";
import { E, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, SO_KEEPALIVE, SO_OOBINLINE, SO_PEEK_OFF, SO_RCVBUF, SO_RCVLOWAT, SO_RCVTIMEO, SO_SNDBUF, SO_SNDTIMEO, SOL_SOCKET, TCP_INFO, TCP_INFO_LEN, TCP_WINDOW_CLAMP } from "../syscalls/linux.js";
import { formatSockaddr } from "../syscalls/sockaddr.js";

/**
 * What Linux shows of a fresh TCP connection on each side: its struct tcp_info (the MSS, window
 * scales, options, RTO... that depend on the path's MTU and the netns's sysctls),
 * TCP_WINDOW_CLAMP, and SO_SNDBUF / SO_RCVBUF as the connection set them up
 * (tcp_init_buffer_space grows the send buffer for the MSS). A connection's getsockopt answers
 * from it, since a socketpair end has none of these.
 */
export interface ConnectionSide {
  readonly tcpInfo: Buffer;
  readonly windowClamp: number;
  readonly sndbuf: number;
  readonly rcvbuf: number;
}
export interface ConnectionTemplate {
  readonly client: ConnectionSide;
  readonly server: ConnectionSide;
}

/** The kernel operations a SocketStack needs (a seam: unit tests may pass a fake). */
export interface KernelNet {
  /** `count` non-blocking, close-on-exec TCP sockets of `family` in the container's netns. */
  sockets(family: InetFamily, count: number): number[];
  /**
   * An int option the sentry does not emulate, set on a scratch TCP socket of `family`: returns
   * what Linux then answers for it (its own rounding and clamping: TCP_DEFER_ACCEPT 30 reads 31),
   * or null if it cannot be read back; throws a NativeError with Linux's errno if Linux refuses
   * `value` (ENOPROTOOPT for an unknown option). Its default is probeBytes'.
   */
  probeOption(family: InetFamily, level: number, name: number, value: number): Buffer | null;
  /**
   * The bytes a scratch TCP socket of `family` answers for an option, with `maxLen` bytes of
   * room (Linux's own length rules: an int option answers 4, TCP_CONGESTION 16, an unbound
   * SO_BINDTODEVICE none). Throws a NativeError with Linux's errno.
   */
  probeBytes(family: InetFamily, level: number, name: number, maxLen: number): Buffer;
  /**
   * A connection of `family` to `peer` (its IP, 4 or 16 bytes; none: loopback), measured once per
   * path MTU: over the netns's lo when the route to `peer` has lo's MTU (loopback, the pod's own
   * addresses), else over a scratch netns's lo set to the route's MTU (another pod: its veth's).
   * Null if the netns cannot make a loopback connection (lo down).
   */
  connectionTemplate(family: InetFamily, peer?: Buffer): ConnectionTemplate | null;
  /**
   * The errno bind(2) of `addr` answers on a socket of `family` that has a port already (a
   * connection): the checks inet_bind / inet6_bind make before their EINVAL for such a socket
   * (EAFNOSUPPORT, EADDRNOTAVAIL, an IPv6 multicast address...), else EINVAL.
   */
  bindErrorOfBound(family: InetFamily, addr: Buffer): number;
  /** Closes what the kernel side keeps (scratch sockets). */
  close(): void;
}

let selfPidfd: number | undefined;
/** A close-on-exec duplicate of one of the sentry's own fds (pidfd_getfd on ourselves: the addon has no dup). */
export function dupOwnFd(fd: number): number {
  selfPidfd ??= native.pidfdOpen(process.pid);
  return native.pidfdGetfd(selfPidfd, fd);
}

/** The `flags:` of /proc/<pid>/fdinfo/<fd> (file status flags, plus O_CLOEXEC for the fd), or null. */
export function fdinfoFlags(pid: number | "self", fd: number): number | null {
  if (pid !== "self" && pid <= 0) return null;
  const flags = native.fdinfoFlags(pid === "self" ? 0 : pid, fd);
  return flags < 0 ? null : flags;
}

/** What copyKernelSocketOptions carries, as [level, name, what a new socket holds] triples. */
const KERNEL_HELD_OPTIONS = Int32Array.of(
  ...[SOL_SOCKET, SO_RCVTIMEO, 0],
  ...[SOL_SOCKET, SO_SNDTIMEO, 0],
  ...[SOL_SOCKET, SO_KEEPALIVE, 0],
  ...[SOL_SOCKET, SO_OOBINLINE, 0],
  ...[SOL_SOCKET, SO_PEEK_OFF, -1],
  ...[SOL_SOCKET, SO_RCVLOWAT, 1],
);

/**
 * Copies the socket options the kernel keeps for every socket family and answers itself (not
 * the sentry: sys_sockopt.ts KERNEL_SOCKET_OPTS, numbers.ts UNTRAPPED_ARGS) from socket `from`
 * to socket `to` (both the sentry's fds): SO_RCVTIMEO, SO_SNDTIMEO (a connection's socketpair end
 * times out its reads and writes as the TCP socket would), SO_KEEPALIVE, SO_OOBINLINE, SO_PEEK_OFF
 * and SO_RCVLOWAT (its receives wait for as many bytes). Used
 * where Linux carries them over: connect keeps the socket's own, an accepted socket inherits its
 * listener's (sk_clone_lock copies the sock), connect(AF_UNSPEC) keeps the connection's.
 */
export function copyKernelSocketOptions(from: number, to: number): void {
  native.copySocketOptions(from, to, KERNEL_HELD_OPTIONS);
}

/** How long a loopback template that could not be measured waits before the next try. */
const TEMPLATE_RETRY_MS = 1000;
/** Routes' MTUs kept (by peer address) before the cache starts over. */
const PATH_MTUS_KEPT = 1024;
/** IP_MTU, IPV6_MTU (include/uapi/linux/in.h, in6.h): a connected socket's path MTU. */
const IP_MTU = 14;
const IPV6_MTU = 24;

/**
 * A template over a path of MTU `mtu`: a loopback connection in a scratch netns whose lo has
 * that MTU (loopbackNetns), which shows what one over a veth of that MTU shows (MSS 1448, pmtu
 * 1500, rcv_space 14480... for 1500, measured alike), with the default sysctls of a new netns
 * (a pod's are those unless set). Null if no scratch netns can be made (no CAP_SYS_ADMIN).
 */
function measureAtMtu(family: InetFamily, mtu: number): ConnectionTemplate | null | undefined {
  let nsfd: number;
  try {
    nsfd = native.loopbackNetns(mtu);
  } catch {
    return null;
  }
  const scratch = new NetnsKernel(`/proc/self/fd/${nsfd}`);
  try {
    return scratch.measureLoopback(family);
  } finally {
    scratch.close();
    native.closeFd(nsfd);
  }
}

/** KernelNet in the network namespace at `netnsPath` (e.g. /proc/<pid>/ns/net). */
export class NetnsKernel implements KernelNet {
  /** Scratch sockets probeOption sets options on. */
  private readonly probes = new Map<InetFamily, number>();
  /** Scratch sockets never set: their options are Linux's defaults (probeBytes). */
  private readonly cleanProbes = new Map<InetFamily, number>();
  /** Templates by path ("lo" or an MTU) and family. */
  private readonly templates = new Map<string, ConnectionTemplate | null>();
  private readonly retryAt = new Map<string, number>();
  private readonly pathMtus = new Map<string, number | null>();

  constructor(readonly netnsPath: string) {}

  sockets(family: InetFamily, count: number): number[] {
    const c = native.constants;
    return native.socketsInNetns(this.netnsPath, family, c.SOCK_STREAM | c.SOCK_NONBLOCK, 0, count);
  }

  probeOption(family: InetFamily, level: number, name: number, value: number): Buffer | null {
    const fd = this.probe(family);
    native.setsockoptInt(fd, level, name, value);
    try {
      const back = native.getsockoptBuf(fd, level, name, 4);
      return back.length === 4 ? back : null;
    } catch {
      return null; // set-only
    }
  }

  probeBytes(family: InetFamily, level: number, name: number, maxLen: number): Buffer {
    // Read from a socket no option was ever set on: probeOption's keeps what it was last set to.
    return native.getsockoptBuf(this.probe(family, this.cleanProbes), level, name, maxLen);
  }

  bindErrorOfBound(family: InetFamily, addr: Buffer): number {
    // A socket bound to a port of the wildcard address (which lo's state does not affect), made
    // for the question and closed: binding a connection is rare.
    let fd: number;
    try {
      fd = this.sockets(family, 1)[0]!;
    } catch {
      return E.EINVAL; // no socket in the netns (going away): the answer for a connection
    }
    try {
      native.bind(fd, formatSockaddr(inetAddr(family, anyOf(family), 0)));
      native.bind(fd, addr);
      return E.EINVAL; // not reached: a bound socket never binds again
    } catch (e) {
      if (e instanceof NativeError) return e.errno;
      throw e;
    } finally {
      native.closeFd(fd);
    }
  }

  private probe(family: InetFamily, probes = this.probes): number {
    let fd = probes.get(family);
    if (fd === undefined) {
      fd = this.sockets(family, 1)[0]!;
      probes.set(family, fd);
    }
    return fd;
  }

  connectionTemplate(family: InetFamily, peer?: Buffer): ConnectionTemplate | null {
    const lo = this.measured(`lo/${family}`, () => this.measureLoopback(family));
    if (!peer || !lo) return lo;
    const mtu = this.pathMtu(family, peer);
    if (mtu === null || mtu === this.pathMtu(family, family === AF_INET6 ? IPV6_LOOPBACK : IPV4_LOOPBACK)) return lo;
    return this.measured(`${mtu}/${family}`, () => measureAtMtu(family, mtu)) ?? lo;
  }

  /**
   * A template measured once and kept; one not ready at once (a busy moment, lo's packets
   * dropped) is measured again a while later, not on every call.
   */
  private measured(key: string, measure: () => ConnectionTemplate | null | undefined): ConnectionTemplate | null {
    if (this.templates.has(key)) return this.templates.get(key)!;
    if ((this.retryAt.get(key) ?? 0) > Date.now()) return null;
    const t = measure();
    if (t === undefined) this.retryAt.set(key, Date.now() + TEMPLATE_RETRY_MS);
    else this.templates.set(key, t);
    return t ?? null;
  }

  /**
   * The MTU of the netns's route to `ip` (IP_MTU / IPV6_MTU of a UDP socket connected there:
   * ip_route_output's device or the route's own mtu), kept per address; null if there is no
   * route (ENETUNREACH) or no socket.
   */
  private pathMtu(family: InetFamily, ip: Buffer): number | null {
    const key = ipText(ip);
    const known = this.pathMtus.get(key);
    if (known !== undefined) return known;
    let mtu: number | null = null;
    let fd: number | undefined;
    try {
      const c = native.constants;
      fd = native.socketsInNetns(this.netnsPath, family, c.SOCK_DGRAM | c.SOCK_NONBLOCK, 0, 1)[0]!;
      native.connectNow(fd, formatSockaddr(inetAddr(family, ip, 9)));
      mtu = family === AF_INET6 ? native.getsockoptInt(fd, IPPROTO_IPV6, IPV6_MTU) : native.getsockoptInt(fd, IPPROTO_IP, IP_MTU);
    } catch {
      mtu = null;
    } finally {
      if (fd !== undefined) native.closeFd(fd);
    }
    if (this.pathMtus.size >= PATH_MTUS_KEPT) this.pathMtus.clear();
    this.pathMtus.set(key, mtu);
    return mtu;
  }

  /**
   * One loopback connection, made and reset at once (closeReset: no TIME_WAIT is left on its
   * ports): a listener on port 0 of lo and a non-blocking client, whose handshake loopback
   * finishes within connect(2) itself (the softirq runs on the way out), so the listener's queue
   * holds it at once (undefined if it does not yet). Anything else (lo down: ENETUNREACH) gives
   * no template (null).
   */
  measureLoopback(family: InetFamily): ConnectionTemplate | null | undefined {
    const made: number[] = [];
    try {
      const [listener, client] = this.sockets(family, 2);
      made.push(listener!, client!);
      native.bind(listener!, formatSockaddr(inetAddr(family, family === AF_INET6 ? IPV6_LOOPBACK : IPV4_LOOPBACK, 0)));
      native.listen(listener!, 1);
      const r = native.connectNow(client!, native.getsockname(listener!));
      if (r !== 0 && r !== E.EINPROGRESS) return null;
      let accepted = null;
      for (let tries = 0; !accepted && tries < 3; tries++) accepted = native.acceptNow(listener!);
      if (!accepted) return undefined;
      made.push(accepted.fd);
      const side = (fd: number): ConnectionSide => ({
        tcpInfo: native.getsockoptBuf(fd, IPPROTO_TCP, TCP_INFO, TCP_INFO_LEN),
        windowClamp: native.getsockoptInt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP),
        sndbuf: native.getsockoptInt(fd, SOL_SOCKET, SO_SNDBUF),
        rcvbuf: native.getsockoptInt(fd, SOL_SOCKET, SO_RCVBUF),
      });
      return { client: side(client!), server: side(accepted.fd) };
    } catch {
      return null;
    } finally {
      for (const fd of made) {
        try {
          native.closeReset(fd);
        } catch {
          /* closed anyway */
        }
      }
    }
  }

  close(): void {
    for (const probes of [this.probes, this.cleanProbes]) {
      for (const fd of probes.values()) native.closeFd(fd);
      probes.clear();
    }
  }
}
