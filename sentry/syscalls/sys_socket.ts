// The socket family: socket, bind, listen, accept, accept4, connect, shutdown. An unconnected TCP
// socket is the kernel's own (socket and bind run natively); the sentry takes a socket over when
// it listens (the kernel listener stays the app's fd, the sentry adds a virtual queue) or when it
// connects to a TSoR listener (a socketpair end replaces the app's fd). Anything else goes to the
// kernel. Each handler mirrors the Linux function it names.
import { native } from "../../native/index.js";
import { SyscallError, type Outcome, type Task } from "../platform/platform.js";
import type { Connected, ConnectingSocket, SocketStack } from "../vsock/stack.js";
import type { PendingConn, VirtualSocket } from "../vsock/vsocket.js";
import { closeQuietly, observePeer } from "../vsock/vsocket.js";
import { AF_INET6, isV4Mapped, type InetAddr, type InetFamily } from "../vsock/address.js";
import { copyKernelSocketOptions, dupOwnFd } from "../vsock/kernel.js";
import {
  CONTINUE,
  INTERRUPTED,
  asApp,
  fail,
  isCloexec,
  isNonblocking,
  kernelTcpSocket,
  receiveTimeoutMs,
  vsocketOf,
  ret,
  withFd,
  type SocketHandler,
} from "./common.js";
import {
  AF_UNSPEC,
  E,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SOCK_CLOEXEC,
  SOL_SOCKET,
  TCP_CLOSE,
  SOCK_NONBLOCK,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOMAXCONN,
  argInt,
} from "./linux.js";
import { decodeSockaddr, parseConnectAddr, readSockaddr, sockaddrFamily, writeSockaddr } from "./sockaddr.js";

/**
 * bind(2) is the kernel's on an unconnected socket (inet_bind decides EADDRINUSE, EACCES, port 0
 * and TIME_WAIT against every socket of the netns). A connection (socketpair) is bound already:
 * EINVAL, as inet_bind says for a socket with a port.
 */
export const sysBind: SocketHandler = (stack, task, args) => {
  const vs = vsocketOf(stack, task, args[0]);
  return !vs || vs.state === "listening" ? CONTINUE : fail(E.EINVAL);
};

/**
 * implements listen(2) (net/socket.c __sys_listen: backlog clamped to somaxconn as unsigned;
 * net/ipv4/af_inet.c inet_listen): the kernel listens on the app's socket (its errors are the
 * app's: EINVAL when connected, EADDRINUSE), then the sentry takes it over.
 */
export const sysListen: SocketHandler = (stack, task, args) =>
  withFd(stack, task, args[0], async ({ vs, fd, dup, ino }) => {
    if (vs && vs.state !== "listening") return fail(E.EINVAL); // a connection (inet_listen: not TCP_CLOSE)
    const family = vs?.family ?? kernelTcpSocket(dup);
    if (family === null) return CONTINUE;
    let backlog = argInt(args[1]);
    if (backlog >>> 0 > SOMAXCONN) backlog = SOMAXCONN;
    if (!task.stillPending()) return INTERRUPTED;
    asApp(() => native.listen(dup, backlog));
    const listener = stack.listen(ino, dup, family, backlog, { tgid: task.tgid, fd });
    await stack.registerListener(listener);
    return ret(0);
  });

/**
 * implements connect(2) (net/socket.c __sys_connect; net/ipv4/af_inet.c __inet_stream_connect;
 * tcp_v4_connect / tcp_v6_connect) for TSoR destinations. An unconnected kernel TCP socket that
 * connects to a listener of this container, or of another TSoR pod (netd), gets a socketpair end
 * installed over its fd; any other destination, and every argument error, is the kernel's own
 * connect. On a connection: EISCONN (0 once after EINPROGRESS); on a listener: EINVAL.
 */
