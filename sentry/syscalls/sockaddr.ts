// struct sockaddr_in / sockaddr_in6 in the app's memory: reading them with the checks Linux makes
// (net/socket.c move_addr_to_kernel, net/ipv4/af_inet.c inet_bind, net/ipv6/af_inet6.c
// inet6_bind, net/ipv4/tcp_ipv4.c tcp_v4_connect, net/ipv6/tcp_ipv6.c tcp_v6_connect) and writing
// them back (move_addr_to_user). The sentry's own form is InetAddr (sentry/vsock/address.ts).
import { SyscallError, type Task } from "../platform/platform.js";
import {
  IPV4_ANY,
  IPV4_LOOPBACK,
  IPV6_LOOPBACK,
  isAny,
  isV4Mapped,
  v4Mapped,
  v4Of,
  type InetAddr,
  type InetFamily,
} from "../vsock/address.js";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  E,
  MAX_ADDR_LEN,
  SIN6_LEN_RFC2133,
  SOCKADDR_IN6_LEN,
  SOCKADDR_IN_LEN,
} from "./linux.js";

/**
 * move_addr_to_kernel: the `len` bytes at `ptr` (EINVAL for a negative or longer than
 * sockaddr_storage length, EFAULT for a bad pointer; length 0 reads nothing).
 */
export function readSockaddr(task: Task, ptr: bigint, len: number): Buffer {
  if (len < 0 || len > MAX_ADDR_LEN) throw new SyscallError(E.EINVAL, `address length ${len}`);
  if (len === 0) return Buffer.alloc(0);
  return task.readMemory(ptr, len);
}

/** sa_family of a sockaddr buffer (host order: x86_64 is little endian), or -1 if too short. */
export function sockaddrFamily(buf: Buffer): number {
  return buf.length >= 2 ? buf.readUInt16LE(0) : -1;
}

function decode(buf: Buffer, family: InetFamily): InetAddr {
  if (family === AF_INET) {
    return { family, ip: Buffer.from(buf.subarray(4, 8)), port: buf.readUInt16BE(2) };
  }
  return {
    family,
    ip: Buffer.from(buf.subarray(8, 24)),
    port: buf.readUInt16BE(2),
    flowinfo: buf.readUInt32BE(4),
    scopeId: buf.length >= SOCKADDR_IN6_LEN ? buf.readUInt32LE(24) : 0,
  };
}

/** A sockaddr_in/in6 the kernel answered (getsockname, accept) as an InetAddr, or null for another family. */
export function decodeSockaddr(buf: Buffer): InetAddr | null {
  const sa = sockaddrFamily(buf);
  if (sa === AF_INET && buf.length >= SOCKADDR_IN_LEN) return decode(buf, AF_INET);
  if (sa === AF_INET6 && buf.length >= SIN6_LEN_RFC2133) return decode(buf, AF_INET6);
  return null;
}

/** fe80::/10: needs a scope id (__ipv6_addr_needs_scope_id). */
function isLinkLocal(ip: Buffer): boolean {
  return ip.length === 16 && ip[0] === 0xfe && (ip[1] & 0xc0) === 0x80;
}

/**
 * The address a bind(2) on a socket of `family` names: inet_bind (AF_INET: EINVAL if shorter than
 * sockaddr_in; another family is EAFNOSUPPORT, except AF_UNSPEC with INADDR_ANY, accepted for
 * compatibility) or inet6_bind (EINVAL if shorter than SIN6_LEN_RFC2133, EAFNOSUPPORT for another
 * family, EINVAL for a v4-mapped address on an IPV6_V6ONLY socket or a link-local one without a
 * scope id). Whether the address is local (EADDRNOTAVAIL) is the caller's question.
 */
export function parseBindAddr(family: InetFamily, buf: Buffer, v6only: boolean): InetAddr {
  if (family === AF_INET) {
    if (buf.length < SOCKADDR_IN_LEN) throw new SyscallError(E.EINVAL, "sockaddr_in too short");
    const sa = sockaddrFamily(buf);
    if (sa !== AF_INET && !(sa === AF_UNSPEC && buf.readUInt32BE(4) === 0)) {
      throw new SyscallError(E.EAFNOSUPPORT, `bind: family ${sa} on an AF_INET socket`);
    }
    return decode(buf, AF_INET);
  }
  if (buf.length < SIN6_LEN_RFC2133) throw new SyscallError(E.EINVAL, "sockaddr_in6 too short");
  const sa = sockaddrFamily(buf);
  if (sa !== AF_INET6) throw new SyscallError(E.EAFNOSUPPORT, `bind: family ${sa} on an AF_INET6 socket`);
  const a = decode(buf, AF_INET6);
  if (isV4Mapped(a.ip) && v6only) throw new SyscallError(E.EINVAL, "v4-mapped bind on a V6ONLY socket");
  if (isLinkLocal(a.ip) && !a.scopeId) throw new SyscallError(E.EINVAL, "link-local bind without scope id");
  return a;
}

