// The sentry's trap server (issue 4): `tsor exec` traps its process exactly like the container's
// first one. The sentry listens on `<state dir>/trap.sock`; `tsor exec` connects and hands the
// connection to tsor-init (exec mode) as the trap channel, and the sentry runs one more seccomp
// platform over the accepted end, with the container's own dispatch: the exec'd process shares
// the SocketStack (its connect() to a virtual listener gets a socketpair) and the netd session.
//
// Only the seccomp platform serves exec'd processes. Under `--platform ptrace` an exec'd process
// is not trapped (its socket calls take the kernel path): the tracer would have to seize a
// process it is not the parent of. `tsor exec` asks for no trap there (oci/exec.ts).
import * as fs from "node:fs";
import { native } from "../native/index.js";
import type { Logger } from "../oci/log.js";
import { createPlatform, type Platform, type SyscallHandler } from "./platform/index.js";
import { SOCK_STREAM } from "./syscalls/linux.js";
import { withSocketPath } from "./sockpath.js";

/** The trap server's socket in a container's state dir. */
export const TRAP_SOCKET_NAME = "trap.sock";

export class TrapServer {
  private fd = -1;
  private stopped = false;
  /** One seccomp platform per exec'd process still trapped (or waiting for its listener). */
  private readonly platforms = new Set<Platform>();

  constructor(
    private readonly socketPath: string,
    private readonly dispatch: SyscallHandler,
    private readonly log: Pick<Logger, "debug" | "info" | "warn" | "error">,
  ) {}

  /** Listens (a stale socket file is replaced); only root (the socket's owner) may connect. */
  start(): void {
    fs.rmSync(this.socketPath, { force: true });
    this.fd = withSocketPath(this.socketPath, (usable) => native.unixListen(usable, SOCK_STREAM, 16));
    fs.chmodSync(this.socketPath, 0o600);
    this.acceptNext();
  }

  get active(): number {
    return this.platforms.size;
  }

  private acceptNext(): void {
    const listenFd = this.fd;
    native.unixAccept(listenFd, (err, conn) => {
      if (this.stopped) {
        if (!err) native.closeFd(conn);
        native.closeFd(listenFd);
        return;
      }
      if (err) {
        this.log.error({ err: err.message }, "trap server: accept failed; exec'd processes can no longer be trapped");
        native.closeFd(listenFd);
        this.fd = -1;
        return;
      }
      this.serve(conn);
      this.acceptNext();
    });
  }

  /** One exec: a seccomp platform waits for the listener tsor-init sends just before execve. */
  private serve(conn: number): void {
    let peer: { pid: number; uid: number };
    try {
      peer = native.peerCred(conn);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "trap server: no peer credentials");
      native.closeFd(conn);
      return;
    }
    const euid = process.geteuid?.() ?? 0;
    if (peer.uid !== 0 && peer.uid !== euid) {
      this.log.warn({ uid: peer.uid, pid: peer.pid }, "trap server: refused a connection from another user");
      native.closeFd(conn);
      return;
    }
    const platform = createPlatform("seccomp", { log: this.log });
    this.platforms.add(platform);
    this.log.debug({ pid: peer.pid, active: this.platforms.size }, "trap server: exec trap channel");
    // The platform owns conn from here (closed once the listener arrived or the channel ended).
    platform.start({ pid: peer.pid, trapChannel: conn }, this.dispatch);
    const done = (platform as { done?: Promise<void> }).done;
    void done?.then(() => this.platforms.delete(platform));
  }

  /** No more execs; every exec'd process's platform stops (their held calls fail with ENOSYS). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // Wakes the pending accept (EINVAL), whose callback closes the listening fd.
    if (this.fd >= 0) native.shutdownFd(this.fd);
    this.fd = -1;
    for (const p of this.platforms) p.stop();
    this.platforms.clear();
    fs.rmSync(this.socketPath, { force: true });
  }
}
