// The runtime's library: every CLI verb is a thin wrapper around one function here, so tests
// can call them without spawning a process (runc's libcontainer, gVisor's runsc/container).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { UserError, type GlobalOptions } from "./cli.js";
import { StateStore, processAlive, publicState, validateId, type ContainerState, type PublicState, type Status } from "./state.js";
import { loadSpec } from "./spec/validate.js";
import { createCgroupManager, systemdCgroupPath, type CgroupManager, type CgroupResources } from "./cgroups/index.js";
import type { CgroupStats, U64 } from "./cgroups/stats.js";
import { SentryCgroup } from "./cgroups/sentry.js";
import { runHooks } from "../gofer/hooks.js";
import { controlRequest, type ExitStatus } from "../sentry/control.js";
import { NETWORK_MODES, sentryArgv, STATUS_FD, type LaunchRequest, type LaunchResult, type NetworkMode } from "../sentry/launch.js";
import { PLATFORM_NAMES, type PlatformName } from "../sentry/platform/platform.js";
import type { Logger } from "./log.js";
import { ContainerSupervisor } from "../sentry/supervisor.js";

/**
 * V8 flags of a spawned sentry (one per container, long-lived). A young generation of 2 MiB
 * semi-spaces instead of V8's 16: a sentry's garbage is short-lived (notifications, buffers), so
 * scavenges stay cheap, and a busy sentry's RSS peaks ~15 MiB lower (test/bench/memory.ts:
 * 99 -> 85 MiB through 4000 connections; redis -k 0 throughput within noise).
 */
const SENTRY_NODE_FLAGS = ["--max-semi-space-size=2"];

/** What `create` is told: the launch request's container fields, flags not yet checked. */
export interface CreateOptions
  extends Pick<LaunchRequest, "id" | "bundle" | "consoleSocket" | "pidFile" | "noPivot" | "noNewKeyring" | "preserveFds"> {
  /** `--platform` (default seccomp). */
  platform?: string;
  /** `--network` (default tsor). */
  network?: string;
  /** `--netd-socket`. */
  netdSocket?: string;
}

/** How long `delete --force` waits for a killed container's sentry to finish. */
const STOP_TIMEOUT_MS = 10_000;

export class Runtime {
  readonly store: StateStore;

  constructor(
    readonly global: GlobalOptions,
    readonly log: Logger,
  ) {
    this.store = new StateStore(global.root);
  }

  // ---- runtime-spec operations: create, start, state, kill, delete ----

  /** The sentry of a foreground `run` in this process, until the container has exited. */
  private inProcessSentry: Promise<number> | undefined;

  /**
   * implements `create` (runtime.md#create): validate, reserve the id, start a sentry. A
   * foreground `run` passes `inProcess`: the CLI waits for the container anyway, so it is the
   * sentry itself (as runc's `run` process is the container's parent) and no second Node
   * process has to start.
   */
  async create(opts: CreateOptions, { inProcess = false } = {}): Promise<number> {
    validateId(opts.id);
    const bundle = path.resolve(opts.bundle);
    if (!fs.existsSync(bundle) || !fs.statSync(bundle).isDirectory()) throw new UserError(`bundle ${bundle}: no such directory`);
    const spec = loadSpec(bundle);
    if (spec.process?.terminal && !opts.consoleSocket) {
      throw new UserError("process.terminal is true but no --console-socket was given (cannot allocate a tty for a detached container)");
    }
    if (!spec.process?.terminal && opts.consoleSocket) {
      throw new UserError("--console-socket was given but process.terminal is false");
    }
    const cgroupsPath = this.containerCgroupsPath(opts.id, spec.linux?.cgroupsPath);
    if (!Number.isInteger(opts.preserveFds) || opts.preserveFds < 0) throw new UserError(`--preserve-fds: invalid count ${opts.preserveFds}`);
    const platform = checkPlatform(opts.platform ?? "seccomp");
    const network = checkNetwork(opts.network ?? "tsor");

    this.store.reserve(opts.id);
    const sentryCgroup = this.prepareSentryCgroup(opts.id, cgroupsPath);
    const req: LaunchRequest = {
      root: path.resolve(this.global.root),
      id: opts.id,
      bundle,
      consoleSocket: opts.consoleSocket ? path.resolve(opts.consoleSocket) : undefined,
      pidFile: opts.pidFile ? path.resolve(opts.pidFile) : undefined,
      ...(this.global.reportSentryPid ? { reportSentryPid: true } : {}),
      noPivot: opts.noPivot,
      noNewKeyring: opts.noNewKeyring,
      preserveFds: opts.preserveFds,
      platform,
      network,
      ...(opts.netdSocket ? { netdSocket: path.resolve(opts.netdSocket) } : {}),
      ...(sentryCgroup ? { sentryCgroup: sentryCgroup.info } : {}),
      ...(cgroupsPath !== undefined ? { cgroupsPath } : {}),
      log: this.global.log ? path.resolve(this.global.log) : undefined,
      logFormat: this.global.logFormat,
      debug: this.global.debug,
    };
    let result: LaunchResult;
    try {
      result = inProcess
        ? await this.sentryInProcess({ ...req, preservedFdBase: 3 }, sentryCgroup)
        : await this.spawnSentry(req, sentryCgroup);
    } catch (e) {
      await this.dropSentryCgroup(sentryCgroup, inProcess);
      this.store.remove(opts.id);
      throw e;
    }
    if ("error" in result) {
      await this.dropSentryCgroup(sentryCgroup, inProcess);
      this.store.remove(opts.id);
      throw new UserError(result.error);
    }
    this.log.info({ id: opts.id, pid: result.created }, "created");
    return result.created;
  }

