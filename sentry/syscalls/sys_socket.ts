// The socket family: socket, bind, listen, accept, accept4, connect on virtual TCP sockets.
// Each mirrors the Linux function it names; anything that is not a vsocket goes to the kernel.
import { native } from "../../native/index.js";
import { SyscallError, type Outcome, type Task } from "../platform/platform.js";
import type { SocketStack } from "../vsock/stack.js";
import type { PendingConn, VirtualSocket } from "../vsock/vsocket.js";
import { closeQuietly } from "../vsock/vsocket.js";
import {
  CONTINUE,
  INTERRUPTED,
  fail,
  isCloexec,
  isNonblocking,
  lookupFd,
  ret,
  type FdRef,
  type SocketHandler,
} from "./common.js";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  E,
  IPPROTO_TCP,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCK_TYPE_MASK,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOMAXCONN,
  argInt,
} from "./linux.js";
import { parseBindAddr, parseConnectAddr, readSockaddr, sockaddrFamily, writeSockaddr } from "./sockaddr.js";

/**
 * implements socket(2) (net/socket.c __sys_socket) for AF_INET/AF_INET6 + SOCK_STREAM + 0 or
 * IPPROTO_TCP: a socketpair whose one end the app gets (O_NONBLOCK/O_CLOEXEC from the type). The
 * filter traps nothing else; anything else that arrives goes to the kernel.
 */
