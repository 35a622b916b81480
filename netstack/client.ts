// NetdClient: a sentry's session with tsor-netd (api.ts), and ensureNetd, which connects to the
// node's netd or starts one in the background. The client keeps what the sentry asked for (its
// hello and listeners) so that after netd restarts it reconnects (with backoff) and registers them
// again; while netd is down every call reports NetdUnavailable and the sentry takes the kernel path.
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";

import { native, NativeError } from "../native/index.js";
import { projectPath } from "../native/root.js";
import {
  IncomingMessage,
  MAX_MESSAGE_BYTES,
  canonicalIp,
  encode,
  type Endpoint,
  type ErrorCode,
  type Feature,
  type IncomingEvent,
  type RequestInput,
  type StatusReply,
} from "./api.js";
import type { NetdLog } from "./daemon.js";
import { netdPaths, type NetdPaths } from "./paths.js";
import { receiveMessages } from "./receive.js";

/** Who the sentry is (the hello message). */
export interface HelloInfo {
  containerId: string;
  /** The pod's IPs if the sentry knows them; else netd reads them from `pid`'s netns. */
  podIps?: string[];
  netns: string;
  pid?: number;
}

/** A connection handed over by netd: install `fd` in the app as accept()'s result (the receiver owns it). */
export interface IncomingConnection extends IncomingEvent {
  fd: number;
}

/** netd's answer to a connect: the listener's container and the address it took (a Service's resolved). */
export interface ConnectReply {
  to: string;
  dst: Endpoint;
  /** With "listener-hints": whether the client may send its next connects to `dst` without waiting. */
  hinted?: boolean;
}

/** netd answered with an error (ECONNREFUSED, ENOTLOCAL, EADDRINUSE, ...; api.ts ERROR_CODES). */
export class NetdError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`netd: ${code}: ${message}`);
    this.name = "NetdError";
  }
}

/** netd cannot be reached right now: take the kernel path. */
export class NetdUnavailable extends Error {
  constructor(reason: string) {
    super(`netd unavailable: ${reason}`);
    this.name = "NetdUnavailable";
  }
}

export interface NetdClientOptions {
  socket: string;
  hello: HelloInfo;
  log?: NetdLog;
  /** Reconnect backoff: first delay, doubled up to the max. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** A request without an answer after this long fails NetdUnavailable (and the session is dropped). */
  requestTimeoutMs?: number;
  /** Called before a reconnect attempt when the socket is missing or refused (ensureNetd: start netd). */
  respawn?: () => void;
}

const silent: NetdLog = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
/** Listener hints kept (api.ts "listener-hints") before the set starts over. */
const MAX_HINTS = 4096;

