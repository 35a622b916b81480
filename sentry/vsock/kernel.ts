// The kernel's side of a container's sockets, in its network namespace: real sockets for the
// kernel fallback (connect() to anything that is not a TSoR listener) and *shadow* sockets that
// hold a vsocket's address in the kernel too (bind: the kernel decides EADDRINUSE against
// non-TSoR processes and picks the port for port 0; listen: kubelet probes and other non-TSoR
// clients connect to the shadow, whose accepted sockets are installed in the app as they are).
//
// The addon creates sockets in the netns (socketInNetns) but has no bind/listen/accept/
// getsockname on raw fds. Rather than grow it, a shadow socket is wrapped in libuv's TCP handle
// (Node's internal `tcp_wrap` binding, what net.Server itself uses): open(fd), bind/bind6,
// getsockname, listen and onconnection are exactly the calls needed. libuv differs from a plain
// bind(2) in two ways, both handled here: it sets SO_REUSEADDR before bind (restored to the app's
// value right after), and it reports EADDRINUSE only at listen (seen here as an unbound socket
// after bind). Accepted sockets are duplicated out of their handle (pidfd_getfd on ourselves).
import { readFileSync } from "node:fs";
import { constants as osConstants } from "node:os";

import { native } from "../../native/index.js";
import { SO_REUSEADDR, SO_REUSEPORT, SOL_SOCKET } from "../syscalls/linux.js";
import { AF_INET, ipText, parseIp, v4Mapped, type InetAddr, type InetFamily } from "./address.js";

const { EADDRINUSE, EBADF } = osConstants.errno;

/** A shadow kernel socket bound to a vsocket's address. */
export interface ShadowSocket {
  /** The port the kernel bound: the one asked for, or its pick for port 0. */
  readonly port: number;
  /** Starts listening; returns 0 or a positive errno (EADDRINUSE). `onConnection` gets fds we own. */
  listen(backlog: number, onConnection: (fd: number, peer: InetAddr | null) => void): number;
  /** Gives up the socket: a duplicate of its fd for the caller (kernel fallback of a bound vsocket). */
  takeFd(): number;
  close(): void;
}

export interface ShadowOptions {
  v6only: boolean;
  reuseAddr: boolean;
  reusePort: boolean;
}

/** The kernel operations a SocketStack needs (a seam: unit tests may pass a fake). */
export interface KernelNet {
  /** A new TCP socket of `family` in the container's netns (close-on-exec; O_NONBLOCK as asked). */
  socket(family: InetFamily, nonblock: boolean): number;
  /** Binds a shadow socket to `addr`; throws a KernelError carrying the errno on failure. */
  bindShadow(addr: InetAddr, opts: ShadowOptions): ShadowSocket;
  /** setsockopt(fd, level, name, &int) on a real socket (replaying recorded options). */
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  /**
   * An option the sentry does not emulate, asked of a scratch TCP socket of `family`: `set`
   * (value given) says whether Linux accepts it, get (no value) returns Linux's default. Throws a
   * NativeError with Linux's errno (ENOPROTOOPT for an unknown option).
   */
  probeOption(family: InetFamily, level: number, name: number, value?: number): number;
  /** Closes what the kernel side keeps (scratch sockets). */
  close(): void;
}

/** A kernel call failed with `errno` (positive). */
export class KernelError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = "KernelError";
  }
}

// --- Node's internal TCP handle (lib/internal/... tcp_wrap), typed for the calls used here.
interface TcpHandle {
  readonly fd: number;
  open(fd: number): number;
  bind(addr: string, port: number): number;
  bind6(addr: string, port: number, flags: number): number;
  listen(backlog: number): number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  getpeername(out: { address?: string; port?: number; family?: string }): number;
  close(cb?: () => void): void;
  unref(): void;
  onconnection: ((status: number, client: TcpHandle | undefined) => void) | null;
}
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  constants: { SERVER: number; SOCKET: number };
}
/** libuv's UV_TCP_IPV6ONLY bind flag. */
const UV_TCP_IPV6ONLY = 1;

let tcpWrap: TcpWrap | undefined;
function tcp(): TcpWrap {
  tcpWrap ??= (process as unknown as { binding(name: string): TcpWrap }).binding("tcp_wrap");
  return tcpWrap;
}

let selfPidfd: number | undefined;
/** A close-on-exec duplicate of one of the sentry's own fds (pidfd_getfd on ourselves: the addon has no dup). */
export function dupOwnFd(fd: number): number {
  selfPidfd ??= native.pidfdOpen(process.pid);
  return native.pidfdGetfd(selfPidfd, fd);
}

