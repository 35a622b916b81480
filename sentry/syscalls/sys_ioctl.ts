// The ioctl requests the filter traps (TRAPPED_IOCTLS in numbers.ts): only those whose answer on a
// connection's socketpair differs from TCP's. Everything else is the kernel's.
import { CONTINUE, INTERRUPTED, fail, ret, vsocketOf, type SocketHandler } from "./common.js";
import { E, argInt } from "./linux.js";
import { TRAPPED_IOCTLS } from "./numbers.js";

/**
 * implements the trapped ioctls on a connection (net/ipv4/tcp.c tcp_ioctl): TIOCOUTQ (SIOCOUTQ,
 * write_seq - snd_una: the bytes not yet acknowledged) and SIOCOUTQNSD (write_seq - snd_nxt: not
 * yet sent). On loopback the peer acknowledges what reaches its receive queue at once, so a
 * connection answers 0 to both, where an AF_UNIX end would count the peer's unread bytes or not
 * know the request. SIOCGSTAMP/SIOCGSTAMPNS (sock_gettstamp): TCP never records a packet's time
 * in sk_stamp, so ENOENT. Listeners and kernel sockets (and terminals) answer for themselves.
 */
export const sysIoctl: SocketHandler = (stack, task, args) => {
  const request = argInt(args[1]) >>> 0;
  const vs = vsocketOf(stack, task, args[0]);
  if (!vs || vs.state === "listening") return CONTINUE;
  if (request === TRAPPED_IOCTLS.SIOCGSTAMP || request === TRAPPED_IOCTLS.SIOCGSTAMPNS) return fail(E.ENOENT);
  if (request !== TRAPPED_IOCTLS.TIOCOUTQ && request !== TRAPPED_IOCTLS.SIOCOUTQNSD) return CONTINUE;
  const zero = Buffer.alloc(4);
  task.writeMemory(args[2], zero); // EFAULT for a bad pointer, as put_user
  if (!task.stillPending()) return INTERRUPTED;
  return ret(0);
};