export const sysConnect: SocketHandler = (stack, task, args) =>
  withFd(stack, task, args[0], ({ vs, fd, dup, ino }): Outcome | Promise<Outcome> => {
    if (vs) {
      const buf = readSockaddr(task, args[1], argInt(args[2]));
      if (buf.length < 2) return fail(E.EINVAL);
      if (!task.stillPending()) return INTERRUPTED;
      if (sockaddrFamily(buf) === AF_UNSPEC) {
        // A listener is the app's kernel socket: tcp_disconnect stops it listening (it keeps
        // its port), as shutdown(SHUT_RD) does; the sentry drops its queue first.
        if (vs.state === "listening") {
          stack.stopListening(vs);
          return CONTINUE;
        }
        // A connection (tcp_disconnect): an unconnected kernel socket takes the app's fd over.
        const sock = stack.disconnect(vs, isNonblocking(dup));
        inheritReplaced(stack, task, { fd, dup, ino }, sock);
        return { kind: "replaceFd", fd: sock, targetFd: fd, cloexec: isCloexec(task, fd), value: 0, errno: 0 };
      }
      if (vs.state === "listening") return fail(E.EINVAL);
      if (vs.state === "connected") return fail(E.EISCONN);
      // After EINPROGRESS the connection is already established (as on loopback, where the
      // handshake is done before the app asks again): 0 once, then EISCONN.
      vs.state = "connected";
      return ret(0);
    }
    const sockInfo = native.inspectTcp(dup);
    if (!sockInfo) return CONTINUE;
    const family = sockInfo.domain as InetFamily;
    // Only an unconnected socket can become a TSoR connection; connecting, connected or
    // listening kernel sockets answer for themselves (EALREADY, EISCONN, EINVAL).
    if (sockInfo.state !== TCP_CLOSE) return CONTINUE;
    let buf: Buffer;
    try {
      buf = readSockaddr(task, args[1], argInt(args[2]));
    } catch {
      return CONTINUE; // EFAULT / EINVAL: the kernel says it
    }
    if (sockaddrFamily(buf) === AF_UNSPEC) return CONTINUE;
    const v6only = sockInfo.v6only;
    const name = decodeSockaddr(sockInfo.name);
    const bound = name && name.port !== 0 ? name : null;
    let dest;
    try {
      dest = parseConnectAddr(family, buf, v6only, bound !== null && family === AF_INET6 && isV4Mapped(bound.ip));
    } catch {
      return CONTINUE; // a bad address: the kernel's own errno
    }
    if (!task.stillPending()) return INTERRUPTED;
    const opts = stack.takeKernelOpts(ino);
    if (v6only) opts.setInt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    const sock: ConnectingSocket = { family, bound, opts };
    const made = stack.connect(task, sock, dest, isNonblocking(dup));
    // Synchronous for a local listener with room: answered before the accept it woke.
    const app = { fd, dup, ino };
    return made instanceof Promise ? made.then((m) => connected(stack, task, app, bound, m)) : connected(stack, task, app, bound, made);
  });

/** The app's fd a new file takes over: its number, the sentry's duplicate of the old file, its inode. */
interface ReplacedFd {
  fd: number;
  dup: number;
  ino: bigint;
}

/**
 * Before `newFile` takes the task's fd over: what Linux keeps with the socket goes with it, the
 * options the kernel holds (copyKernelSocketOptions) and the epoll registrations of the old file
 * under that fd number (AppEpolls.carry). A failure costs the app its events for this fd, not
 * the connection.
 */
function inheritReplaced(stack: SocketStack, task: Task, old: ReplacedFd, newFile: number): void {
  copyKernelSocketOptions(old.dup, newFile);
  try {
    stack.epolls.carry(task, old.fd, old.ino, newFile);
  } catch (e) {
    stack.log.warn({ err: e, tgid: task.tgid, fd: old.fd }, "epoll registration not carried over to the connection");
  }
}

/** connect's answer once `stack.connect` made the connection (`made`), or not (null: the kernel's). */
function connected(stack: SocketStack, task: Task, app: ReplacedFd, bound: InetAddr | null, made: Connected | null): Outcome {
  if (!made) return CONTINUE;
  const { fd, dup } = app;
  inheritReplaced(stack, task, app, made.appEnd);
  // A port the app bound stays in use while the connection lives (inet_bind sees the
  // connected socket): the kernel socket that holds it is kept until the app closes the
  // connection (then TIME_WAIT may keep it a while longer).
  if (bound) {
    made.vs.portHolder = dupOwnFd(dup);
    made.vs.boundPort = true;
  }
  return {
    kind: "replaceFd",
    fd: made.appEnd,
    targetFd: fd,
    cloexec: isCloexec(task, fd),
    value: 0,
    errno: made.result,
  };
}

/**
 * Gives the app an accepted connection (do_accept after ops->accept): the peer address written
 * with move_addr_to_user (EFAULT drops the connection, as Linux does), O_NONBLOCK from the flags,
 * a vsocket recorded for a virtual connection, then installed as the new fd.
 */
