// The socket name family: getsockname, getpeername on virtual TCP sockets.
import { anyOf } from "../vsock/address.js";
import { connectedPeer, observePeer } from "../vsock/vsocket.js";
import { CONTINUE, INTERRUPTED, fail, vsocketOf, ret, withFd, type SocketHandler } from "./common.js";
import { E } from "./linux.js";
import { readLen, writeSockaddr } from "./sockaddr.js";
import type { InetAddr } from "../vsock/address.js";
import type { Outcome, Task } from "../platform/platform.js";

/** move_addr_to_user after re-checking that the call is still pending. */
function answer(task: Task, args: readonly bigint[], addr: InetAddr): Outcome {
  const len = readLen(task, args[2]);
  if (!task.stillPending()) return INTERRUPTED;
  writeSockaddr(task, args[1], args[2], addr, len);
  return ret(0);
}

/**
 * implements getsockname(2) (net/socket.c __sys_getsockname; inet_getname / inet6_getname with
 * peer=0): the bound or connected address; unbound: the family's wildcard and port 0. AF_INET
 * answers 16 bytes, AF_INET6 28 (IPv4 addresses v4-mapped). Listeners and unconnected sockets
 * are kernel sockets and answer for themselves.
 */
export const sysGetsockname: SocketHandler = (stack, task, args) => {
  const vs = vsocketOf(stack, task, args[0]);
  if (!vs || vs.state === "listening") return CONTINUE; // a kernel socket names itself
  const addr = vs.local ?? { family: vs.family, ip: anyOf(vs.family), port: 0 };
  return answer(task, args, addr);
};

/**
 * implements getpeername(2) (net/socket.c __sys_getpeername; inet_getname with peer=1: ENOTCONN
 * unless connected; a non-blocking connect that answered EINPROGRESS is connected already; once
 * both sides sent their FIN (CLOSE), or the peer reset the connection, ENOTCONN).
 */
export const sysGetpeername: SocketHandler = (stack, task, args) =>
  withFd(stack, task, args[0], ({ vs, dup }) => {
    if (!vs || vs.state === "listening") return CONTINUE;
    observePeer(vs, dup);
    const peer = connectedPeer(vs);
    return peer ? answer(task, args, peer) : fail(E.ENOTCONN);
  });
