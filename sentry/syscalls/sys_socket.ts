// The socket family: socket, bind, listen, accept, accept4, connect, shutdown. An unconnected TCP
// socket is the kernel's own (socket and bind run natively); the sentry takes a socket over when
// it listens (the kernel listener stays the app's fd, the sentry adds a virtual queue) or when it
// connects to a TSoR listener (a socketpair end replaces the app's fd). Anything else goes to the
// kernel. Each handler mirrors the Linux function it names.
import { native } from "../../native/index.js";
import { SyscallError, type Outcome, type Task } from "../platform/platform.js";
import { takeQueuedMark, type Connected, type ConnectingSocket, type SocketStack } from "../vsock/stack.js";
import type { PendingConn, VirtualSocket } from "../vsock/vsocket.js";
import { closeQuietly, observePeer, peerReset } from "../vsock/vsocket.js";
import { AF_INET6, isAny, isV4Mapped, type InetAddr, type InetFamily } from "../vsock/address.js";
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
  SO_ERROR,
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
 * and TIME_WAIT against every socket of the netns) and on a listener (the app's kernel socket).
 * A connection (socketpair) has a port already: inet_bind's EINVAL, after the checks that come
 * first (the address's length and family, EADDRNOTAVAIL...), which a kernel socket with a port
 * answers for it.
 */
export const sysBind: SocketHandler = (stack, task, args) => {
  const vs = vsocketOf(stack, task, args[0]);
  if (!vs || vs.state === "listening") return CONTINUE;
  const buf = readSockaddr(task, args[1], argInt(args[2])); // EINVAL / EFAULT as move_addr_to_kernel
  if (!task.stillPending()) return INTERRUPTED;
  return fail(stack.kernel?.bindErrorOfBound(vs.family, buf) ?? E.EINVAL);
};

/**
 * implements listen(2) (net/socket.c __sys_listen: backlog clamped to somaxconn as unsigned;
 * net/ipv4/af_inet.c inet_listen): the kernel listens on the app's socket (its errors are the
 * app's: EINVAL when connected, EADDRINUSE), then the sentry takes it over.
 */
export const sysListen: SocketHandler = (stack, task, args) =>
  withFd(stack, task, args[0], async ({ vs, fd, dup, ino }) => {
    if (vs?.isConnection) return fail(E.EINVAL); // a connection (inet_listen: not TCP_CLOSE)
    const family = vs?.family ?? kernelTcpSocket(dup);
    if (family === null) return CONTINUE;
    // A socket with a state only the kernel knows (shut down, or connected by the kernel, before)
    // listens as the kernel's alone: TSoR clients reach it through the kernel (sysConnect).
    if (!vs && stack.keptWithKernel(ino)) return CONTINUE;
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
 * connect. On a connection: EISCONN (0 once after EINPROGRESS). A listener is the app's kernel
 * socket and answers itself (EISCONN: __inet_stream_connect, sk_state is not TCP_CLOSE).
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
      if (vs.state === "listening") return CONTINUE;
      if (vs.state === "connected") return fail(E.EISCONN);
      if (vs.disconnecting) return fail(E.EINVAL); // __inet_stream_connect: SS_DISCONNECTING
      // After EINPROGRESS the connection is already established (as on loopback, where the
      // handshake is done before the app asks again): 0 once, then EISCONN. Unless the peer
      // reset it meanwhile (its listener went with the connection queued): then the socket is
      // SS_CONNECTING in TCP_CLOSE, and __inet_stream_connect answers sock_error (the reset's
      // ECONNRESET, or ECONNABORTED once read) and disconnects it (tcp_disconnect).
      observePeer(vs, dup);
      if (peerReset(vs)) {
        const err = native.getsockoptInt(dup, SOL_SOCKET, SO_ERROR) || E.ECONNABORTED;
        const sock = stack.disconnect(vs, isNonblocking(dup));
        inheritReplaced(stack, task, { fd, dup, ino }, sock);
        return { kind: "replaceFd", fd: sock, targetFd: fd, cloexec: isCloexec(task, fd), value: 0, errno: err };
      }
      vs.state = "connected";
      return ret(0);
    }
    const sockInfo = native.inspectTcp(dup);
    if (!sockInfo) return CONTINUE;
    const family = sockInfo.domain as InetFamily;
    // Only an unconnected socket can become a TSoR connection; connecting, connected or
    // listening kernel sockets answer for themselves (EALREADY, EISCONN, EINVAL).
    if (sockInfo.state !== TCP_CLOSE) return CONTINUE;
    // A socket whose connect was the kernel's may be TCP_CLOSE with a state only the kernel
    // knows (sock->state): a refused non-blocking connect is still SS_CONNECTING (the next
    // connect answers its error or ECONNABORTED), shutdown made it SS_DISCONNECTING (EINVAL), a
    // reset connection is SS_CONNECTED (EISCONN). One shut down before connecting keeps its
    // sk_shutdown into the connection (reads see EOF, writes EPIPE). Such sockets stay the
    // kernel's (__inet_stream_connect).
    if (stack.keptWithKernel(ino)) return CONTINUE;
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
      dest = parseConnectAddr(family, buf, v6only, bound);
    } catch {
      return CONTINUE; // a bad address: the kernel's own errno
    }
    // An AF_INET6 socket bound to an IPv4-mapped address speaks IPv4 only, and one bound to an
    // IPv6 address IPv6 only (tcp_v6_connect): the kernel answers the other kind.
    if (bound && family === AF_INET6 && !isAny(bound.ip) && isV4Mapped(bound.ip) !== isV4Mapped(dest.ip)) return CONTINUE;
    if (!task.stillPending()) return INTERRUPTED;
    const opts = stack.takeKernelOpts(ino, dup);
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
    stack.epolls.carry(task, old.fd, old.ino, old.dup, newFile);
  } catch (e) {
    stack.log.warn({ err: e, tgid: task.tgid, fd: old.fd }, "epoll registration not carried over to the connection");
  }
}