function deliver(stack: SocketStack, task: Task, listener: { vs: VirtualSocket; dup: number }, conn: PendingConn, args: readonly bigint[], flags: number): Outcome {
  try {
    if (args[1] !== 0n) {
      if (!conn.peer) throw new SyscallError(E.ECONNABORTED, "peer address unknown");
      writeSockaddr(task, args[1], args[2], conn.peer);
    }
    if (!task.stillPending()) {
      stack.requeue(listener.vs, conn);
      return INTERRUPTED;
    }
    native.setNonblock(conn.fd, (flags & SOCK_NONBLOCK) !== 0);
    // A kernel-accepted socket inherited the listener's kernel-kept options itself.
    if (conn.kind !== "kernel") copyKernelSocketOptions(listener.dup, conn.fd);
    if (conn.kind === "local") stack.adopt(conn.fd, listener.vs, conn, conn.client);
    else if (conn.kind === "remote") stack.adopt(conn.fd, listener.vs, conn);
  } catch (e) {
    closeQuietly(conn.fd);
    throw e;
  }
  return { kind: "installFd", fd: conn.fd, cloexec: (flags & SOCK_CLOEXEC) !== 0 };
}

/**
 * accept and accept4 (net/socket.c __sys_accept4: EINVAL for unknown flags before the fd lookup;
 * net/ipv4/af_inet.c inet_accept, inet_csk_accept: EINVAL unless listening, EAGAIN when
 * non-blocking with an empty queue or after SO_RCVTIMEO, else wait). The kernel listener's own
 * queue (clients outside TSoR, doorbells) and the virtual queue are served in arrival order.
 */
function accept(stack: SocketStack, task: Task, args: readonly bigint[], flags: number): Promise<Outcome> | Outcome {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return fail(E.EINVAL);
  return withFd(stack, task, args[0], async ({ vs, dup }) => {
    if (!vs || vs.state !== "listening") return CONTINUE;
    let deadline: number | undefined; // SO_RCVTIMEO, read once the call has to wait
    for (;;) {
      if (!vs.queue) return fail(E.EINVAL); // shut down meanwhile
      const conn = asApp(() => stack.nextConnection(vs, dup)); // EINVAL once shut down
      if (conn) return deliver(stack, task, { vs, dup }, conn, args, flags);
      if (isNonblocking(dup)) return fail(E.EAGAIN);
      if (deadline === undefined) {
        const timeoutMs = receiveTimeoutMs(dup);
        deadline = timeoutMs ? Date.now() + timeoutMs : 0;
      }
      if (deadline && Date.now() >= deadline) return fail(E.EAGAIN);
      // Hold the call (keeping our duplicate open, as a blocked accept holds the file on Linux):
      // a virtual connection arrives through the queue, a kernel one makes the listener readable.
      const queue = vs.queue;
      const { wake, waiter } = queue.hold(task);
      const watcher = new native.ReadableWatcher(dup);
      watcher.start(() => queue.release(waiter, { kind: "kernel" }));
      const timer = deadline ? setTimeout(() => queue.release(waiter, { kind: "kernel" }), Math.max(0, deadline - Date.now())) : null;
      let w;
      try {
        w = await wake;
      } finally {
        watcher.stop();
        if (timer) clearTimeout(timer);
      }
      switch (w.kind) {
        case "interrupted":
          return INTERRUPTED;
        case "closed":
          return fail(E.EINVAL);
        case "conn":
          return deliver(stack, task, { vs, dup }, w.conn, args, flags);
        case "kernel":
          if (!task.stillPending()) return INTERRUPTED;
          break;
      }
    }
  });
}

/** implements accept(2): accept4 with no flags. */
export const sysAccept: SocketHandler = (stack, task, args) => accept(stack, task, args, 0);

/** implements accept4(2). */
export const sysAccept4: SocketHandler = (stack, task, args) => accept(stack, task, args, argInt(args[3]));

/**
 * implements shutdown(2) (net/ipv4/af_inet.c inet_shutdown) where the sentry must know: EINVAL
 * for a bad `how`; on a listener, SHUT_RD stops listening (tcp_disconnect: held accepts return
 * EINVAL; the sentry drops its queue and the kernel stops its listener). A connection's shutdown
 * runs on the socketpair itself (CONTINUE: the peer reads EOF, our writes fail EPIPE); the
 * sentry records the FIN for TCP_INFO and getpeername. Kernel sockets answer for themselves.
 */
export const sysShutdown: SocketHandler = (stack, task, args) => {
  const vs = withFd(stack, task, args[0], ({ vs, dup }) => {
    if (vs) observePeer(vs, dup);
    return vs;
  });
  if (!vs) return CONTINUE;
  const how = argInt(args[1]);
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return fail(E.EINVAL);
  if (vs.state === "listening") {
    if (how !== SHUT_WR) stack.stopListening(vs);
    return CONTINUE;
  }
  // Both FINs seen: the connection is closed (TIME_WAIT / LAST_ACK done at once on loopback).
  if (vs.sentFin && vs.rcvdFin) return fail(E.ENOTCONN);
  if (how !== SHUT_RD) {
    vs.sentFin = true;
    stack.noteFin(vs);
    if (vs.peerVs) vs.peerVs.rcvdFin = true;
  }
  return CONTINUE;
};