interface Pending {
  resolve(reply: Record<string, unknown>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface WantedListener {
  ip: string;
  port: number;
  reuseport: boolean;
  /** Its sentry takes QUEUED_MARK at accept (sent to a daemon with "queued-mark"). */
  queuedMark: boolean;
  refs: number;
}

type ClientEvents = {
  incoming: [IncomingConnection];
  up: [];
  down: [string];
};

export class NetdClient extends EventEmitter<ClientEvents> {
  /** The pod IPs netd holds for this container (its hello reply). */
  podIps: string[] = [];
  /** What the daemon of this session takes beyond the first protocol (its hello reply; api.ts FEATURES). */
  private features = new Set<string>();
  private fd = -1;
  private ready = false;
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly wanted = new Map<string, WantedListener>();
  private readonly unreported = new Map<string, number>();
  /** Destinations ("ip|port") netd said a listener takes as is: connects there go without waiting (connectHinted). */
  private readonly hints = new Set<string>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private readonly log: NetdLog;

  constructor(private readonly opts: NetdClientOptions) {
    super();
    this.log = opts.log ?? silent;
    this.backoff = opts.reconnectMinMs ?? 100;
  }

  /** Connected and registered: calls go to netd. */
  get available(): boolean {
    return this.ready;
  }

  /**
   * Connects, says hello and registers the wanted listeners. Rejects if netd cannot be reached;
   * with `retry`, keeps trying in the background after a failure (the client is then usable and
   * reports unavailable until it succeeds).
   */
  async open(retry = true): Promise<void> {
    try {
      await this.session();
    } catch (e) {
      if (retry) this.scheduleReconnect(e as Error);
      throw e;
    }
  }

  /** The daemon of the current session takes `feature` (api.ts FEATURES); false while down. */
  supports(feature: Feature): boolean {
    return this.ready && this.features.has(feature);
  }

  /**
   * Registers a listener of the pod with netd. "deferred": netd is down; it is registered when it
   * is back. `queuedMark`: the caller takes QUEUED_MARK off each incoming end that says it holds
   * one (told to daemons that support it).
   */
  async listen(ip: string, port: number, opts: { reuseport?: boolean; queuedMark?: boolean } = {}): Promise<"registered" | "deferred"> {
    const cip = canonicalIp(ip) ?? ip;
    const key = `${cip}|${port}`;
    const w = this.wanted.get(key);
    if (w) w.refs++;
    else this.wanted.set(key, { ip: cip, port, reuseport: Boolean(opts.reuseport), queuedMark: Boolean(opts.queuedMark), refs: 1 });
    if (!this.ready) return "deferred";
    try {
      await this.request(this.listenRequest(this.wanted.get(key)!));
      return "registered";
    } catch (e) {
      if (e instanceof NetdUnavailable) return "deferred";
      this.forget(key);
      throw e;
    }
  }

  /** Drops one listen() of (ip, port). Unavailable netd: nothing to do (it forgot us already). */
  async unlisten(ip: string, port: number): Promise<void> {
    const cip = canonicalIp(ip) ?? ip;
    if (!this.forget(`${cip}|${port}`) || !this.ready) return;
    try {
      await this.request({ op: "unlisten", ip: cip, port });
    } catch (e) {
      if (!(e instanceof NetdUnavailable)) this.log.warn({ ip: cip, port, err: (e as Error).message }, "netd: unlisten failed");
    }
  }

  private forget(key: string): boolean {
    const w = this.wanted.get(key);
    if (!w) return false;
    if (--w.refs === 0) this.wanted.delete(key);
    return true;
  }

  /** A listen request for `w`, with the fields the daemon takes. */
  private listenRequest(w: WantedListener): DistributiveOmit<RequestInput, "id"> {
    return { op: "listen", ip: w.ip, port: w.port, reuseport: w.reuseport, ...(w.queuedMark && this.features.has("queued-mark") ? { queuedMark: true } : {}) };
  }

  /**
   * Asks netd to hand `fd` (the sentry's end of the client's socketpair) to the listener of `dst`.
   * The fd is sent before this returns its promise: the caller closes its copy right after the call.
   * Resolves when the listener's sentry has it; NetdError ECONNREFUSED (nothing listens in that
   * local pod), ENOTLOCAL (not a TSoR pod here: kernel path), EAGAIN; NetdUnavailable.
   * `queuedMark`: the end holds QUEUED_MARK (only when supports("queued-mark") said so: an older
   * daemon refuses the field, EINVAL). With "listener-hints", a reply that says `hinted` lets
   * later connects to `dst` go with connectHinted.
   */
  async connect(dst: Endpoint, src: Endpoint, fd: number, opts: { queuedMark?: boolean } = {}): Promise<ConnectReply> {
    const hint = this.features.has("listener-hints");
    const reply = await this.request(this.connectRequest(dst, src, opts, hint ? { hint: true } : {}), [fd]);
    if (hint && reply.hinted === true) {
      if (this.hints.size >= MAX_HINTS) this.hints.clear();
      this.hints.add(hintKey(dst));
    }
    return reply as unknown as ConnectReply;
  }

  /**
   * Whether a connect to `dst` may go with connectHinted: netd said a listener takes `dst` as is,
   * and has not said since that listeners changed.
   */
  hinted(dst: Endpoint): boolean {
    return this.ready && this.hints.has(hintKey(dst));
  }

  /**
   * connect without waiting for netd (api.ts "listener-hints"), for a destination `hinted` holds:
   * `fd` is sent before this returns, and the connection counts as made. If netd finds no listener
   * after all, it closes the end (its client reads ECONNRESET) and says `listeners-changed`.
   * Throws NetdUnavailable when the session is down or the send fails (nothing was sent).
   */
  connectHinted(dst: Endpoint, src: Endpoint, fd: number, opts: { queuedMark?: boolean } = {}): void {
    if (!this.ready || this.fd < 0) throw new NetdUnavailable("not connected");
    const msg = { ...this.connectRequest(dst, src, opts, { hint: true, noreply: true }), id: this.nextId++ };
    try {
      native.sendFds(this.fd, encode(msg), [fd]);
    } catch (e) {
      this.drop(this.fd, `send failed: ${(e as Error).message}`);
      throw new NetdUnavailable(`send failed: ${(e as Error).message}`);
    }
  }

  private connectRequest(dst: Endpoint, src: Endpoint, opts: { queuedMark?: boolean }, hints: { hint?: true; noreply?: true }): DistributiveOmit<RequestInput, "id"> {
    return { op: "connect", dst, src, ...(opts.queuedMark ? { queuedMark: true } : {}), ...hints };
  }

  /** Counts a connection the sentry sent to the kernel without netd (e.g. `netd_unavailable`); sent when netd is reachable. */
  reportFallback(reason: string): void {
    this.unreported.set(reason, (this.unreported.get(reason) ?? 0) + 1);
    if (this.ready) this.flushReports();
  }

  /** The daemon's status table (tsor netd status). */
  async status(): Promise<StatusReply> {
    const r = await this.request({ op: "status" });
    return r.status as StatusReply;
  }

  /** Ends the session (netd drops our listeners) and stops reconnecting. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    if (this.fd >= 0) native.shutdownFd(this.fd); // the receive loop sees EOF and closes it
  }

  // ---

  private async session(): Promise<void> {
    if (this.closed) throw new NetdUnavailable("client closed");
    let fd: number;
    try {
      fd = native.unixConnect(this.opts.socket);
    } catch (e) {
      throw new NetdUnavailable(`${this.opts.socket}: ${(e as Error).message}`);
    }
    const cred = native.peerCred(fd);
    if (cred.uid !== 0 && cred.uid !== process.getuid?.()) {
      native.closeFd(fd);
      throw new NetdUnavailable(`${this.opts.socket} is served by uid ${cred.uid}, not root`);
    }
    native.setNonblock(fd, true);
    this.fd = fd;
    this.receive(fd);
    try {
      await this.register();
    } catch (e) {
      if (this.fd === fd) {
        this.fd = -1; // its receive loop still ends it (closes the fd)
        this.drop(fd, (e as Error).message);
      }
      throw e;
    }
    this.ready = true;
    this.backoff = this.opts.reconnectMinMs ?? 100;
    this.log.info({ socket: this.opts.socket, podIps: this.podIps, listeners: this.wanted.size }, "netd: session up");
    this.flushReports();
    this.emit("up");
  }

  /** hello, then every wanted listener again. */
  private async register(): Promise<void> {
    const h = this.opts.hello;
    const reply = await this.request(
      { op: "hello", containerId: h.containerId, podIps: h.podIps ?? [], netns: h.netns, ...(h.pid ? { pid: h.pid } : {}) },
      [],
      true,
    );
    this.podIps = (reply.podIps as string[]) ?? [];
    this.features = new Set(Array.isArray(reply.features) ? reply.features.filter((f): f is string => typeof f === "string") : []);
    for (const [key, w] of [...this.wanted]) {
      for (let i = 0; i < w.refs; i++) {
        try {
          await this.request(this.listenRequest(w), [], true);
        } catch (e) {
          if (e instanceof NetdUnavailable) throw e;
          this.log.warn({ ip: w.ip, port: w.port, err: (e as Error).message }, "netd: listener not registered again");
          this.wanted.delete(key);
          break;
        }
      }
    }
  }

  private flushReports(): void {
    if (this.unreported.size === 0) return;
    const fallbacks = Object.fromEntries(this.unreported);
    this.unreported.clear();
    this.request({ op: "report", fallbacks }).catch(() => {
      for (const [k, n] of Object.entries(fallbacks)) this.unreported.set(k, (this.unreported.get(k) ?? 0) + n);
    });
  }

  /** Sends one request; `setup`: allowed before the session is ready (hello, re-listen). */
  private request(msg: DistributiveOmit<RequestInput, "id">, fds: number[] = [], setup = false): Promise<Record<string, unknown>> {
    if ((!this.ready && !setup) || this.fd < 0) return Promise.reject(new NetdUnavailable("not connected"));
    const id = this.nextId++;
    const fd = this.fd;
    try {
      native.sendFds(fd, encode({ ...msg, id }), fds);
    } catch (e) {
      this.drop(fd, `send failed: ${(e as Error).message}`);
      return Promise.reject(new NetdUnavailable(`send failed: ${(e as Error).message}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new NetdUnavailable(`no answer to ${msg.op} in ${this.opts.requestTimeoutMs ?? 5000} ms`));
        this.drop(fd, "request timed out");
      }, this.opts.requestTimeoutMs ?? 5000);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  private receive(fd: number): void {
    receiveMessages(
      fd,
      2,
      (r) => {
        try {
          this.dispatch(r.data, r.fds);
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, "netd: bad message from netd");
          for (const f of r.fds) native.closeFd(f);
        }
      },
      (err) => this.ended(fd, err ? err.message : "netd closed the session"),
    );
  }

  private dispatch(data: Buffer, fds: number[]): void {
    const parsed = IncomingMessage.safeParse(JSON.parse(data.toString("utf8")));
    if (!parsed.success) throw new Error(`unexpected message: ${data.toString("utf8").slice(0, 200)}`);
    const m = parsed.data as Record<string, unknown>;
    if (m.op === "incoming") {
      if (fds.length !== 1) throw new Error(`incoming with ${fds.length} fds`);
      const conn = { ...(m as unknown as IncomingEvent), fd: fds[0] };
      if (this.listenerCount("incoming") === 0) {
        this.log.warn({ listener: conn.listener }, "netd: incoming connection with no handler, dropped");
        native.closeFd(conn.fd);
        return;
      }
      this.emit("incoming", conn);
      return;
    }
    for (const f of fds) native.closeFd(f);
    if (m.op === "listeners-changed") {
      this.hints.clear();
      return;
    }
    const id = m.id as number | undefined;
    if (id === undefined) {
      // An error not tied to a request (e.g. EPERM at connect): the session is refused.
      this.log.error({ error: m.error, message: m.message }, "netd: session refused");
      for (const p of this.pending.values()) p.reject(new NetdError(m.error as ErrorCode, String(m.message)));
      this.clearPending();
      return;
    }
    const p = this.pending.get(id);
    if (!p) {
      // A reply nobody waits for: a hinted connect netd refused as a request (it closed the end).
      if (m.ok !== true) this.hints.clear();
      return;
    }
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (m.ok === true) p.resolve(m);
    else p.reject(new NetdError(m.error as ErrorCode, String(m.message)));
  }

  private clearPending(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  /** Drops the session on `fd` (its receive loop then ends it). */
  private drop(fd: number, reason: string): void {
    this.log.warn({ reason }, "netd: dropping session");
    try {
      native.shutdownFd(fd);
    } catch {
      /* gone */
    }
  }

  /** The receive loop of `fd` ended: close it, fail what is pending, reconnect later. */
  private ended(fd: number, reason: string): void {
    native.closeFd(fd);
    if (this.fd !== fd) return; // a session that failed while being set up, already replaced
    this.fd = -1;
    const wasReady = this.ready;
    this.ready = false;
    this.hints.clear(); // the next daemon's listeners are its own
    for (const p of this.pending.values()) p.reject(new NetdUnavailable(reason));
    this.clearPending();
    if (wasReady) {
      this.log.warn({ reason }, "netd: session down");
      this.emit("down", reason);
    }
    if (!this.closed && wasReady) this.scheduleReconnect(new Error(reason));
  }

  private scheduleReconnect(err: Error): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.reconnectMaxMs ?? 5000);
    this.log.debug({ delay, err: err.message }, "netd: reconnecting later");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      if (this.opts.respawn && !existsSync(this.opts.socket)) this.opts.respawn();
      this.session().catch((e: Error) => this.scheduleReconnect(e));
    }, delay);
    this.reconnectTimer.unref();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The stack names a destination the same way each time (ipText), so no canonical form is needed. */
function hintKey(dst: Endpoint): string {
  return `${dst.ip}|${dst.port}`;
}

/** One status request on a fresh connection (no hello): what `tsor netd status` prints. */
export async function fetchStatus(socket: string, timeoutMs = 5000): Promise<StatusReply> {
  let fd: number;
  try {
    fd = native.unixConnect(socket);
  } catch (e) {
    throw new NetdUnavailable(`${socket}: ${(e as Error).message}`);
  }
  const timer = setTimeout(() => native.shutdownFd(fd), timeoutMs);
  try {
    native.sendFds(fd, encode({ op: "status", id: 1 }), []);
    const r = await new Promise<{ data: Buffer; fds: number[] }>((resolve, reject) =>
      native.recvFds(fd, MAX_MESSAGE_BYTES, 0, (err, res) => (err ? reject(err) : resolve(res))),
    );
    if (r.data.length === 0) throw new NetdUnavailable(`no answer in ${timeoutMs} ms`);
    const m = JSON.parse(r.data.toString("utf8")) as { ok: boolean; status?: StatusReply; error?: ErrorCode; message?: string };
    if (!m.ok) throw new NetdError(m.error ?? "EINVAL", m.message ?? "");
    return m.status!;
  } finally {
    clearTimeout(timer);
    native.closeFd(fd);
  }
}

// --- ensureNetd: the sentry's way in

export interface EnsureNetdOptions {
  hello: HelloInfo;
  /** netd instance (default: TSOR_NETD_NAME or "default"); socket / stateDir override its paths. */
  name?: string;
  socket?: string;
  stateDir?: string;
  log?: NetdLog;
  /** Start `tsor netd` in the background when none answers (default true). */
  spawn?: boolean;
  /** How long to wait for a started netd's socket (default 5000 ms). */
  timeoutMs?: number;
  /** The tsor launcher (default: bin/tsor above this module, or TSOR_BIN). */
  tsorBin?: string;
  /** An auto-started netd exits after this long without sentries (default 30 s). */
  idleExitSeconds?: number;
  /**
   * Called with the pid of a netd this process started (the sentry moves it out of its own
   * cgroup, which is the pod's: netd serves the whole node).
   */
  onSpawned?: (pid: number) => void;
}

/** How often ensureNetd looks for the socket of a netd it started. */
const SPAWN_POLL_MS = 25;

/** bin/tsor of the tree this module runs from (dist/netstack/client.js or dist/bundle/*.cjs). */
export function findTsorBin(): string | undefined {
  if (process.env.TSOR_BIN) return process.env.TSOR_BIN;
  const bin = projectPath("bin", "tsor");
  return existsSync(bin) ? bin : undefined;
}

/** Starts `tsor netd` detached (its own session, log under the state dir); does not wait. */
export function spawnNetd(paths: NetdPaths, opts: { tsorBin?: string; idleExitSeconds?: number } = {}): number | undefined {
  const bin = opts.tsorBin ?? findTsorBin();
  if (!bin) throw new Error("cannot start netd: no bin/tsor found (set TSOR_BIN)");
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o755 });
  const out = openSync(join(paths.stateDir, "netd.out"), "a");
  try {
    const args = [bin, "netd", "--name", paths.name, "--socket", paths.socket, "--state-dir", paths.stateDir, "--log", paths.log];
    args.push("--exit-when-idle", String(opts.idleExitSeconds ?? 30));
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", out, out] });
    child.on("error", () => {}); // a failed spawn shows as a socket that never appears
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/**
 * A session with the node's netd, starting one in the background if none answers; undefined if
 * none can be reached (the caller carries on with the kernel path). The client reconnects by itself
 * after a netd restart, restarting netd if its socket is gone.
 */
export async function ensureNetd(opts: EnsureNetdOptions): Promise<NetdClient | undefined> {
  const paths = netdPaths(opts);
  const log = opts.log ?? silent;
  const spawnOk = opts.spawn ?? true;
  const respawn = spawnOk
    ? () => {
        try {
          const pid = spawnNetd(paths, opts);
          if (pid !== undefined) opts.onSpawned?.(pid);
        } catch (e) {
          log.warn({ err: (e as Error).message }, "netd: cannot start");
        }
      }
    : undefined;
  const client = new NetdClient({ socket: paths.socket, hello: opts.hello, log, ...(respawn ? { respawn } : {}) });
  try {
    await client.open(false);
    return client;
  } catch (e) {
    if (!(e instanceof NetdUnavailable) || !respawn) {
      log.warn({ socket: paths.socket, err: (e as Error).message }, "netd: not available");
      client.close();
      return undefined;
    }
  }
  log.info({ socket: paths.socket, name: paths.name }, "netd: starting one in the background");
  respawn();
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  let last: Error | undefined;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, SPAWN_POLL_MS));
    try {
      await client.open(false);
      return client;
    } catch (e) {
      last = e as Error;
      if (!(e instanceof NetdUnavailable)) break;
    }
  }
  log.warn({ socket: paths.socket, err: last?.message }, "netd: not available after starting it");
  client.close();
  return undefined;
}

export { NativeError };
