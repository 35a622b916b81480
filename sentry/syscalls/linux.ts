// Linux ABI numbers the socket handlers speak (x86_64 / asm-generic values: the trapped app's
// ABI, not the headers the addon was built against). Errnos come from os.constants.errno.
import { constants } from "node:os";

export const E = constants.errno;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const SOCK_STREAM = 1;
/** The type flags of socket(2)/accept4(2) (O_NONBLOCK, O_CLOEXEC). */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOCK_TYPE_MASK = 0xf;

export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

export const IPPROTO_IP = 0;
/** include/uapi/linux/in.h; setting it also sets sk_priority (ip_setsockopt: rt_tos2priority). */
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_MULTICAST_TTL = 33;
export const IPPROTO_TCP = 6;
export const IPPROTO_IPV6 = 41;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
/** Like SO_SNDBUF, past net.core.wmem_max (CAP_NET_ADMIN). */
export const SO_SNDBUFFORCE = 32;
export const SO_KEEPALIVE = 9;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_ACCEPTCONN = 30;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
/** SO_RCVTIMEO_OLD on x86_64: a struct timeval (16 bytes). */
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
/** The 64-bit time variants (struct __kernel_sock_timeval). */
export const SO_RCVTIMEO_NEW = 66;
export const SO_SNDTIMEO_NEW = 67;
/** Linux 6.16: 0 makes an AF_UNIX socket refuse SCM_RIGHTS (the sender's sendmsg gets EPERM). */
export const SO_PASSRIGHTS = 83;
/** MSG_ZEROCOPY sends, each completion reported on the socket's error queue (TCP, UDP only). */
export const SO_ZEROCOPY = 60;
/** The peer's struct ucred {pid, uid, gid}; a TCP socket has no peer credentials. */
export const SO_PEERCRED = 17;
/** getpeername as an option (sk_getsockopt). */
export const SO_PEERNAME = 28;
/** The socket's unique 64-bit cookie (sock_gen_cookie): every socket has its own. */
export const SO_COOKIE = 57;
/** Urgent data stays in line (SOCK_URGINLINE: TCP and AF_UNIX's MSG_OOB alike). */
export const SO_OOBINLINE = 10;
/** The bytes a receive waits for (sk_rcvlowat; TCP also holds back readiness until then). */
export const SO_RCVLOWAT = 18;
/** Where MSG_PEEK starts (sk_peek_off; -1: off), moved on by peeks and back by reads (TCP: Linux 6.9). */
export const SO_PEEK_OFF = 42;
/** The CPU that last took the socket's packets (sk_incoming_cpu), -1 for none yet. */
export const SO_INCOMING_CPU = 49;
/** Setting IP_TOS sets it too (ip_setsockopt: rt_tos2priority). */
export const SO_PRIORITY = 12;

export const TCP_NODELAY = 1;
/** include/uapi/linux/tcp.h: never send partial frames. */
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
/** The MSS: 0 or [TCP_MIN_MSS, MAX_TCP_WINDOW] to set (do_tcp_setsockopt); an established one reads its mss. */
export const TCP_MAXSEG = 2;
export const TCP_MIN_MSS = 88;
export const MAX_TCP_WINDOW = 32767;
export const TCP_DEFER_ACCEPT = 9;
export const TCP_INFO = 11;
export const TCP_WINDOW_CLAMP = 10;
export const TCP_QUICKACK = 12;
export const TCP_FASTOPEN = 23;

export const IPV6_V6ONLY = 26;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_2292PKTINFO = 2;
export const IPV6_2292HOPLIMIT = 8;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_RECVHOPLIMIT = 51;

/** include/net/tcp_states.h */
export const TCP_ESTABLISHED = 1;
export const TCP_SYN_SENT = 2;
export const TCP_FIN_WAIT2 = 5;
export const TCP_CLOSE = 7;
export const TCP_CLOSE_WAIT = 8;
export const TCP_LISTEN = 10;
/** shutdown(2)'s `how` (include/linux/net.h). */
// recv flags (include/linux/socket.h).
export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_WAITALL = 0x100;
export const MSG_ERRQUEUE = 0x2000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
/** UIO_MAXIOV: the most iovecs one call takes (EMSGSIZE beyond). */
export const UIO_MAXIOV = 1024;
/** MAX_RW_COUNT: one read's most bytes (INT_MAX rounded down to a page); longer iovecs are cut. */
export const MAX_RW_COUNT = 0x7ffff000;
/** struct msghdr and struct iovec (x86_64). */
export const SIZEOF_MSGHDR = 56;
export const SIZEOF_IOVEC = 16;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** sizeof(struct sockaddr_storage): __sys_bind/__sys_connect reject longer addresses (move_addr_to_kernel). */
export const MAX_ADDR_LEN = 128;
/** sizeof(struct sockaddr_in). */
export const SOCKADDR_IN_LEN = 16;
/** sizeof(struct sockaddr_in6). */
export const SOCKADDR_IN6_LEN = 28;
/** SIN6_LEN_RFC2133: the shortest sockaddr_in6 inet6_bind/tcp_v6_connect accept (no sin6_scope_id). */
export const SIN6_LEN_RFC2133 = 24;
/** /proc/sys/net/core/somaxconn default (5.4+): listen() clamps its backlog to it (__sys_listen). */
export const SOMAXCONN = 4096;
/** The ints and structs of socket options. */
export const SIZEOF_INT = 4;
export const SIZEOF_LINGER = 8;
/** struct timeval on x86_64 (SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD). */
export const SIZEOF_TIMEVAL = 16;
/**
 * sizeof(struct tcp_info) the emulated TCP_INFO reports (Linux 5.x-6.1 size; getsockopt truncates
 * to the caller's optlen like tcp_getsockopt, so programs built against other headers still work).
 */
export const TCP_INFO_LEN = 232;
/** Range checks of tcp_setsockopt (include/net/tcp.h MAX_TCP_KEEPIDLE/KEEPINTVL/KEEPCNT). */
export const MAX_TCP_KEEPIDLE = 32767;
export const MAX_TCP_KEEPINTVL = 32767;
export const MAX_TCP_KEEPCNT = 127;
/** Defaults of a fresh TCP socket: tcp_keepalive_time/intvl/probes sysctls. */
export const TCP_KEEPIDLE_DEFAULT = 7200;
export const TCP_KEEPINTVL_DEFAULT = 75;
export const TCP_KEEPCNT_DEFAULT = 9;
/** net.core.rmem_max / wmem_max defaults: setsockopt(SO_RCVBUF/SNDBUF) clamps to them, then doubles. */
export const SYSCTL_RMEM_MAX = 212992;
export const SYSCTL_WMEM_MAX = 212992;
/** SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF (include/net/sock.h on x86_64): the floor after doubling. */
export const SOCK_MIN_RCVBUF = 2304;
export const SOCK_MIN_SNDBUF = 4608;
/** tcp_rmem[1] / tcp_wmem[1] defaults: what a fresh TCP socket reports for SO_RCVBUF / SO_SNDBUF. */
export const TCP_RMEM_DEFAULT = 131072;
export const TCP_WMEM_DEFAULT = 16384;
/** The MSS and MTU TCP_INFO reports (loopback's 65536 MTU; the socketpair has no segments). */
export const TCP_INFO_MSS = 65483;
export const TCP_INFO_PMTU = 65535;

/** The low 32 bits of a syscall argument as a C int. */
export function argInt(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/** The low 32 bits of a syscall argument as a C unsigned int. */
export function argUint(v: bigint): number {
  return Number(BigInt.asUintN(32, v));
}
