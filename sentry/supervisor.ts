// The sentry's supervisor: it creates one container with tsor-init, is the parent and reaper of
// the container's first process (tsor-init clones it with CLONE_PARENT), answers the control
// socket (start, wait) and records the exit status. The syscall-trapping half of the sentry
// hangs off the same process (sentry/platform).
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Writable } from "node:stream";
import type { Logger } from "../oci/log.js";
import { StateStore, appNamespacePath, processStartTime, publicState, type ContainerState } from "../oci/state.js";
import { NAMESPACE_PROC_NAMES, type NamespaceType } from "../oci/known.js";
import { loadSpec } from "../oci/spec/validate.js";
import type { RuntimeSpec } from "../oci/spec/schema.js";
import { buildPlan, INIT_FIRST_PRESERVED_FD } from "../gofer/plan.js";
import { encodeField } from "../gofer/encode.js";
import { runHooks } from "../gofer/hooks.js";
import { createCgroupManager, type CgroupManager } from "../oci/cgroups/index.js";
import { SentryCgroup } from "../oci/cgroups/sentry.js";
import { native } from "../native/index.js";
import { SyncChannel, InitError } from "./sync.js";
import { serveControl, type ControlRequest, type ControlResponse, type ExitStatus } from "./control.js";
import { STATUS_FD, spawnTsorInit, type LaunchRequest, type LaunchResult } from "./launch.js";
import { NetdClient, ensureNetd } from "../netstack/client.js";
import { netdPaths } from "../netstack/paths.js";
import { containerDispatch, createPlatform, trapOptions, type Platform, type PlatformName, type SyscallHandler } from "./platform/index.js";
import type { SocketStack } from "./vsock/stack.js";
import { TrapServer, TRAP_SOCKET_NAME } from "./trapserver.js";

/** runtime-spec version we implement (state.json's ociVersion). */
export const OCI_VERSION = "1.2.0";

export class ContainerSupervisor {
  private readonly store: StateStore;
  private state!: ContainerState;
  private spec!: RuntimeSpec;
  private cgroup: CgroupManager | undefined;
  private sync!: SyncChannel;
  private exit: ExitStatus | undefined;
  private readonly exitWaiters: ((e: ExitStatus) => void)[] = [];
  private starting: Promise<ControlResponse> | undefined;
  /** Our end of the trap channel until the platform takes it (-1: none). */
  private trapChannel = -1;
  private platform: Platform | undefined;
  /** The node's tsor-netd session (pod-to-pod connections); undefined: kernel path only. */
  netd: NetdClient | undefined;
  /** The container's virtual sockets (listeners, vsockets), while its platform runs. */
  private sockets: SocketStack | undefined;
  /** The container's dispatch (over `sockets`), shared with the trap server's platforms. */
  private dispatch: SyscallHandler | undefined;
  /** `<state dir>/trap.sock`: traps `tsor exec`'d processes (both platforms). */
  private trapServer: TrapServer | undefined;

  constructor(
    private readonly req: LaunchRequest,
    private readonly log: Logger,
  ) {
    this.store = new StateStore(req.root);
  }

  /** Create the container; report the outcome on `status`; then supervise until it exits. */
  async run(status: Writable): Promise<number> {
    // The CLI may be gone (killed mid-create): a failed write must not leave us waiting for a
    // 'finish' that never comes, so an error or close settles the report too.
    const report = (r: LaunchResult) =>
      new Promise<void>((resolve) => {
        status.once("error", () => resolve());
        status.once("close", () => resolve());
        status.end(JSON.stringify(r) + "\n", () => resolve());
      });
    try {
      await this.create();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.log.error({ err: msg }, "create failed");
      await this.abortCreate();
      await report({ error: msg });
      return 1;
    }
    const server = await serveControl(this.store.controlSocket(this.req.id), (r) => this.handle(r));
    await report({ created: this.state.pid });
    this.log.info({ pid: this.state.pid }, "container created");
    const exit = await this.exited();
    this.log.info({ exit }, "container exited");
    if (this.platform?.name === "seccomp") this.log.debug({ answered: native.fastSetsockopt.stats().answered }, "fast setsockopt: answered in the addon");
    this.platform?.stop();
    this.trapServer?.stop();
    this.sockets?.dispose();
    this.netd?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(this.store.controlSocket(this.req.id), { force: true });
    await this.leaveSentryCgroup();
    // --report-sentry-pid: the pid file named us, so our exit is the container's exit for
    // whoever reaps us (containerd's runc shim): its code, or 128+signal as a shell reports
    // it (runc's init killed by SIGKILL is reported as 137 by containerd, so is ours).
    return this.req.reportSentryPid ? exitStatusCode(exit) : 0;
  }