export const sysSocket: SocketHandler = (stack, _task, args) => {
  const domain = argInt(args[0]);
  const type = argInt(args[1]);
  const protocol = argInt(args[2]);
  if (domain !== AF_INET && domain !== AF_INET6) return CONTINUE;
  if ((type & SOCK_TYPE_MASK) !== SOCK_STREAM || (type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) {
    return CONTINUE;
  }
  if (protocol !== 0 && protocol !== IPPROTO_TCP) return CONTINUE;
  const { appEnd } = stack.create(domain, (type & SOCK_NONBLOCK) !== 0);
  return { kind: "installFd", fd: appEnd, cloexec: (type & SOCK_CLOEXEC) !== 0 };
};

/** Runs `fn` on the vsocket behind args[0] (CONTINUE if none), closing the sentry's dup after. */
async function onVsocket(
  stack: SocketStack,
  task: Task,
  args: readonly bigint[],
  fn: (ref: FdRef) => Outcome | Promise<Outcome>,
): Promise<Outcome> {
  const ref = lookupFd(stack, task, args[0]);
  if (!ref) return CONTINUE;
  try {
    return await fn(ref);
  } finally {
    ref.done();
  }
}

/**
 * implements bind(2) (net/socket.c __sys_bind; net/ipv4/af_inet.c inet_bind, net/ipv6/af_inet6.c
 * inet6_bind): argument checks in parseBindAddr, then EINVAL if already bound, EADDRINUSE from the
 * registry or the shadow kernel socket, port 0 picks a port.
 */
export const sysBind: SocketHandler = (stack, task, args) =>
  onVsocket(stack, task, args, ({ vs }) => {
    const buf = readSockaddr(task, args[1], argInt(args[2]));
    const addr = parseBindAddr(vs.family, buf, vs.v6only);
    if (!task.stillPending()) return INTERRUPTED;
    stack.bind(vs, addr);
    return ret(0);
  });

/**
 * implements listen(2) (net/socket.c __sys_listen: backlog clamped to somaxconn as unsigned;
 * net/ipv4/af_inet.c inet_listen).
 */
export const sysListen: SocketHandler = (stack, task, args) =>
  onVsocket(stack, task, args, async ({ vs }) => {
    let backlog = argInt(args[1]);
    if (backlog >>> 0 > SOMAXCONN) backlog = SOMAXCONN;
    stack.listen(vs, backlog);
    await stack.registerListener(vs);
    return ret(0);
  });

/**
 * implements connect(2) (net/socket.c __sys_connect; net/ipv4/af_inet.c __inet_stream_connect;
 * tcp_v4_connect / tcp_v6_connect). A listener of this stack gets the connection directly (the
 * socketpair is the connection); any other destination goes to the kernel: a real socket in the
 * pod's netns replaces the app's fd and the kernel runs the app's own connect on it.
 */
export const sysConnect: SocketHandler = (stack, task, args) =>
  onVsocket(stack, task, args, async ({ vs, fd, dup }) => {
    const buf = readSockaddr(task, args[1], argInt(args[2]));
    // inet_stream_connect: the family must be there; AF_UNSPEC disconnects (tcp_disconnect).
    // Partial: an unconnected socket answers 0 as on Linux; a connected or listening one answers
    // 0 too but keeps its state (a socketpair cannot be un-connected).
    if (buf.length < 2) return fail(E.EINVAL);
    if (!task.stillPending()) return INTERRUPTED;
    if (sockaddrFamily(buf) === AF_UNSPEC) return ret(0);
    switch (vs.state) {
      case "connected":
        return fail(E.EISCONN);
      case "connecting":
        // After EINPROGRESS the connection is already established (as on loopback, where the
        // handshake is done before the app asks again): __inet_stream_connect answers 0 once,
        // then EISCONN.
        vs.state = "connected";
        return ret(0);
      case "listening":
        return fail(E.EINVAL);
      default:
        break;
    }
    const dest = parseConnectAddr(vs.family, buf, vs.v6only, vs.boundV4Mapped);
    const nonblock = isNonblocking(dup);
    const r = await stack.connectLocal(task, vs, dest, nonblock);
    if (r === E.EINPROGRESS) return fail(E.EINPROGRESS);
    if (r !== null) return ret(r);
    const remote = await stack.connectRemote(task, vs, dest, nonblock);
    if (remote === E.EINPROGRESS) return fail(E.EINPROGRESS);
    if (remote !== null) return ret(remote);
    const real = stack.fallback(vs, nonblock);
    return { kind: "replaceFdThenContinue", fd: real, targetFd: fd, cloexec: isCloexec(task, fd) };
  });

/**
 * Reads (consumes) one readiness byte from the app's end of a listener. The sentry wrote it
 * synchronously (SentryEnd.signal), so it is normally there already: taken at once, on this
 * thread; only if it is not (still queued in the sentry's socket) does a thread wait for it.
 */
function consumeReadinessByte(dup: number): Promise<void> | void {
  try {
    if (native.recvNow(dup, 1) !== null) return;
  } catch {
    return; // as the threaded read: an error ends the wait
  }
  return new Promise((resolve) => native.recvFds(dup, 1, 0, () => resolve()));
}

/** EBADF if the task's fd no longer names the listener, else EINVAL (no longer listening), for an accept whose listener was dropped. */
function listenerGoneErrno(task: Task, fd: number, vs: VirtualSocket): number {
  try {
    const dup = task.getFd(fd);
    try {
      return native.fstatIno(dup).ino === vs.ino ? E.EINVAL : E.EBADF;
    } finally {
      native.closeFd(dup);
    }
  } catch {
    return E.EBADF;
  }
}

/**
 * Gives the app an accepted connection (do_accept after ops->accept): the peer address written
 * with move_addr_to_user (EFAULT drops the connection, as Linux does), O_NONBLOCK from the flags,
 * a vsocket recorded for a local connection, then installed as the new fd.
 */
function deliver(stack: SocketStack, task: Task, listener: VirtualSocket, conn: PendingConn, args: readonly bigint[], flags: number): Outcome {
  try {
    if (args[1] !== 0n) {
      if (!conn.peer) throw new SyscallError(E.ECONNABORTED, "peer address unknown");
      writeSockaddr(task, args[1], args[2], conn.peer);
    }
    if (!task.stillPending()) {
      stack.incoming(listener, conn);
      return INTERRUPTED;
    }
    native.setNonblock(conn.fd, (flags & SOCK_NONBLOCK) !== 0);
    if (conn.kind === "local") stack.adopt(conn.fd, listener.family, conn.local, conn.peer, conn.opts, conn.client);
    else if (conn.kind === "remote") stack.adopt(conn.fd, listener.family, conn.local, conn.peer, conn.opts);
  } catch (e) {
    closeQuietly(conn.fd);
    throw e;
  }
  return { kind: "installFd", fd: conn.fd, cloexec: (flags & SOCK_CLOEXEC) !== 0 };
}

/**
 * accept and accept4 (net/socket.c __sys_accept4: EINVAL for unknown flags before the fd lookup;
 * net/ipv4/af_inet.c inet_accept, inet_csk_accept: EINVAL unless listening, EAGAIN when
 * non-blocking with an empty queue, else wait).
 */
function accept(stack: SocketStack, task: Task, args: readonly bigint[], flags: number): Promise<Outcome> | Outcome {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return fail(E.EINVAL);
  const ref = lookupFd(stack, task, args[0]);
  if (!ref) return CONTINUE;
  const { vs, fd, dup } = ref;
  const run = async (): Promise<Outcome> => {
    if (vs.state !== "listening" || !vs.queue) return fail(E.EINVAL);
    const taken = stack.takePending(vs);
    if (taken) {
      if (taken.consumeByte) {
        const reading = consumeReadinessByte(dup);
        if (reading) await reading;
      }
      ref.done();
      return deliver(stack, task, vs, taken.conn, args, flags);
    }
    if (isNonblocking(dup)) return fail(E.EAGAIN);
    // Hold the call. No duplicate of the app's end may stay open meanwhile: its close must reach
    // the sentry's end as EOF.
    ref.done();
    const wake = await vs.queue.wait(task);
    queueMicrotask(() => stack.acceptDone(vs));
    switch (wake.kind) {
      case "interrupted":
        return INTERRUPTED;
      case "closed":
        return fail(listenerGoneErrno(task, fd, vs));
      case "conn":
        return deliver(stack, task, vs, wake.conn, args, flags);
    }
  };
  return run().finally(() => ref.done());
}

/** implements accept(2): accept4 with no flags. */
export const sysAccept: SocketHandler = (stack, task, args) => accept(stack, task, args, 0);

/** implements accept4(2). */
export const sysAccept4: SocketHandler = (stack, task, args) => accept(stack, task, args, argInt(args[3]));

/**
 * implements shutdown(2) (net/ipv4/af_inet.c inet_shutdown): EINVAL for a bad `how`; ENOTCONN on
 * an unconnected socket (TCP_CLOSE); on a listener SHUT_WR does nothing and SHUT_RD stops
 * listening (tcp_disconnect: held accepts return EINVAL). A connection's shutdown runs on the
 * socketpair itself (CONTINUE: the peer reads EOF, our writes fail EPIPE); the sentry records the
 * FIN for TCP_INFO and getpeername. An unconnected socket's socketpair is left alone: its EOF on
 * the sentry's end would read as the app's close.
 */
export const sysShutdown: SocketHandler = (stack, task, args) =>
  onVsocket(stack, task, args, async ({ vs, dup }) => {
    const how = argInt(args[1]);
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return fail(E.EINVAL);
    switch (vs.state) {
      case "unbound":
      case "bound":
        return fail(E.ENOTCONN);
      case "listening": {
        if (how === SHUT_WR) return ret(0);
        const bytes = stack.stopListening(vs);
        for (let i = 0; i < bytes; i++) {
          const reading = consumeReadinessByte(dup);
          if (reading) await reading;
        }
        return ret(0);
      }
      default:
        // Both FINs seen: the connection is closed (TIME_WAIT / LAST_ACK done at once on loopback).
        if (vs.sentFin && vs.rcvdFin) return fail(E.ENOTCONN);
        if (how !== SHUT_RD) {
          vs.sentFin = true;
          if (vs.peerVs) vs.peerVs.rcvdFin = true;
        }
        return CONTINUE;
    }
  });
