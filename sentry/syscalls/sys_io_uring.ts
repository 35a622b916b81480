// io_uring: refused, as on a kernel built without it.
import { fail, type SocketHandler } from "./common.js";
import { E } from "./linux.js";

/**
 * io_uring_setup(2): ENOSYS, as a kernel without CONFIG_IO_URING answers (gVisor does the same;
 * docker's and containerd's default seccomp profiles refuse it too, EPERM). An io_uring's socket
 * operations (IORING_OP_ACCEPT, CONNECT, BIND, LISTEN) never reach the sentry: an accept through
 * one would take a listener's doorbell (the sentry's kernel client, rung for a queued virtual
 * connection) for a client, and leave the connection itself unaccepted. Apps that can go without
 * io_uring (libuv, liburing users that check) fall back to plain syscalls.
 */
export const sysIoUringSetup: SocketHandler = () => fail(E.ENOSYS);
