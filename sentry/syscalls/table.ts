// The syscall table (gVisor pkg/sentry/syscalls/linux/linux64.go): number -> name, support level,
// handler. Derived from the one list of trapped calls (numbers.ts); `tsor syscalls` can print it.
import type { SocketHandler } from "./common.js";
import { FLAGGED_CALLS, SOCKET_SYSCALLS, UNTRAPPED_ARGS, type SocketSyscallName } from "./numbers.js";
import { sysAccept, sysAccept4, sysBind, sysConnect, sysListen, sysShutdown } from "./sys_socket.js";
import { sysGetpeername, sysGetsockname } from "./sys_sockname.js";
import { sysGetsockopt, sysSetsockopt } from "./sys_sockopt.js";
import { sysIoctl } from "./sys_ioctl.js";
import { sysEpollCreate } from "./sys_epoll.js";
import { sysIoUringSetup } from "./sys_io_uring.js";
import { sysRecvfrom, sysRecvmsg } from "./sys_recv.js";

export interface SyscallEntry {
  readonly name: SocketSyscallName;
  readonly support: "supported" | "partial";
  /** What a partial implementation leaves out. */
  readonly note?: string;
  readonly handler: SocketHandler;
}

function supported(name: SocketSyscallName, handler: SocketHandler): SyscallEntry {
  return { name, support: "supported", handler };
}

function partial(name: SocketSyscallName, handler: SocketHandler, note: string): SyscallEntry {
  return { name, support: "partial", note, handler };
}

/** A note's tail for the arguments the filter lets through (numbers.ts UNTRAPPED_ARGS). */
function untrapped(name: SocketSyscallName): string {
  const what = UNTRAPPED_ARGS.filter((u) => u.call === name).map((u) => `(${u.what})`);
  return what.length ? `; not trapped for ${what.join(", ")}: the kernel answers` : "";
}

/** When the filter traps a call by its flags (numbers.ts FLAGGED_CALLS). */
function flaggedFor(name: SocketSyscallName): string {
  return FLAGGED_CALLS.find((f) => f.call === name)?.what ?? "";
}

