// The syscall table (gVisor pkg/sentry/syscalls/linux/linux64.go): number -> name, support level,
// handler. Derived from the one list of trapped calls (numbers.ts); `tsor syscalls` can print it.
import type { SocketHandler } from "./common.js";
import { SOCKET_SYSCALLS, type SocketSyscallName } from "./numbers.js";
import { sysAccept, sysAccept4, sysBind, sysConnect, sysListen, sysShutdown, sysSocket } from "./sys_socket.js";
import { sysGetpeername, sysGetsockname } from "./sys_sockname.js";
import { sysGetsockopt, sysSetsockopt } from "./sys_sockopt.js";

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

const ENTRIES: readonly SyscallEntry[] = [
  partial("socket", sysSocket, "under --platform ptrace, processes started by `tsor exec` are not trapped (their TCP sockets are kernel sockets)"),
  partial("bind", sysBind, "EACCES for privileged ports and EADDRNOTAVAIL are the shadow kernel socket's (the sentry's privileges)"),
  supported("listen", sysListen),
  partial("accept", sysAccept, "SO_RCVTIMEO is not honoured; a listener closed under a held accept answers EBADF (Linux keeps waiting)"),
  partial("accept4", sysAccept4, "as accept"),
  partial(
    "connect",
    sysConnect,
    "local listeners only within this container's stack; AF_UNSPEC does not disconnect a connected socket; a full backlog does not delay a non-blocking connect",
  ),
  partial("shutdown", sysShutdown, "a connection's state follows the shutdowns the sentry sees, not the peer's close"),
  supported("getsockname", sysGetsockname),
  supported("getpeername", sysGetpeername),
  partial("getsockopt", sysGetsockopt, "emulated options listed in sys_sockopt.ts; others as set, else the kernel default (int-sized); TCP_INFO minimal"),
  partial("setsockopt", sysSetsockopt, "options not emulated are checked against a scratch kernel socket (int-sized only) and recorded"),
];

/** The table, by x86_64 syscall number. */
export const SYSCALL_TABLE: ReadonlyMap<number, SyscallEntry> = new Map(
  ENTRIES.map((e) => [SOCKET_SYSCALLS[e.name], e] as const),
);
