// The socket control syscalls the sentry owns, by x86_64 number (arch/x86/entry/syscalls/
// syscall_64.tbl). The one list: tsor-init's trap filter (via the plan's `trap` directive, see
// sentry/platform/index.ts trapOptions) and the handler table are both derived from it.

import { IPPROTO_TCP, MSG_ERRQUEUE, MSG_TRUNC, SOL_SOCKET, SO_COOKIE, SO_ERROR, SO_KEEPALIVE, TCP_CORK } from "./linux.js";

/** x86_64 syscall numbers of the socket control calls. */
export const SOCKET_SYSCALLS = {
  socket: 41,
  connect: 42,
  accept: 43,
  shutdown: 48,
  bind: 49,
  listen: 50,
  getsockname: 51,
  getpeername: 52,
  setsockopt: 54,
  getsockopt: 55,
  accept4: 288,
  epoll_create: 213,
  epoll_create1: 291,
  io_uring_setup: 425,
  /** Only for the requests in TRAPPED_IOCTLS. */
  ioctl: 16,
  /** recvfrom and recvmsg: only for the flags in FLAGGED_CALLS. */
  recvfrom: 45,
  recvmsg: 47,
} as const;

export type SocketSyscallName = keyof typeof SOCKET_SYSCALLS;

/**
 * The calls the filter traps (DESIGN.md "Virtual sockets"). `socket` traps only for
 * AF_INET/AF_INET6 + SOCK_STREAM (+ protocol 0 or IPPROTO_TCP); the others whatever their fd.
 */
export const TRAPPED_SOCKET_CALLS: readonly SocketSyscallName[] = [
  // socket(2) is not trapped: a fresh kernel TCP socket in the pod's netns is exactly what an
  // unconnected socket should be, and the sentry meets it at listen or connect (one trap fewer
  // per connection).
  "connect",
  "accept",
  // shutdown: a listener's SHUT_RD (wakes held accepts, stops listening), ENOTCONN on an
  // unconnected socket, and a half-close the sentry must not take for the app's close (the
  // socketpair's EOF). Apps call it rarely, so the trap costs little.
  "shutdown",
  "bind",
  "listen",
  "getsockname",
  "getpeername",
  "setsockopt",
  "getsockopt",
  "accept4",
  // epoll_create/epoll_create1: run by the kernel; the sentry only notes that the process has a
  // new epoll instance, where a socket registered before its connect must be re-registered
  // when the connection replaces its fd (vsock/epoll.ts). Rare calls.
  "epoll_create",
  "epoll_create1",
  // io_uring_setup: refused (ENOSYS), since an io_uring's socket operations bypass the sentry.
  "io_uring_setup",
];

/**
 * ioctl(2) requests the filter traps by their number (whatever the fd; the sentry lets the
 * others through): TIOCOUTQ (SIOCOUTQ on a socket), a connection's unacknowledged bytes, which
 * the socketpair would answer with its own unread bytes; SIOCOUTQNSD (the unsent ones) and
 * SIOCGSTAMP/SIOCGSTAMPNS (the last packet's time), which an AF_UNIX socket does not know
 * (ENOTTY).
 */
export const TRAPPED_IOCTLS = { TIOCOUTQ: 0x5411, SIOCOUTQNSD: 0x894b, SIOCGSTAMP: 0x8906, SIOCGSTAMPNS: 0x8907 } as const;

/**
 * Trapped calls the filter does not trap for some arguments (their second and third): the
 * kernel runs them, because its answer is the right one whatever the fd, or (`zero`) the filter
 * answers 0 without running them. The kernel's answer: getsockopt(fd, SOL_SOCKET, SO_ERROR)
 * reads and clears the socket's pending error, which is a kernel socket's own, and on a
 * connection's socketpair end the error TCP would show (0, or ECONNRESET once the peer went with
 * unread data, as unix_release_sock sets it). nginx asks it before every request it sends
 * upstream, kept-alive connections included: one trap per proxied request otherwise.
 */
export const UNTRAPPED_ARGS: readonly { call: SocketSyscallName; arg1: number; arg2: number; what: string; zero?: true }[] = [
  { call: "getsockopt", arg1: SOL_SOCKET, arg2: SO_ERROR, what: "SOL_SOCKET, SO_ERROR" },
  // SO_KEEPALIVE is a flag of the sock for every family (sk_setsockopt: SOCK_KEEPOPEN; unix has no
  // keepalive hook to run): set and read natively, and copied onto a connection's end where
  // Linux carries it over (copyKernelSocketOptions). Servers set it on every accepted socket.
  { call: "setsockopt", arg1: SOL_SOCKET, arg2: SO_KEEPALIVE, what: "SOL_SOCKET, SO_KEEPALIVE" },
  { call: "getsockopt", arg1: SOL_SOCKET, arg2: SO_KEEPALIVE, what: "SOL_SOCKET, SO_KEEPALIVE" },
  // SO_COOKIE: every socket has its own (a connection's socketpair end too), which only the
  // kernel can answer.
  { call: "getsockopt", arg1: SOL_SOCKET, arg2: SO_COOKIE, what: "SOL_SOCKET, SO_COOKIE" },
  // TCP_CORK set (`zero`: answered 0 by the filter itself, not run): a batching hint with nothing
  // to batch on a socketpair, and a trap twice per response for nginx serving files with
  // sendfile + tcp_nopush (Debian's default nginx.conf): 0.14x runc trapped. The price: a kernel
  // socket (a client outside TSoR) is never corked, getsockopt(TCP_CORK) reads 0, and the call
  // answers 0 whatever the fd or optlen (a known divergence of the syscall suite, sockopt_cork).
  { call: "setsockopt", arg1: IPPROTO_TCP, arg2: TCP_CORK, what: "IPPROTO_TCP, TCP_CORK: 0 without effect", zero: true },
];

/**
 * Calls the filter traps only when their flags argument (`arg`) has a bit of `mask` set: recv
 * with a flag TCP gives a meaning an AF_UNIX stream does not (MSG_TRUNC discards without
 * copying, MSG_ERRQUEUE reads the error queue). Every other receive, the data path, never leaves
 * the kernel. Such a receive on a UDP or any other socket traps and goes back to the kernel
 * (CONTINUE), as a UDP bind or connect does: a round trip per call for what uses them often (a
 * DNS stub sizing datagrams with MSG_PEEK | MSG_TRUNC; MSG_ZEROCOPY completions read from a
 * kernel TCP socket's error queue). recvmmsg is not trapped (TCP has no use for it).
 */
export const FLAGGED_CALLS: readonly { call: SocketSyscallName; arg: number; mask: number; what: string }[] = [
  { call: "recvfrom", arg: 3, mask: MSG_TRUNC | MSG_ERRQUEUE, what: "flags with MSG_TRUNC or MSG_ERRQUEUE" },
  { call: "recvmsg", arg: 2, mask: MSG_TRUNC | MSG_ERRQUEUE, what: "flags with MSG_TRUNC or MSG_ERRQUEUE" },
];

/** Every call the handler table serves: the trapped calls, ioctl for TRAPPED_IOCTLS, the flagged calls. */
export const TABLE_CALLS: readonly SocketSyscallName[] = [...TRAPPED_SOCKET_CALLS, "ioctl", ...FLAGGED_CALLS.map((f) => f.call)];