  /**
   * The container's cgroup path: linux.cgroupsPath, or with --systemd-cgroup the directory
   * systemd gives its "slice:prefix:name" (oci/cgroups/systemd.ts), which tsor drives through
   * cgroupfs as runc's systemd driver would find it.
   */
  private containerCgroupsPath(id: string, cgroupsPath: string | undefined): string | undefined {
    if (!this.global.systemdCgroup) return cgroupsPath;
    try {
      return systemdCgroupPath(id, cgroupsPath);
    } catch (e) {
      throw new UserError(`--systemd-cgroup: ${(e as Error).message}`);
    }
  }

  /**
   * The sentry's sibling cgroup (oci/cgroups/sentry.ts), or undefined with a warning when it
   * cannot be made (a read-only or foreign cgroupfs): the sentry then stays where we are, as
   * before, and the container runs all the same.
   */
  private prepareSentryCgroup(id: string, cgroupsPath: string | undefined): SentryCgroup | undefined {
    try {
      return SentryCgroup.prepare(id, cgroupsPath);
    } catch (e) {
      this.log.warn({ id, err: (e as Error).message }, "sentry cgroup: not made; the sentry runs in the caller's cgroup");
      return undefined;
    }
  }

  /** Moves `pid` (the sentry) into its cgroup; a failure leaves it where it is, with a warning. */
  private enterSentryCgroup(sc: SentryCgroup | undefined, pid: number | undefined): void {
    if (!sc || pid === undefined) return;
    try {
      sc.enter(pid);
    } catch (e) {
      this.log.warn({ pid, err: (e as Error).message }, "sentry cgroup: cannot move the sentry in");
    }
  }