/** The `flags:` of /proc/<pid>/fdinfo/<fd> (file status flags, plus O_CLOEXEC for the fd), or null. */
export function fdinfoFlags(pid: number | "self", fd: number): number | null {
  try {
    const m = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
    return m ? parseInt(m[1], 8) : null;
  } catch {
    return null;
  }
}

function peerOf(h: TcpHandle, family: InetFamily): InetAddr | null {
  const out: { address?: string; port?: number } = {};
  if (h.getpeername(out) !== 0 || out.address === undefined) return null;
  const ip = parseIp(out.address);
  if (!ip) return null;
  return { family, ip: family === AF_INET || ip.length === 16 ? ip : v4Mapped(ip), port: out.port ?? 0 };
}

class NodeShadow implements ShadowSocket {
  private handle: TcpHandle | null;
  constructor(
    handle: TcpHandle,
    readonly port: number,
    private readonly family: InetFamily,
  ) {
    this.handle = handle;
  }

  listen(backlog: number, onConnection: (fd: number, peer: InetAddr | null) => void): number {
    const h = this.handle;
    if (!h) return EBADF;
    h.onconnection = (status, client) => {
      if (status !== 0 || !client) return;
      let fd = -1;
      try {
        fd = dupOwnFd(client.fd);
      } catch {
        /* the sentry is out of fds: the client sees a reset */
      }
      const peer = peerOf(client, this.family);
      client.close();
      if (fd >= 0) onConnection(fd, peer);
    };
    const err = h.listen(backlog);
    return err < 0 ? -err : 0;
  }

  takeFd(): number {
    if (!this.handle) throw new KernelError(EBADF, "shadow socket already closed");
    const fd = dupOwnFd(this.handle.fd);
    this.close();
    return fd;
  }

  close(): void {
    this.handle?.close();
    this.handle = null;
  }
}

/** KernelNet in the network namespace at `netnsPath` (e.g. /proc/<pid>/ns/net). */
export class NetnsKernel implements KernelNet {
  constructor(readonly netnsPath: string) {}

  socket(family: InetFamily, nonblock: boolean): number {
    const c = native.constants;
    return native.socketInNetns(this.netnsPath, family, c.SOCK_STREAM | (nonblock ? c.SOCK_NONBLOCK : 0), 0);
  }

  setsockoptInt(fd: number, level: number, name: number, value: number): void {
    native.setsockoptInt(fd, level, name, value);
  }

  private readonly probes = new Map<InetFamily, number>();

  probeOption(family: InetFamily, level: number, name: number, value?: number): number {
    let fd = this.probes.get(family);
    if (fd === undefined) {
      fd = this.socket(family, true);
      this.probes.set(family, fd);
    }
    if (value === undefined) return native.getsockoptInt(fd, level, name);
    native.setsockoptInt(fd, level, name, value);
    return 0;
  }

  close(): void {
    for (const fd of this.probes.values()) native.closeFd(fd);
    this.probes.clear();
  }

  bindShadow(addr: InetAddr, opts: ShadowOptions): ShadowSocket {
    const fd = this.socket(addr.family, false);
    const { TCP, constants } = tcp();
    const h = new TCP(constants.SERVER);
    const fail = (errno: number, what: string): never => {
      h.close();
      throw new KernelError(errno, `shadow ${what} ${ipText(addr.ip)}:${addr.port}: errno ${errno}`);
    };
    const opened = h.open(fd);
    if (opened < 0) {
      native.closeFd(fd);
      throw new KernelError(-opened, `shadow open: errno ${-opened}`);
    }
    h.unref();
    if (opts.reusePort) native.setsockoptInt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    const err =
      addr.family === AF_INET
        ? h.bind(ipText(addr.ip), addr.port)
        : h.bind6(ipText(addr.ip), addr.port, opts.v6only ? UV_TCP_IPV6ONLY : 0);
    if (err < 0) fail(-err, "bind");
    const out: { port?: number } = {};
    const gerr = h.getsockname(out);
    if (gerr < 0) fail(-gerr, "getsockname");
    // libuv defers bind's EADDRINUSE to listen(): an unbound socket here is that failure.
    if (!out.port) fail(EADDRINUSE, "bind");
    native.setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, opts.reuseAddr ? 1 : 0);
    return new NodeShadow(h, out.port!, addr.family);
  }
}
