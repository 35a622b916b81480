// The ioctl requests the filter traps (TRAPPED_IOCTLS in numbers.ts): only those whose answer on a
// connection's socketpair differs from TCP's. Everything else is the kernel's.
import { CONTINUE, INTERRUPTED, ret, vsocketOf, type SocketHandler } from "./common.js";
import { argInt } from "./linux.js";
import { TRAPPED_IOCTLS } from "./numbers.js";

/**
 * implements ioctl(fd, TIOCOUTQ, int *) on a connection (net/ipv4/tcp.c tcp_ioctl SIOCOUTQ:
 * write_seq - snd_una, the bytes not yet acknowledged). On loopback the peer acknowledges what
 * reaches its receive queue at once, so a connection answers 0; an AF_UNIX end would count the
 * peer's unread bytes instead. Listeners and kernel sockets (and terminals) answer for
 * themselves.
 */
export const sysIoctl: SocketHandler = (stack, task, args) => {
  if (argInt(args[1]) >>> 0 !== TRAPPED_IOCTLS.TIOCOUTQ) return CONTINUE;
  const vs = vsocketOf(stack, task, args[0]);
  if (!vs || vs.state === "listening") return CONTINUE;
  const zero = Buffer.alloc(4);
  task.writeMemory(args[2], zero); // EFAULT for a bad pointer, as put_user
  if (!task.stillPending()) return INTERRUPTED;
  return ret(0);
};