  /** The sentry's sibling cgroup the CLI made (oci/cgroups/sentry.ts), if any. */
  private sentryCgroup(): SentryCgroup | undefined {
    return this.req.sentryCgroup ? SentryCgroup.of(this.req.id, this.req.sentryCgroup) : undefined;
  }

  /** A tsor-netd we started serves the whole node: out of our cgroup (the pod's) into the CLI's. */
  private placeNetd(pid: number): void {
    try {
      this.sentryCgroup()?.returnToOrigin(pid);
    } catch (e) {
      this.log.warn({ pid, err: (e as Error).message }, "netd: left in the sentry's cgroup");
    }
  }

  /** On the way out: back to the CLI's cgroup, and the sibling removed (else `delete` does it). */
  private async leaveSentryCgroup(): Promise<void> {
    const sc = this.sentryCgroup();
    if (!sc) return;
    try {
      sc.returnToOrigin(process.pid);
      await sc.destroy();
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "sentry cgroup: left for delete to remove");
    }
  }

  private async create(): Promise<void> {
    const { req } = this;
    this.log.debug("sentry: loading spec");
    this.spec = loadSpec(req.bundle);
    const spec = this.spec;
    for (const ns of spec.linux?.namespaces ?? []) if (ns.path) ns.path = appNamespacePath(this.store, ns.path);
    const rootfs = path.resolve(req.bundle, spec.root?.path ?? "rootfs");
    const stateDir = this.store.dir(req.id);
    const configPath = path.join(stateDir, "config.json");
    fs.copyFileSync(path.join(req.bundle, "config.json"), configPath);

    const platformName = req.platform ?? "seccomp";
    const network = req.network ?? "tsor";
    // `--network tsor`: the platform's trap filter; its channel sits right after the preserved fds.
    const trapped = network === "tsor";

    this.cgroup = createCgroupManager({ id: req.id, cgroupsPath: req.cgroupsPath ?? spec.linux?.cgroupsPath, resources: spec.linux?.resources });
    this.cgroup.create();
    for (const w of this.cgroup.set()) this.log.warn(w);

    this.state = {
      ociVersion: OCI_VERSION,
      id: req.id,
      pid: 0,
      status: "creating",
      bundle: req.bundle,
      rootfs,
      created: new Date().toISOString(),
      owner: "",
      annotations: spec.annotations ?? {},
      tsor: {
        sentryPid: process.pid,
        sentryStartTime: processStartTime(process.pid),
        cgroupsPath: this.cgroup.path,
        cgroupPaths: this.cgroup.paths(),
        ...(req.sentryCgroup ? { sentryCgroup: req.sentryCgroup } : {}),
        namespaces: {},
        hooks: spec.hooks ?? {},
        configPath,
        platform: platformName,
        network,
      },
    };
    this.store.save(this.state);

    const plan = buildPlan(spec, {
      mode: "create",
      rootfs,
      bundle: req.bundle,
      noPivot: req.noPivot,
      consoleSocket: req.consoleSocket,
      preserveFds: req.preserveFds,
      sessionKeyring: req.noNewKeyring ? undefined : req.id,
      trap: trapped ? trapOptions(platformName, INIT_FIRST_PRESERVED_FD + req.preserveFds) : undefined,
    });
    let initTrapEnd: number | undefined;
    // ptrace needs no channel: it seizes the process instead.
    if (trapped && platformName === "seccomp") [this.trapChannel, initTrapEnd] = native.socketpair();
    this.log.debug("sentry: spawning tsor-init");
    const { sync } = this.spawnInit(plan, initTrapEnd);
    if (initTrapEnd !== undefined) native.closeFd(initTrapEnd);
    this.sync = sync;

    const initPid = Number(await this.sync.expect("hello"));
    this.cgroup.apply(initPid);
    this.log.debug("sentry: hello");
    this.sync.send("cgroup");
    const pid = Number(await this.sync.expect("pid"));
    this.state.pid = pid;
    this.state.tsor.pidStartTime = processStartTime(pid);
    this.state.tsor.namespaces = this.namespacePaths(pid);
    // Reap the container process: it is our child (CLONE_PARENT), unknown to libuv. Under ptrace
    // its tracer reaps it (a second waiter would take its ptrace stops) and reports the exit; it
    // seizes it now, long before the trace filter is installed just before execve.
    const reap = (st: ExitStatus) => this.onExit({ code: st.code, signal: st.signal });
    if (trapped && platformName === "ptrace") {
      try {
        this.startPlatform(platformName, pid, undefined, reap);
      } catch (e) {
        native.waitPid(pid, reap);
        throw e;
      }
    } else {
      native.waitPid(pid, reap);
    }
    this.store.save(this.state);

    await this.sync.expect("createRuntime");
    await this.runHooks("prestart");
    await this.runHooks("createRuntime");
    this.sync.send(`ok ${encodeField(JSON.stringify(publicState(this.state)))}`);
    this.log.debug("sentry: waiting for ready");
    await this.sync.expect("ready");
    if (this.exit) throw new InitError(`container process exited during create (${describeExit(this.exit)})`);
    if (this.trapChannel >= 0) {
      // The listener arrives just before execve (after `tsor start`); the platform waits for it.
      this.startPlatform(platformName, pid, this.trapChannel);
      this.trapChannel = -1;
    }
    if (trapped) {
      // `tsor exec` connects here for its process's trap (same dispatch, same sockets): a
      // listener channel under seccomp, a request to seize the process under ptrace.
      const opts = { platform: platformName, containerPid: pid };
      this.trapServer = new TrapServer(path.join(stateDir, TRAP_SOCKET_NAME), this.dispatch!, this.log, opts);
      this.trapServer.start();
    }
    this.state.status = "created";
    this.store.save(this.state);
    // runc semantics: the pid file holds the app's pid. --report-sentry-pid: ours, since the
    // runc shim can reap only its descendants and the app's parent is us, not the shim (runsc
    // names its sandbox process the same way).
    if (req.pidFile) writePidFile(req.pidFile, req.reportSentryPid ? process.pid : pid);
    // The node daemon (started in the background if none runs); a container never fails for it.
    if (trapped) {
      const hello = { containerId: req.id, netns: this.namespacePaths(pid).network ?? `/proc/${pid}/ns/net`, pid };
      const where = req.netdSocket ? { socket: req.netdSocket } : {};
      // TSOR_NETD_SPAWN=0: never start a netd (tests that run their own).
      const spawnNetd = process.env.TSOR_NETD_SPAWN !== "0";
      const onSpawned = (netdPid: number) => this.placeNetd(netdPid);
      this.netd = await ensureNetd({ hello, log: this.log, spawn: spawnNetd, onSpawned, ...where }).catch(
        (e: Error) => void this.log.warn({ err: e.message }, "netd: not used"),
      );
      if (!this.netd) {
        // None now: keep trying in the background; until then every connect takes the kernel path.
        try {
          this.netd = new NetdClient({ socket: netdPaths(where).socket, hello, log: this.log, reconnectMaxMs: 2000 });
          this.netd.open(true).catch(() => {});
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, "netd: not used");
        }
      }
      if (this.netd) this.sockets?.attachNetd(this.netd);
    }
  }

  private startPlatform(name: PlatformName, pid: number, trapChannel: number | undefined, onExit?: (e: ExitStatus) => void): void {
    this.platform = createPlatform(name, { log: this.log, onExit });
    // TSOR_FAST_SETSOCKOPT=0 turns the addon's fast path off (to compare, or to rule it out).
    const fastSetsockopt = name === "seccomp" && process.env.TSOR_FAST_SETSOCKOPT !== "0";
    const { dispatch, stack } = containerDispatch(pid, this.log, undefined, { fastSetsockopt });
    this.sockets = stack;
    this.dispatch = dispatch;
    this.platform.start({ pid, trapChannel }, dispatch);
  }

  /**
   * tsor-init's fds (native/PLAN.md): 0-2 the container's stdio (ours, inherited from the CLI),
   * 3 the sync socket, 4 the plan, 5.. the preserved fds (ours start after the status fd), then
   * the trap channel if any.
   */
  private spawnInit(plan: string, trapEnd: number | undefined): { init: ChildProcess; sync: SyncChannel } {
    const base = this.req.preservedFdBase ?? STATUS_FD + 1;
    const preserved = Array.from({ length: this.req.preserveFds }, (_, i) => base + i);
    const started = spawnTsorInit(plan, { preserved, trapFd: trapEnd, terminal: this.req.consoleSocket !== undefined });
    started.init.on("error", (e) => this.log.error({ err: e.message }, "tsor-init spawn failed"));
    return started;
  }

  /** /proc/PID/ns/* for namespaces the container made, the config's path for joined ones. */
  private namespacePaths(pid: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const ns of this.spec.linux?.namespaces ?? []) {
      const type = ns.type as NamespaceType;
      out[type] = ns.path || `/proc/${pid}/ns/${NAMESPACE_PROC_NAMES[type]}`;
    }
    return out;
  }

  private async runHooks(kind: "prestart" | "createRuntime" | "poststart"): Promise<void> {
    const hooks = this.spec.hooks?.[kind];
    if (!hooks || hooks.length === 0) return;
    await runHooks(kind, hooks, publicState(this.state));
  }

  /** Undo a failed create: no process, no cgroup left behind (the CLI removes the state dir). */
  private async abortCreate(): Promise<void> {
    if (this.state?.pid && !this.exit) {
      try {
        process.kill(this.state.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      await this.exited();
    }
    this.sync?.close();
    this.platform?.stop();
    this.trapServer?.stop();
    this.sockets?.dispose();
    if (this.trapChannel >= 0) native.closeFd(this.trapChannel);
    this.trapChannel = -1;
    try {
      await this.cgroup?.destroy({ kill: true });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "cgroup cleanup after failed create");
    }
  }

  private onExit(exit: ExitStatus): void {
    this.exit = exit;
    if (this.state.status !== "creating") {
      this.state.status = "stopped";
      this.state.tsor.exit = exit;
      this.store.save(this.state);
    }
    for (const w of this.exitWaiters.splice(0)) w(exit);
  }

  private exited(): Promise<ExitStatus> {
    if (this.exit) return Promise.resolve(this.exit);
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  private handle(req: ControlRequest): Promise<ControlResponse> {
    switch (req.op) {
      case "ping":
        return Promise.resolve({ ok: true, pid: this.state.pid });
      case "wait":
        return this.exited().then((exit) => ({ ok: true, exit }));
      case "start":
        this.starting ??= this.start();
        return this.starting;
    }
  }

  /** implements `tsor start`: release the start barrier, then run poststart hooks. */
  private async start(): Promise<ControlResponse> {
    if (this.exit) return { ok: false, error: "cannot start a container that has stopped" };
    this.sync.send(`start ${encodeField(JSON.stringify(publicState(this.state)))}`);
    try {
      await this.sync.expectEof();
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    if (!this.exit) {
      this.state.status = "running";
      this.store.save(this.state);
    }
    try {
      await this.runHooks("poststart");
    } catch (e) {
      // runtime-spec: a failing poststart hook is logged as a warning; the lifecycle goes on.
      this.log.warn({ err: (e as Error).message }, "poststart hook failed");
    }
    return { ok: true, pid: this.state.pid };
  }
}

/** An exit status as a process exit code: N, or 128+S for a signal (what a shell shows). */
export function exitStatusCode(e: ExitStatus): number {
  return e.signal !== null ? 128 + e.signal : (e.code ?? 255);
}

export function describeExit(e: ExitStatus): string {
  return e.signal !== null ? `killed by signal ${e.signal}` : `exit status ${e.code}`;
}

export function writePidFile(file: string, pid: number): void {
  // Written atomically, as runc does, so a reader never sees an empty file.
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}`);
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, file);
}
