// The sentry's trap server (issue 4): `tsor exec` traps its process exactly like the container's
// first one. The sentry listens on `<state dir>/trap.sock`; `tsor exec` connects and hands the
// connection to tsor-init (exec mode) as the trap channel, and the sentry runs one more seccomp
// platform over the accepted end, with the container's own dispatch: the exec'd process shares
// the SocketStack (its connect() to a virtual listener gets a socketpair) and the netd session.
//
// Under `--platform ptrace` the connection carries no listener: tsor-init installs the trace
// filter (SECCOMP_RET_TRACE) and `tsor exec`, once the process is ready and before it starts,
// writes `seize <pid>` on it; the server seizes the process with a ptrace platform of its own
// (PTRACE_SEIZE needs no parenthood, only root) and answers `ok` or `error <why>`. Only a process
// inside the container (its mount namespace) may be seized.
import * as fs from "node:fs";
import * as net from "node:net";
import { native } from "../native/index.js";
import type { Logger } from "../oci/log.js";
import { createPlatform, type Platform, type PlatformName, type SyscallHandler } from "./platform/index.js";
import { SOCK_STREAM } from "./syscalls/linux.js";
import { withSocketPath } from "./sockpath.js";

/** The trap server's socket in a container's state dir. */
export const TRAP_SOCKET_NAME = "trap.sock";

/** ptrace: the request `tsor exec` writes, and the answers. One line each. */
export const SEIZE_REQUEST = "seize";
export const SEIZE_OK = "ok";
/** A request line longer than this is not one. */
const MAX_REQUEST = 64;

export interface TrapServerOptions {
  /** The container's platform: seccomp (listener over the connection) or ptrace (seize requests). */
  platform?: PlatformName;
  /** The container's first process: an exec'd process to seize must share its mount namespace. */
  containerPid?: number;
}

export class TrapServer {
  private fd = -1;
  private stopped = false;
  /** One platform per exec'd process still trapped (seccomp: or waiting for its listener). */
  private readonly platforms = new Set<Platform>();

  constructor(
    private readonly socketPath: string,
    private readonly dispatch: SyscallHandler,
    private readonly log: Pick<Logger, "debug" | "info" | "warn" | "error">,
    private readonly opts: TrapServerOptions = {},
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

  /** One exec: a seccomp platform waits for the listener tsor-init sends just before execve; ptrace: a seize request. */
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
    if (this.opts.platform === "ptrace") {
      this.serveSeize(conn);
      return;
    }
    const platform = createPlatform("seccomp", { log: this.log });
    this.log.debug({ pid: peer.pid, active: this.platforms.size + 1 }, "trap server: exec trap channel");
    // The platform owns conn from here (closed once the listener arrived or the channel ended).
    this.adopt(platform, () => platform.start({ pid: peer.pid, trapChannel: conn }, this.dispatch));
  }

  /** Starts `platform` and keeps it until its process is gone. */
  private adopt(platform: Platform, start: () => void): void {
    start();
    this.platforms.add(platform);
    const done = (platform as { done?: Promise<void> }).done;
    void done?.then(() => this.platforms.delete(platform));
  }

  /** ptrace: one `seize <pid>` request on `conn`, answered, then the connection closes. */
  private serveSeize(conn: number): void {
    const sock = new net.Socket({ fd: conn, readable: true, writable: true });
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("error", (e) => this.log.warn({ err: e.message }, "trap server: seize connection failed"));
    sock.on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl < 0 && buf.length <= MAX_REQUEST) return;
      sock.removeAllListeners("data");
      sock.end(`${this.seize(nl < 0 ? "" : buf.slice(0, nl))}\n`);
    });
  }

  /** Handles one request line; the answer line. */
  private seize(line: string): string {
    const m = new RegExp(`^${SEIZE_REQUEST} (\\d+)$`).exec(line);
    if (!m) return `error bad request ${JSON.stringify(line.slice(0, MAX_REQUEST))} (expected "${SEIZE_REQUEST} <pid>")`;
    const pid = Number(m[1]);
    if (this.stopped) return "error the container has stopped";
    if (!this.inContainer(pid)) return `error process ${pid} is not in the container`;
    const platform = createPlatform("ptrace", { log: this.log });
    try {
      this.adopt(platform, () => platform.start({ pid }, this.dispatch));
    } catch (e) {
      return `error seize ${pid}: ${(e as Error).message}`;
    }
    this.log.debug({ pid, active: this.platforms.size }, "trap server: exec'd process seized");
    return SEIZE_OK;
  }

  /** Shares the container's mount namespace (every exec'd process joins it; runc requires one). */
  private inContainer(pid: number): boolean {
    if (this.opts.containerPid === undefined) return false;
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/mnt`) === fs.readlinkSync(`/proc/${this.opts.containerPid}/ns/mnt`);
    } catch {
      return false;
    }
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