const ENTRIES: readonly SyscallEntry[] = [
  partial("bind", sysBind, "on a connection, the errors a kernel socket that has a port gives (the sentry's own capabilities decide EACCES for a privileged port, not the app's); once a connection is over (a reset, or both FINs done), one not bound before it connected stays unbindable (EINVAL; Linux gives its port back in TCP_CLOSE and lets it bind again, and set IPV6_V6ONLY)"),
  partial(
    "listen",
    sysListen,
    "a new virtual connection shows on the listener (epoll/poll/select) a moment after its connect returned (its doorbell is rung after the answer), or with TCP_DEFER_ACCEPT a moment after the client's first bytes (the sentry sees them arrive; Linux queues the connection within the client's send over loopback), so a client outside TSoR connecting just then may be accepted first; a listener stopped by shutdown(SHUT_RD) is the kernel's alone: listen again does not see the connections it served (Linux: EADDRINUSE while they live), and the port they share with it is held by its socket until its close, so a connect of its own that moves its bind frees the port (Linux: they keep it); the backlog counts virtual connections and the kernel's queue its own clients apart (a full queue of both takes one more of each)",
  ),
  supported("accept", sysAccept),
  supported("accept4", sysAccept4),
  partial(
    "connect",
    sysConnect,
    "AF_UNSPEC disconnects (an unconnected kernel socket replaces the connection's end; its peer sees a close, not a reset), and so does a connect that reports a reset (ECONNRESET, ECONNABORTED): the new socket has a fresh port, where Linux's keeps its history into the next connect; a socket shut down, stopped listening or connected by the kernel before stays the kernel's; a copy of the fd made before connect (dup, fork) keeps the kernel socket (epoll registrations made before it follow the connection); with room in the queue a non-blocking connect to a TSoR listener completes at once, as on loopback (a full queue leaves it to the kernel: SYN_SENT, EALREADY)",
  ),
  partial("shutdown", sysShutdown, "a connection's state follows its own shutdowns, the peer's last close (inotify close watch) and what its end shows of the peer when asked (a reset read by the app before the sentry saw it counts as a close); SHUT_RD also stops the peer's sends (EPIPE: a listed divergence); TIME_WAIT only where the port is the kernel's (listener port, bound client port), and also after a close with bytes unread (a reset on Linux, which leaves none)"),
  supported("getsockname", sysGetsockname),
  supported("getpeername", sysGetpeername),
  partial(
    "getsockopt",
    sysGetsockopt,
    `on a connection: emulated options listed in sys_sockopt.ts, others as set, else the kernel default; TCP_INFO, TCP_MAXSEG and TCP_WINDOW_CLAMP are a fresh connection's over its path (measured once: loopback in the pod's netns; to another pod, lo at the route's MTU in a scratch netns with a new netns's default sysctls), TCP_MAXSEG capped by the handshake's (the TCP_MAXSEG both ends set before it; with another pod only our own is known), its RTT and counters do not move, a client's MSS stays a fresh connection's (32741 over lo, half the server's first window; Linux's becomes 32768, half its later one, with the server's first segment after the handshake: data, an ACK of the client's data or a FIN), and its state goes from ESTABLISHED to FIN_WAIT2 at our shutdown (Linux shows FIN_WAIT1 until the peer's delayed ACK; its TCP_MAXSEG may change then too); SO_INCOMING_CPU is the CPU the caller last ran on, and a value set stays (Linux: until the next packet); an accepted connection's multicast TTL and hop limit are its SYN's, the client's IP_TTL or IPV6_UNICAST_HOPS (from another pod the default: the client's is not known here, nor the interface for IPV6_MULTICAST_IF), and an IPv6 client asking for packet info or hop limits takes them from the server's SYN-ACK only, not from later segments; TCP_QUICKACK reads what was set (1 on a fresh connection), where Linux reads 0 once the connection looks interactive (a send within the delayed-ACK time after a receive) or got the peer's FIN${untrapped("getsockopt")}`,
  ),
  partial("ioctl", sysIoctl, "only TIOCOUTQ (SIOCOUTQ), SIOCOUTQNSD and SIOCGSTAMP(NS) are trapped: 0, 0 and ENOENT on a connection, as loopback TCP once its peer has acknowledged the bytes (not while the peer's window is full, nor while our bytes or FIN wait for the peer's delayed ACK: a peer in interactive mode delays it up to 40 ms)"),
  supported("epoll_create", sysEpollCreate),
  supported("epoll_create1", sysEpollCreate),
  partial("io_uring_setup", sysIoUringSetup, "always ENOSYS, as without CONFIG_IO_URING: an io_uring's accept, connect, bind and listen would bypass the sentry"),
  partial("recvfrom", sysRecvfrom, `trapped only for ${flaggedFor("recvfrom")}: on a connection MSG_ERRQUEUE answers EAGAIN and MSG_TRUNC discards unseen, as TCP; elsewhere the kernel runs it`),
  partial("recvmsg", sysRecvmsg, `trapped only for ${flaggedFor("recvmsg")}: as recvfrom; no ancillary data on a connection`),
  partial(
    "setsockopt",
    sysSetsockopt,
    `on a connection: options not emulated are checked against a scratch kernel socket (int-sized only) and recorded as Linux reads them back, without effect on the socketpair (SO_RCVBUF and SO_SNDBUF do not size it, so a small receive buffer holds no sender back; SO_RCVLOWAT holds back receives but not readiness; a client's TCP_DEFER_ACCEPT, which delays its handshake's last ACK, none); SO_ZEROCOPY is EOPNOTSUPP (a socket or listener with it set before connect keeps the kernel's TCP); TCP_NODELAY and the keep-alive knobs are answered by the addon (seccomp); on an unconnected socket or a listener, an option not emulated is the kernel's (its checks, the app's privileges) and a connection reads its value back from that socket when it takes it over (connect, or accept for the listener's); on a listener, connections already queued keep the options they were made with, as Linux's children cloned at the handshake, but SO_KEEPALIVE, which is not trapped, reaches them if set before their accept${untrapped("setsockopt")}`,
  ),
];

/** The table, by x86_64 syscall number. */
export const SYSCALL_TABLE: ReadonlyMap<number, SyscallEntry> = new Map(
  ENTRIES.map((e) => [SOCKET_SYSCALLS[e.name], e] as const),
);