/** connect's answer once `stack.connect` made the connection (`made`), or not (null: the kernel's). */
function connected(stack: SocketStack, task: Task, app: ReplacedFd, bound: InetAddr | null, made: Connected | null): Outcome {
  if (!made) {
    stack.keepWithKernel(app.ino);
    return CONTINUE;
  }
  const { fd, dup } = app;
  inheritReplaced(stack, task, app, made.appEnd);
  // A port the app bound stays in use while the connection lives (inet_bind sees the
  // connected socket): the kernel socket that holds it is kept until the app closes the
  // connection (then TIME_WAIT may keep it a while longer).
  if (bound) {
    made.vs.portHolder = dupOwnFd(dup);
    made.vs.boundPort = true;
    // Bound to a wildcard: Linux narrows the bind to the source address at connect. The kernel
    // socket bound to the wildcard is released once the answer has replaced the app's fd.
    if (isAny(bound.ip)) {
      const at = { tgid: task.tgid, fd };
      setImmediate(() => stack.narrowPortHolder(made.vs, at));
    }
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
    takeQueuedMark(conn);
    native.setNonblock(conn.fd, (flags & SOCK_NONBLOCK) !== 0);
    // A kernel-accepted socket inherited the listener's kernel-kept options itself.
    if (conn.kind !== "kernel" && !conn.kernelOptsTaken) copyKernelSocketOptions(listener.dup, conn.fd);
    if (conn.kind === "local") stack.adopt(conn.fd, listener.vs, conn, conn.client);
    else if (conn.kind === "remote") stack.adopt(conn.fd, listener.vs, conn);
  } catch (e) {
    // Dequeued, then lost (inet_accept's fput): closed as an accepted socket is, not reset.
    try {
      takeQueuedMark(conn);
    } catch {
      /* closed with it: the client reads a reset */
    }
    closeQuietly(conn.fd);
    // Accepted as far as the client is concerned: a close of its before this one was the first FIN.
    if (conn.kind === "local") stack.leftQueue(conn.client, true);
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
    if (!vs || vs.isConnection) return CONTINUE;
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
  const vs = withFd(stack, task, args[0], ({ vs, dup, ino }) => {
    if (vs) observePeer(vs, dup);
    // A kernel socket shut down before it connects keeps its sk_shutdown (sysConnect).
    else stack.keepWithKernel(ino);
    return vs;
  });
  if (!vs) return CONTINUE;
  const how = argInt(args[1]);
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return fail(E.EINVAL);
  if (vs.state === "listening") {
    if (how !== SHUT_WR) stack.stopListening(vs);
    return CONTINUE;
  }
  // Both FINs seen: the connection is closed (TIME_WAIT / LAST_ACK done at once on loopback);
  // reset by the peer: closed too (inet_shutdown: TCP_CLOSE is ENOTCONN). A non-blocking
  // connect's socket leaves SS_CONNECTING either way (inet_shutdown): SS_DISCONNECTING if the
  // connection is over (connect then says EINVAL), else SS_CONNECTED (EISCONN).
  const over = (vs.sentFin && vs.rcvdFin) || peerReset(vs);
  if (vs.state === "connecting") {
    if (over) vs.disconnecting = true;
    else vs.state = "connected";
  }
  if (over) return fail(E.ENOTCONN);
  if (how !== SHUT_WR) vs.shutRd = true;
  if (how !== SHUT_RD) {
    vs.sentFin = true;
    stack.finSent(vs);
  }
  return CONTINUE;
};
