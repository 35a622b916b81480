// The epoll family: trapped only to notice new epoll instances (the kernel makes them).
import { CONTINUE, type SocketHandler } from "./common.js";

/**
 * epoll_create(2), epoll_create1(2): the kernel's own call. The process's list of epoll fds,
 * which a connect that replaces a socket's fd searches for its registrations (vsock/epoll.ts),
 * is rebuilt on next use.
 */
export const sysEpollCreate: SocketHandler = (stack, task) => {
  stack.epolls.created(task.tgid);
  return CONTINUE;
};