  /** After a failed create: the sentry cgroup goes too (a foreground run leaves it first). */
  private async dropSentryCgroup(sc: SentryCgroup | undefined, inProcess: boolean): Promise<void> {
    if (!sc) return;
    try {
      if (inProcess) sc.returnToOrigin(process.pid);
      await sc.destroy({ kill: !inProcess });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "sentry cgroup: not removed");
    }
  }

  private async sentryInProcess(req: LaunchRequest, sentryCgroup: SentryCgroup | undefined): Promise<LaunchResult> {
    // A foreground run is its own sentry: it moves itself (what it allocated so far stays with
    // the caller's cgroup).
    this.enterSentryCgroup(sentryCgroup, process.pid);
    const status = new PassThrough();
    let text = "";
    status.setEncoding("utf8");
    status.on("data", (c: string) => (text += c));
    const reported = new Promise<void>((resolve) => status.once("finish", resolve));
    this.inProcessSentry = new ContainerSupervisor(req, this.log).run(status);
    await Promise.race([reported, this.inProcessSentry]);
    try {
      return JSON.parse(text.trim()) as LaunchResult;
    } catch {
      return { error: `sentry for ${req.id} sent a malformed report: ${text.trim()}` };
    }
  }

  /**
   * The sentry inherits our stdio (it is the container's) and our preserved fds, detaches into
   * its own session and reports on its status pipe once the container waits at the start barrier.
   * With a terminal the container's stdio is the pty, so the sentry gets /dev/null instead: a
   * runc shim reads `create`'s output to EOF, which a long-lived sentry holding it would never
   * give (`docker run -it` hung in containerd's task Create).
   */
  private async spawnSentry(req: LaunchRequest, sentryCgroup: SentryCgroup | undefined): Promise<LaunchResult> {
    const preserved = Array.from({ length: req.preserveFds }, (_, i) => 3 + i);
    const stdio = req.consoleSocket ? "ignore" : "inherit";
    const sentry = spawn(process.execPath, [...SENTRY_NODE_FLAGS, ...sentryArgv(), JSON.stringify(req)], {
      detached: true,
      stdio: [stdio, stdio, stdio, "pipe", ...preserved],
    });
    // At once, while Node is still starting: its heap is then charged to the sentry's cgroup.
    this.enterSentryCgroup(sentryCgroup, sentry.pid);
    const status = sentry.stdio[STATUS_FD] as Readable;
    let text = "";
    status.setEncoding("utf8");
    status.on("data", (c: string) => (text += c));
    const exited = new Promise<void>((resolve) => sentry.once("exit", () => resolve()));
    await new Promise<void>((resolve) => {
      status.once("close", resolve);
      status.once("error", () => resolve());
    });
    sentry.unref();
    status.destroy();
    const line = text.trim();
    if (!line) {
      await exited;
      return { error: `sentry for ${req.id} exited without reporting (see --log)` };
    }
    try {
      return JSON.parse(line) as LaunchResult;
    } catch {
      return { error: `sentry for ${req.id} sent a malformed report: ${line}` };
    }
  }

  /** implements `start` (runtime.md#start). */
  async start(id: string): Promise<void> {
    const s = this.state(id);
    if (s.status === "stopped") throw new UserError(`cannot start a container that has stopped: ${id}`);
    if (s.status !== "created") throw new UserError(`cannot start an already running container: ${id} is ${s.status}`);
    const res = await controlRequest(this.store.controlSocket(id), { op: "start" });
    if (!res.ok) throw new UserError(`start ${id}: ${res.error}`);
  }

  /** The container's state with its status made current (runc recomputes it on every read). */
  state(id: string): ContainerState {
    const s = this.store.load(id);
    s.status = this.currentStatus(s);
    return s;
  }

  publicState(id: string): PublicState {
    return publicState(this.state(id));
  }

  private currentStatus(s: ContainerState): Status {
    if (s.status === "stopped") return "stopped";
    const sentryAlive = processAlive(s.tsor.sentryPid, s.tsor.sentryStartTime);
    if (!sentryAlive || (s.pid > 0 && !processAlive(s.pid, s.tsor.pidStartTime))) return "stopped";
    if (s.status === "running" || s.status === "created") {
      if (this.cgroupOf(s).state() === "frozen") return "paused";
    }
    return s.status;
  }

  private cgroupOf(s: ContainerState): CgroupManager {
    return createCgroupManager({ id: s.id, cgroupsPath: s.tsor.cgroupsPath });
  }

  /** implements `kill` (runtime.md#kill). */
  async kill(id: string, signal: string, all: boolean): Promise<void> {
    const sig = parseSignal(signal);
    const s = this.state(id);
    // runc's words: containerd's runc shim treats an error containing "container not running"
    // as "already gone" and anything else as a failure it retries forever.
    if (s.status === "stopped") throw new UserError(`kill ${id}: container not running`);
    if (all) {
      await this.cgroupOf(s).killAll(sig);
      return;
    }
    try {
      process.kill(s.pid, sig);
    } catch (e) {
      throw new UserError(`kill ${id}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  /** implements `delete` (runtime.md#delete): nothing of the container is left afterwards. */
  async delete(id: string, force: boolean): Promise<void> {
    // runc: `delete --force` of a container that does not exist succeeds quietly, so cleanup
    // scripts (and containerd) can call it unconditionally.
    if (force && !this.store.exists(id)) return;
    const s = this.state(id);
    if (s.status === "running" || s.status === "paused") {
      if (!force) throw new UserError(`cannot delete container ${id} that is not stopped: ${s.status}`);
    }
    if (s.status !== "stopped") {
      const cg = this.cgroupOf(s);
      await cg.killAll(9);
      // A frozen (v1) task cannot act on SIGKILL until thawed.
      if (s.status === "paused") await cg.thaw();
    }
    await this.waitForSentry(s);
    const hooks = s.tsor.hooks.poststop ?? [];
    if (hooks.length > 0) {
      try {
        await runHooks("poststop", hooks, { ...publicState(s), status: "stopped" });
      } catch (e) {
        // runtime-spec: a failing poststop hook is a warning; delete still completes.
        this.log.warn({ id, err: (e as Error).message }, "poststop hook failed");
        process.stderr.write(`tsor: warning: ${(e as Error).message}\n`);
      }
    }
    await this.cgroupOf(s).destroy({ kill: true });
    // The sentry leaves and removes its cgroup itself; one it could not (killed) goes here. A
    // foreground run that is still in it steps out first: the kill would take it too.
    if (s.tsor.sentryCgroup) {
      const sc = SentryCgroup.of(id, s.tsor.sentryCgroup);
      if (sc.pids().includes(process.pid)) sc.returnToOrigin(process.pid);
      await sc.destroy({ kill: true });
    }
    this.store.remove(id);
  }

  private async waitForSentry(s: ContainerState): Promise<void> {
    if (s.tsor.sentryPid === process.pid && this.inProcessSentry) {
      await this.inProcessSentry;
      return;
    }
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (processAlive(s.tsor.sentryPid, s.tsor.sentryStartTime)) {
      if (Date.now() > deadline) {
        this.log.warn({ id: s.id, sentry: s.tsor.sentryPid }, "sentry did not exit; killing it");
        try {
          process.kill(s.tsor.sentryPid, "SIGKILL");
        } catch {
          /* raced with its exit */
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Wait for the container's first process to exit (the sentry answers; after it is gone, the state does). */
  async wait(id: string): Promise<ExitStatus> {
    try {
      const res = await controlRequest(this.store.controlSocket(id), { op: "wait" });
      if (res.ok && res.exit) return res.exit;
    } catch {
      /* sentry already gone: the state file has the answer */
    }
    const s = this.store.load(id);
    await this.waitForSentry(s);
    const exit = this.store.load(id).tsor.exit;
    return exit ?? { code: 255, signal: null };
  }

  // ---- runc's extras: list, ps, pause, resume, run, exec ----

  list(): PublicState[] {
    const out: PublicState[] = [];
    for (const id of this.store.ids()) {
      try {
        out.push(this.publicState(id));
      } catch {
        /* deleted while we listed */
      }
    }
    return out;
  }

  /** Pids of every process in the container (its cgroup). */
  pids(id: string): number[] {
    const s = this.state(id);
    if (s.status === "stopped") return [];
    return this.cgroupOf(s).pids();
  }

  async pause(id: string): Promise<void> {
    const s = this.state(id);
    if (s.status !== "running" && s.status !== "created") throw new UserError(`container ${id} is not running: ${s.status}`);
    await this.cgroupOf(s).freeze();
  }

  async resume(id: string): Promise<void> {
    const s = this.state(id);
    if (s.status !== "paused") throw new UserError(`container ${id} is not paused: ${s.status}`);
    await this.cgroupOf(s).thaw();
  }

  /**
   * implements `update` (runc update): write new limits into the container's cgroup. Returns the
   * settings that were skipped (warnings). Like runc's Set, refused once the container stopped.
   */
  update(id: string, resources: CgroupResources): string[] {
    const s = this.state(id);
    if (s.status === "stopped") throw new UserError(`update ${id}: container not running`);
    return this.cgroupOf(s).set(resources);
  }

  /** implements `events`' readings: the cgroup's counters and OOM kills, while the container lives. */
  usage(id: string): { stats: CgroupStats; oomKills: U64 } {
    const s = this.state(id);
    if (s.status === "stopped") throw new NotRunningError(`container with id ${id} is not running`);
    const cg = this.cgroupOf(s);
    return { stats: cg.stats(), oomKills: cg.oomKills() };
  }
}

/** The container exists but has stopped (runc's words for `events`). */
export class NotRunningError extends UserError {}

/** `--platform`: a known platform that is available. */
function checkPlatform(name: string): PlatformName {
  if (!(PLATFORM_NAMES as readonly string[]).includes(name)) {
    throw new UserError(`--platform ${name}: unknown platform (one of ${PLATFORM_NAMES.join(", ")})`);
  }
  return name as PlatformName;
}

function checkNetwork(mode: string): NetworkMode {
  if (!(NETWORK_MODES as readonly string[]).includes(mode)) {
    throw new UserError(`--network ${mode}: unknown mode (one of ${NETWORK_MODES.join(", ")})`);
  }
  return mode as NetworkMode;
}

/** A signal given as a number, `KILL` or `SIGKILL` (kill(1)'s forms). */
export function parseSignal(signal: string): number {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal);
    if (n < 1 || n > 64) throw new UserError(`invalid signal: ${signal}`);
    return n;
  }
  const name = signal.toUpperCase().startsWith("SIG") ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  // The host's numbering, which is the container's: Node's table, not one of our own.
  const n = (os.constants.signals as Record<string, number | undefined>)[name];
  if (n === undefined) throw new UserError(`unknown signal: ${signal}`);
  return n;
}

/** Exit code of `run`/`exec`: the app's, or 128+signal when it was killed (as a shell reports). */
export { exitStatusCode as exitCode } from "../sentry/supervisor.js";
