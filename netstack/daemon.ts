// NetDaemon: tsor-netd, one per node. Sentries connect to its API socket (api.ts: SOCK_SEQPACKET,
// JSON + SCM_RIGHTS), say hello for their container, register listeners and ask for connections.
// A connect() to a listener of another pod on this node hands the client's socketpair end to the
// listener's sentry: from then on the two apps share a direct kernel socketpair and netd is off the
// data path (such connections survive a netd restart). A session's listeners vanish with it.
import { chmodSync, closeSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { dirname } from "node:path";

import { native, NativeError } from "../native/index.js";
import {
  MAX_MESSAGE_BYTES,
  MAX_MESSAGE_FDS,
  FEATURES,
  ProtocolError,
  canonicalIp,
  decodeRequest,
  encode,
  type ErrorCode,
  type IncomingEvent,
  type ListenersChangedEvent,
  type Request,
  type StatusReply,
} from "./api.js";
import { NetdMetrics } from "./metrics.js";
import { lockName } from "./paths.js";
import { podAddresses } from "./podaddr.js";
import { receiveMessages } from "./receive.js";
import { NetRegistry, type Owner } from "./registry.js";

/**
 * The cluster state seam (netstack/cluster/ provides it): Service ClusterIP -> endpoint, and pod
 * names for the status table. A ClusterState fits: { resolveService, podOf: (ip) => podByIp(ip) }.
 */
export interface NetdCluster {
  resolveService(ip: string, port: number): { ip: string; port: number } | undefined;
  podOf?(ip: string): { name: string; namespace?: string } | undefined;
}

/** The slice of a pino logger the daemon uses. */
export interface NetdLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const silent: NetdLog = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

export interface NetDaemonOptions {
  name: string;
  /** The API socket path. */
  socket: string;
  /** Holds the pid file (created if missing). */
  stateDir?: string;
  log?: NetdLog;
  cluster?: NetdCluster;
  metrics?: NetdMetrics;
  /** host:port for GET /metrics. */
  metricsAddress?: string;
  /** Called once no sentry has been connected for this long (auto-started daemons exit then). */
  idleExitMs?: number;
  onIdle?: () => void;
  /** The pod addresses of a container's init pid when its hello names none (tests replace it). */
  podAddresses?: (pid: number) => string[];
  /** At most this often a connect to an unknown address re-reads pod addresses (default 1000 ms). */
  podIpsRefreshMs?: number;
}

/**
 * The network namespace of `pid` as the kernel names it ("net:[4026531840]"): containers in one
 * namespace are one pod, whatever path their hello gave (paths differ per pid).
 */
function netnsIdentity(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** O_CLOEXEC in /proc/self/fdinfo flags (octal). */
const O_CLOEXEC = 0o2000000;

/**
 * Closes the fds this process inherited (above stderr): a daemon started by a sentry must not hold
 * the sentry's pipes (a reader would never see EOF). Inherited fds are the ones without
 * close-on-exec: everything Node and the addon open has it, and exec closed the rest.
 */
export function closeInheritedFds(): number[] {
  const closed: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (fd <= 2) continue;
    try {
      const flags = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
      if (flags && (parseInt(flags[1], 8) & O_CLOEXEC) === 0) {
        closeSync(fd);
        closed.push(fd);
      }
    } catch {
      /* the fd of the readdir itself, gone by now */
    }
  }
  return closed;
}

/** Only root may talk to netd: it hands out connections to any pod. */
const ALLOWED_UID = 0;
/** Accept failures like EMFILE are retried after this pause rather than in a tight loop. */
const ACCEPT_RETRY_MS = 100;
/**
 * A pod's addresses can change after its hello (docker network connect/disconnect of a running
 * container): a connect to an address no session has re-reads them, but not more often than this,
 * since every connect to a non-TSoR peer misses and each read is one /proc file per pod.
 */
const POD_IPS_REFRESH_MS = 1000;
const LISTENERS_CHANGED: ListenersChangedEvent = { op: "listeners-changed" };

class Session implements Owner {
  containerId = "";
  podIps: string[] = [];
  /** The pid whose netns gave `podIps` (the hello named none): they are read from it again. */
  addrPid: number | undefined;
  netns = "";
  helloed = false;
  ended = false;
  /** Stops reading its messages (receiveMessages), before its fd is closed. */
  stopReceiving: () => void = () => {};
  outgoing = 0;
  incoming = 0;
  /** Keeps listener hints (a connect asked for one): told `listeners-changed` (api.ts "listener-hints"). */
  hints = false;
  constructor(
    readonly fd: number,
    readonly peer: { pid: number; uid: number; gid: number },
  ) {}
}

export class NetDaemon {
  readonly metrics: NetdMetrics;
  readonly registry = new NetRegistry<Session>();
  private readonly log: NetdLog;
  private readonly sessions = new Set<Session>();
  private readonly counts = { local: 0, kernel: 0, refused: 0, failed: 0 };
  private listenFd = -1;
  private lockFd = -1;
  private stopping = false;
  private accepting = false;
  private acceptDone: (() => void) | undefined;
  private sessionsDone: (() => void) | undefined;
  private metricsServer: Server | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();
  private lastPodIpsRefresh = 0;

  constructor(private readonly opts: NetDaemonOptions) {
    this.log = opts.log ?? silent;
    this.metrics = opts.metrics ?? new NetdMetrics();
  }

  get socket(): string {
    return this.opts.socket;
  }

  /** Takes the instance lock, binds the API socket (replacing a stale file) and starts serving. */
  async start(): Promise<void> {
    const { socket } = this.opts;
    try {
      this.lockFd = native.unixListen(lockName(socket));
    } catch (e) {
      if (e instanceof NativeError && e.code === "EADDRINUSE") throw new Error(`another tsor netd already serves ${socket}`);
      throw e;
    }
    try {
      mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
      rmSync(socket, { force: true }); // stale: its daemon died (we hold the lock)
      this.listenFd = native.unixListen(socket);
      // Anyone may connect; SO_PEERCRED decides (a non-root peer gets a clear EPERM, not EACCES).
      chmodSync(socket, 0o666);
      if (this.opts.stateDir) {
        mkdirSync(this.opts.stateDir, { recursive: true, mode: 0o755 });
        writeFileSync(`${this.opts.stateDir}/netd.pid`, `${process.pid}\n`);
      }
      if (this.opts.metricsAddress) this.metricsServer = await this.metrics.serve(this.opts.metricsAddress);
    } catch (e) {
      this.releaseSocket();
      throw e;
    }
    this.accepting = true;
    this.acceptNext();
    this.armIdle();
    this.log.info({ socket, pid: process.pid, metrics: this.metricsAddress() }, "netd: serving");
  }

  /** The bound metrics address (host:port), if serving metrics. */
  metricsAddress(): string | undefined {
    const a = this.metricsServer?.address();
    if (!a || typeof a === "string") return undefined;
    return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  /** Stops accepting, ends every session (established connections are not netd's: they stay). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.idleTimer);
    const acceptEnded = this.accepting ? new Promise<void>((r) => (this.acceptDone = r)) : Promise.resolve();
    if (this.listenFd >= 0) native.shutdownFd(this.listenFd);
    const sessionsEnded = this.sessions.size ? new Promise<void>((r) => (this.sessionsDone = r)) : Promise.resolve();
    for (const s of this.sessions) this.shutdownSession(s);
    await acceptEnded;
    await sessionsEnded;
    await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
    this.releaseSocket();
    if (this.opts.stateDir) rmSync(`${this.opts.stateDir}/netd.pid`, { force: true });
    this.log.info({}, "netd: stopped");
  }

  private releaseSocket(): void {
    if (this.listenFd >= 0) {
      native.closeFd(this.listenFd);
      this.listenFd = -1;
      rmSync(this.opts.socket, { force: true });
    }
    if (this.lockFd >= 0) native.closeFd(this.lockFd);
    this.lockFd = -1;
  }

  private acceptNext(): void {
    native.unixAccept(this.listenFd, (err, fd) => {
      if (this.stopping) {
        if (!err) native.closeFd(fd);
        this.accepting = false;
        this.acceptDone?.();
        return;
      }
      if (err) {
        this.metrics.errors.inc({ kind: "internal" });
        this.log.error({ err: err.message }, "netd: accept failed");
        setTimeout(() => this.acceptNext(), ACCEPT_RETRY_MS);
        return;
      }
      this.acceptNext();
      this.onConnection(fd);
    });
  }

  private onConnection(fd: number): void {
    let peer: { pid: number; uid: number; gid: number };
    try {
      peer = native.peerCred(fd);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "netd: no peer credentials");
      native.closeFd(fd);
      return;
    }
    if (peer.uid !== ALLOWED_UID) {
      this.metrics.errors.inc({ kind: "peer_refused" });
      this.log.warn({ peer }, "netd: refused a peer that is not root");
      try {
        native.sendFds(fd, encode({ ok: false, error: "EPERM", message: `uid ${peer.uid} may not use tsor netd (root only)` }), []);
      } catch {
        /* it may be gone already */
      }
      native.closeFd(fd);
      return;
    }
    native.setNonblock(fd, true); // a sentry that stops reading must not stall the daemon
    const session = new Session(fd, peer);
    this.sessions.add(session);
    this.metrics.sessions.set(this.sessions.size);
    clearTimeout(this.idleTimer);
    this.log.debug({ peer }, "netd: session opened");
    this.receive(session);
  }

  private receive(s: Session): void {
    // One more fd than allowed, so that an excess is seen (truncated) rather than silently cut.
    s.stopReceiving = receiveMessages(s.fd, MAX_MESSAGE_FDS + 1, (r) => {
      try {
        if (r.truncated) throw new ProtocolError("EINVAL", `message truncated: more than ${MAX_MESSAGE_BYTES} bytes or ${MAX_MESSAGE_FDS} fds`);
        this.handle(s, decodeRequest(r.data, r.fds.length), r.fds);
      } catch (e) {
        const pe = e instanceof ProtocolError ? e : new ProtocolError("EINVAL", `internal error: ${(e as Error).message}`);
        if (!(e instanceof ProtocolError)) {
          this.metrics.errors.inc({ kind: "internal" });
          this.log.error({ err: (e as Error).stack }, "netd: request failed");
        } else {
          this.metrics.errors.inc({ kind: "bad_message" });
          this.log.warn({ container: s.containerId, error: pe.code, message: pe.message }, "netd: bad message");
        }
        this.reply(s, { ...(pe.id !== undefined ? { id: pe.id } : {}), ok: false, error: pe.code, message: pe.message });
      } finally {
        for (const fd of r.fds) native.closeFd(fd); // ours; a hand-off sent its own duplicate
      }
    }, (err) => {
      if (err && !this.stopping) this.log.warn({ container: s.containerId, err: err.message }, "netd: session receive failed");
      this.endSession(s);
    });
  }

  private handle(s: Session, req: Request, fds: number[]): void {
    if (req.op !== "hello" && req.op !== "status" && !s.helloed) throw new ProtocolError("EPROTO", `${req.op} before hello`, req.id);
    switch (req.op) {
      case "hello":
        return this.hello(s, req);
      case "listen": {
        this.refreshPodIps([s]); // a listen on an address the pod got after its hello
        const r = this.registry.listen(s, req.ip, req.port, req.reuseport, req.queuedMark);
        this.metrics.listeners.set(this.registry.size);
        if (!r.ok) throw new ProtocolError(r.error, r.message, req.id);
        this.log.debug({ container: s.containerId, ip: req.ip, port: req.port }, "netd: listen");
        return this.reply(s, { id: req.id, ok: true });
      }
      case "unlisten": {
        const had = this.registry.unlisten(s, req.ip, req.port);
        this.metrics.listeners.set(this.registry.size);
        if (!had) throw new ProtocolError("ENOENT", `${req.ip}:${req.port}: no listener of ${s.containerId}`, req.id);
        this.listenersChanged();
        return this.reply(s, { id: req.id, ok: true });
      }
      case "connect":
        if (req.hint) s.hints = true;
        try {
          return this.connect(s, req, fds[0]);
        } catch (e) {
          // A hinted connect has nobody waiting for a reply: the end is closed with the request
          // (its client reads a reset) and the sender forgets its hints, so its next connect asks.
          if (!req.noreply || !(e instanceof ProtocolError)) throw e;
          this.log.debug({ container: s.containerId, dst: req.dst, error: e.code }, "netd: hinted connect failed, end closed");
          return this.reply(s, LISTENERS_CHANGED);
        }
      case "report":
        for (const [reason, n] of Object.entries(req.fallbacks)) {
          this.metrics.fallbacks.inc({ reason }, n);
          this.metrics.connections.inc({ transport: "kernel" }, n);
          this.counts.kernel += n;
        }
        return this.reply(s, { id: req.id, ok: true });
      case "status":
        return this.reply(s, { id: req.id, ok: true, status: this.status() });
    }
  }

  private hello(s: Session, req: Extract<Request, { op: "hello" }>): void {
    if (s.helloed) throw new ProtocolError("EPROTO", `hello again (session of ${s.containerId})`, req.id);
    for (const other of this.sessions) {
      if (other !== s && other.helloed && other.containerId === req.containerId) {
        throw new ProtocolError("EEXIST", `container ${req.containerId} already has a session`, req.id);
      }
    }
    let podIps = req.podIps;
    if (podIps.length === 0 && req.pid !== undefined) {
      s.addrPid = req.pid;
      podIps = this.readPodIps(req.pid);
    }
    s.containerId = req.containerId;
    s.podIps = [...new Set(podIps)];
    s.netns = netnsIdentity(req.pid) ?? req.netns;
    s.helloed = true;
    this.log.info({ container: s.containerId, podIps: s.podIps, peer: s.peer }, "netd: hello");
    // An address of ours another pod still claims was taken from it (disconnected, then reused).
    this.refreshPodIps([...this.sessions].filter((o) => o !== s && o.podIps.some((ip) => s.podIps.includes(ip))));
    this.reply(s, { id: req.id, ok: true, podIps: s.podIps, features: [...FEATURES] });
  }

  private connect(s: Session, req: Extract<Request, { op: "connect" }>, fd: number): void {
    const t0 = process.hrtime.bigint();
    let dst = req.dst;
    const svc = this.opts.cluster?.resolveService(dst.ip, dst.port);
    const svcIp = svc && canonicalIp(svc.ip);
    if (svc && svcIp) dst = { ip: svcIp, port: svc.port };
    let entry = this.registry.lookup(dst.ip, dst.port);
    if (!entry && !this.isLocalPod(dst.ip) && this.podIpsRefreshDue() && this.refreshPodIps(this.sessions)) {
      entry = this.registry.lookup(dst.ip, dst.port);
    }
    if (!entry) {
      if (req.noreply) {
        // A stale hint: the client's app was told it is connected and reads a reset.
        this.counts.failed++;
        this.metrics.errors.inc({ kind: "stale_hint" });
        throw new ProtocolError("ECONNREFUSED", `${dst.ip}:${dst.port}: no listener any more`, req.id);
      }
      if (this.isLocalPod(dst.ip)) {
        this.counts.refused++;
        this.metrics.refused.inc();
        throw new ProtocolError("ECONNREFUSED", `${dst.ip}:${dst.port}: nothing listens there`, req.id);
      }
      this.counts.kernel++;
      this.metrics.fallbacks.inc({ reason: "not_local" });
      this.metrics.connections.inc({ transport: "kernel" });
      throw new ProtocolError("ENOTLOCAL", `${dst.ip}: not a TSoR pod on this node`, req.id);
    }
    // A listener whose sentry does not take marks gets the end without one (the mark was sent
    // before the end, so it is the first byte there).
    const queuedMark = req.queuedMark && entry.queuedMark;
    if (req.queuedMark && !entry.queuedMark) {
      let taken = 0;
      try {
        taken = native.discardNow(fd, 1);
      } catch {
        /* counted as missing below */
      }
      if (taken !== 1) throw new ProtocolError("EINVAL", "queuedMark: the end holds no mark", req.id);
    }
    const event: IncomingEvent = { op: "incoming", listener: { ip: entry.ip, port: entry.port }, dst, peer: req.src, from: s.containerId, queuedMark };
    const owner = entry.owner;
    try {
      native.sendFds(owner.fd, encode(event), [fd]);
    } catch (e) {
      this.counts.failed++;
      this.metrics.errors.inc({ kind: "delivery" });
      this.log.warn({ to: owner.containerId, err: (e as Error).message }, "netd: could not hand a connection over");
      throw new ProtocolError("EAGAIN", `${owner.containerId} did not take the connection: ${(e as Error).message}`, req.id);
    }
    entry.accepted++;
    s.outgoing++;
    owner.incoming++;
    this.counts.local++;
    this.metrics.connections.inc({ transport: "local" });
    this.metrics.connectSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    if (req.noreply) return;
    // A hint holds only for a destination that is the listener's own (a Service's backends move).
    this.reply(s, { id: req.id, ok: true, transport: "local", to: owner.containerId, dst, ...(req.hint ? { hinted: !svc } : {}) });
  }

  /** A hint a sentry keeps may be stale now (a listener or a session went, a pod's addresses changed). */
  private listenersChanged(): void {
    for (const s of this.sessions) if (s.hints && !s.ended) this.reply(s, LISTENERS_CHANGED);
  }

  private readPodIps(pid: number): string[] {
    return [...new Set((this.opts.podAddresses ?? podAddresses)(pid))];
  }

  private podIpsRefreshDue(): boolean {
    const now = Date.now();
    if (now - this.lastPodIpsRefresh < (this.opts.podIpsRefreshMs ?? POD_IPS_REFRESH_MS)) return false;
    this.lastPodIpsRefresh = now;
    return true;
  }

  /** Reads the addresses of `sessions` that learned them from their netns again; true if any changed. */
  private refreshPodIps(sessions: Iterable<Session>): boolean {
    let changed = false;
    for (const s of sessions) {
      if (s.addrPid === undefined || s.ended) continue;
      const ips = this.readPodIps(s.addrPid);
      if (ips.length === s.podIps.length && ips.every((ip) => s.podIps.includes(ip))) continue;
      this.log.info({ container: s.containerId, was: s.podIps, podIps: ips }, "netd: pod addresses changed");
      s.podIps = ips;
      changed = true;
    }
    if (changed) this.listenersChanged();
    return changed;
  }

  /** A pod of a session on this node (a connection there with no listener is refused, not sent to the kernel). */
  private isLocalPod(ip: string): boolean {
    for (const s of this.sessions) if (s.podIps.includes(ip)) return true;
    return false;
  }

  private reply(s: Session, message: object): void {
    if (s.ended) return;
    try {
      native.sendFds(s.fd, encode(message), []);
    } catch (e) {
      // Full (the sentry stopped reading) or gone: either way the session is over.
      this.metrics.errors.inc({ kind: "delivery" });
      this.log.warn({ container: s.containerId, err: (e as Error).message }, "netd: reply failed, ending session");
      this.shutdownSession(s);
    }
  }

  /** Wakes the session's pending receive, which then ends it. */
  private shutdownSession(s: Session): void {
    try {
      native.shutdownFd(s.fd);
    } catch {
      /* already gone */
    }
  }

  private endSession(s: Session): void {
    s.ended = true;
    this.finishSession(s);
  }

  private finishSession(s: Session): void {
    if (!this.sessions.delete(s)) return;
    const dropped = this.registry.dropOwner(s);
    s.stopReceiving();
    native.closeFd(s.fd);
    if (dropped > 0) this.listenersChanged();
    this.metrics.sessions.set(this.sessions.size);
    this.metrics.listeners.set(this.registry.size);
    if (s.helloed) this.log.info({ container: s.containerId, listeners: dropped }, "netd: session ended");
    if (this.sessions.size === 0) this.sessionsDone?.();
    this.armIdle();
  }

  private armIdle(): void {
    const { idleExitMs, onIdle } = this.opts;
    if (idleExitMs === undefined || !onIdle || this.sessions.size > 0 || this.stopping) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.sessions.size === 0 && !this.stopping) {
        this.log.info({ idleExitMs }, "netd: idle, exiting");
        onIdle();
      }
    }, idleExitMs);
    this.idleTimer.unref();
  }

  status(): StatusReply {
    const podName = (ips: string[]): string | undefined => {
      for (const ip of ips) {
        const p = this.opts.cluster?.podOf?.(ip);
        if (p) return p.namespace ? `${p.namespace}/${p.name}` : p.name;
      }
      return undefined;
    };
    const sessions = [...this.sessions].filter((s) => s.helloed).sort((a, b) => a.containerId.localeCompare(b.containerId));
    const entries = this.registry.entries();
    return {
      name: this.opts.name,
      pid: process.pid,
      socket: this.opts.socket,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      pods: sessions.map((s) => {
        const pod = podName(s.podIps);
        return {
          containerId: s.containerId,
          podIps: s.podIps,
          netns: s.netns,
          ...(pod ? { pod } : {}),
          listeners: entries.filter((e) => e.owner === s).length,
          connections: { outgoing: s.outgoing, incoming: s.incoming },
        };
      }),
      listeners: entries.map((e) => ({ ip: e.ip, port: e.port, containerId: e.owner.containerId, reuseport: e.reuseport, accepted: e.accepted })),
      connections: { ...this.counts },
    };
  }
}

export type { ErrorCode };
