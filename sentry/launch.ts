// What the CLI hands a new sentry: everything `tsor create` was told, resolved. Passed as one
// JSON argument so the sentry's command line in `ps` shows which container it serves.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import type { Duplex, Writable } from "node:stream";
import { SyncChannel } from "./sync.js";
import type { PlatformName } from "./platform/platform.js";
import type { SentryCgroupInfo } from "../oci/cgroups/sentry.js";

/** `--network`: `tsor` traps the socket control calls; `host-kernel` is the plain pass-through (no trap filter). */
export const NETWORK_MODES = ["tsor", "host-kernel"] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

export interface LaunchRequest {
  root: string;
  id: string;
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  /**
   * `--report-sentry-pid` (oci/cli.ts): pidFile gets the sentry's own pid and the sentry exits
   * with the app's status (its exit code, or 128+signal), as gVisor's sandbox process does.
   */
  reportSentryPid?: boolean;
  noPivot: boolean;
  noNewKeyring: boolean;
  preserveFds: number;
  /**
   * Where the preserved fds start in the sentry's own fd table: after the status pipe (the
   * default) for a spawned sentry; 3 for a sentry running inside a foreground `tsor run`.
   */
  preservedFdBase?: number;
  /** How trapped syscalls reach the sentry; default seccomp. */
  platform?: PlatformName;
  /** Default tsor. */
  network?: NetworkMode;
  /** tsor-netd's API socket (`--netd-socket`); default TSOR_NETD_SOCKET, else the node's. */
  netdSocket?: string;
  /** The sibling cgroup the CLI made for the sentry and moved it into (oci/cgroups/sentry.ts). */
  sentryCgroup?: SentryCgroupInfo;
  /** The container's cgroup path as the CLI resolved it (--systemd-cgroup expands it); unset: linux.cgroupsPath. */
  cgroupsPath?: string;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
}

/** The sentry reports the outcome of create on fd 3 (its "status pipe"), one JSON line. */
export type LaunchResult = { created: number } | { error: string };

/** Fd on which the sentry writes its LaunchResult; preserved fds follow it. */
export const STATUS_FD = 3;

export { projectPath } from "../native/root.js";
import { projectPath } from "../native/root.js";

/**
 * How node starts a sentry (its arguments before the launch request): the bundle's launcher
 * when `make build` made one (oci/launcher.ts: one file with a code cache; start-up is on every
 * `create`), else the tsc output.
 */
export function sentryArgv(): string[] {
  const launcher = projectPath("dist", "bundle", "launcher.mjs");
  return fs.existsSync(launcher) ? [launcher, "sentry"] : [projectPath("dist", "sentry", "main.js")];
}

/** tsor-init, built by `make -C native` (TSOR_INIT overrides, for tests of a different build). */
export function tsorInitPath(): string {
  return process.env.TSOR_INIT ?? projectPath("native", "build", "tsor-init");
}

/**
 * Start tsor-init with its fds as native/PLAN.md lays them out — 0-2 our stdio (the
 * container's), 3 the sync socket, 4 the plan, then `preserved` (fd numbers of ours) and the
 * trap channel if any — and hand it the plan. The one place the create and exec paths share.
 * `terminal`: the pty becomes 0-2, so tsor-init gets /dev/null rather than holding ours (the
 * parent stage of a detached exec outlives the CLI, whose output a runc shim reads to EOF).
 */
export function spawnTsorInit(plan: string, opts: { preserved: number[]; trapFd?: number; detached?: boolean; terminal?: boolean }): { init: ChildProcess; sync: SyncChannel } {
  const stdio = opts.terminal ? "ignore" : "inherit";
  const init = spawn(tsorInitPath(), [], {
    stdio: [stdio, stdio, stdio, "pipe", "pipe", ...opts.preserved, ...(opts.trapFd === undefined ? [] : [opts.trapFd])],
    detached: opts.detached ?? false,
    env: {},
  });
  const planPipe = init.stdio[4] as Writable;
  planPipe.on("error", () => {});
  planPipe.end(plan);
  return { init, sync: new SyncChannel(init.stdio[3] as Duplex) };
}