/**
 * The destination of a connect(2) (the AF_UNSPEC disconnect is the caller's): tcp_v4_connect
 * (EINVAL if short, EAFNOSUPPORT for another family; 0.0.0.0 means the address the socket is
 * bound to, else 127.0.0.1, as ip_route_output_key_hash_rcu makes it) or tcp_v6_connect (EINVAL
 * if short, EAFNOSUPPORT; :: means ::1, or ::ffff:127.0.0.1 for a socket bound to a v4-mapped
 * address; v4-mapped on a V6ONLY socket is ENETUNREACH; link-local needs a scope id: EINVAL).
 * `bound`: the socket's own address, if it has a port.
 */
export function parseConnectAddr(family: InetFamily, buf: Buffer, v6only: boolean, bound: InetAddr | null): InetAddr {
  if (family === AF_INET) {
    if (buf.length < SOCKADDR_IN_LEN) throw new SyscallError(E.EINVAL, "sockaddr_in too short");
    const sa = sockaddrFamily(buf);
    if (sa !== AF_INET) throw new SyscallError(E.EAFNOSUPPORT, `connect: family ${sa} on an AF_INET socket`);
    const a = decode(buf, AF_INET);
    if (!isAny(a.ip)) return a;
    return { ...a, ip: bound && !isAny(bound.ip) ? (v4Of(bound.ip) ?? bound.ip) : IPV4_LOOPBACK };
  }
  const boundV4Mapped = bound !== null && isV4Mapped(bound.ip);
  if (buf.length < SIN6_LEN_RFC2133) throw new SyscallError(E.EINVAL, "sockaddr_in6 too short");
  const sa = sockaddrFamily(buf);
  if (sa !== AF_INET6) throw new SyscallError(E.EAFNOSUPPORT, `connect: family ${sa} on an AF_INET6 socket`);
  const a = decode(buf, AF_INET6);
  if (isAny(a.ip)) return { ...a, ip: boundV4Mapped ? v4Mapped(IPV4_LOOPBACK) : IPV6_LOOPBACK };
  if (isV4Mapped(a.ip)) {
    if (v6only) throw new SyscallError(E.ENETUNREACH, "v4-mapped connect on a V6ONLY socket");
    const v4 = v4Of(a.ip)!;
    if (isAny(v4)) return { ...a, ip: v4Mapped(IPV4_LOOPBACK) };
  }
  if (isLinkLocal(a.ip) && !a.scopeId) throw new SyscallError(E.EINVAL, "link-local connect without scope id");
  return a;
}

/** The kernel's sockaddr for `a`: sockaddr_in (16 bytes) or sockaddr_in6 (28). */
export function formatSockaddr(a: InetAddr): Buffer {
  if (a.family === AF_INET) {
    const buf = Buffer.alloc(SOCKADDR_IN_LEN);
    buf.writeUInt16LE(AF_INET, 0);
    buf.writeUInt16BE(a.port, 2);
    (v4Of(a.ip) ?? IPV4_ANY).copy(buf, 4);
    return buf;
  }
  const buf = Buffer.alloc(SOCKADDR_IN6_LEN);
  buf.writeUInt16LE(AF_INET6, 0);
  buf.writeUInt16BE(a.port, 2);
  buf.writeUInt32BE(a.flowinfo ?? 0, 4);
  (a.ip.length === 4 ? v4Mapped(a.ip) : a.ip).copy(buf, 8);
  buf.writeUInt32LE(a.scopeId ?? 0, 24);
  return buf;
}

/** Reads the int length at `lenPtr` (EFAULT), as get_user does. */
export function readLen(task: Task, lenPtr: bigint): number {
  return task.readMemory(lenPtr, 4).readInt32LE(0);
}

/**
 * move_addr_to_user: `addr` into the buffer at `ptr` whose length the int at `lenPtr` gives
 * (truncated to it; EINVAL if negative), then the full length back into `lenPtr`. EFAULT for a
 * bad pointer. `len` may be passed when the caller already read it.
 */
export function writeSockaddr(task: Task, ptr: bigint, lenPtr: bigint, addr: InetAddr, len = readLen(task, lenPtr)): void {
  moveAddrToUser(task, ptr, lenPtr, formatSockaddr(addr), len);
}

/** move_addr_to_user for an address already formatted (empty: TCP's receives name no sender). */
export function moveAddrToUser(task: Task, ptr: bigint, lenPtr: bigint, full: Buffer, len = readLen(task, lenPtr)): void {
  if (len < 0) throw new SyscallError(E.EINVAL, "negative address length");
  const n = Math.min(len, full.length);
  if (n > 0) task.writeMemory(ptr, full.subarray(0, n));
  const out = Buffer.alloc(4);
  out.writeInt32LE(full.length, 0);
  task.writeMemory(lenPtr, out);
}
