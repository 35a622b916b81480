// tsor install / tsor uninstall: register tsor with docker and containerd, and undo exactly
// that. Each target is planned (docker.ts, containerd.ts), printed, then applied with a backup
// and recorded in the install record (state.ts), one target at a time.
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../cli.js";
import { planContainerdInstall, planContainerdUninstall } from "./containerd.js";
import { DOCKER_RUNTIME, planDockerInstall, planDockerUninstall, reloadDockerd } from "./docker.js";
import { applyChange, removeEmptyDirs, unifiedDiff, type InstallPlan } from "./files.js";
import { loadState, saveState } from "./state.js";

export interface Output {
  info(line: string): void;
  warn(line: string): void;
}

export interface InstallOptions {
  docker: boolean;
  containerd: boolean;
  dryRun: boolean;
  reload: boolean;
  force: boolean;
  dockerConfig: string;
  containerdConfig: string;
  runtimePath: string;
  runtimeArgs: string[];
  dockerPidFile: string;
  stateFile: string;
  now?: Date;
}

export interface UninstallOptions {
  docker: boolean;
  containerd: boolean;
  dryRun: boolean;
  dockerPidFile: string;
  stateFile: string;
  now?: Date;
}

const CONTAINERD_RESTART = "containerd: restart containerd to load it (tsor does not): systemctl restart containerd";

/**
 * The global flag docker and containerd must pass: their runc shim learns a container's exit by
 * reaping the pid in --pid-file, which must therefore be the sentry's (oci/cli.ts).
 */
export const REPORT_SENTRY_PID = "--report-sentry-pid";

/** The launcher containerd runs (options.BinaryName has no arguments): bin/tsor plus REPORT_SENTRY_PID. */
export const SHIM_RUNTIME = "tsor-shim-runtime";

/** daemon.json's runtimeArgs: REPORT_SENTRY_PID first, then the --runtime-arg flags. */
export function dockerRuntimeArgs(extra: string[]): string[] {
  return [REPORT_SENTRY_PID, ...extra.filter((a) => a !== REPORT_SENTRY_PID)];
}

/** containerd's BinaryName: the SHIM_RUNTIME next to the tsor at `runtimePath`. */
export function shimRuntimePath(runtimePath: string): string {
  return path.join(path.dirname(runtimePath), SHIM_RUNTIME);
}

function dockerReloadHint(pidFile: string): string {
  return `docker: reload dockerd to use it: kill -HUP $(cat ${pidFile})  (or: systemctl reload docker)`;
}

/** Prints a plan; applies it unless --dry-run. Returns the new record, if there is one. */
function carryOut<R>(plan: InstallPlan<R>, dryRun: boolean, now: Date, out: Output): R | undefined {
  const { change } = plan;
  out.info(change.before !== change.after && dryRun ? `(dry run) ${plan.summary}` : plan.summary);
  if (change.before === change.after) return undefined;
  if (dryRun) {
    out.info(unifiedDiff(change).trimEnd());
    return undefined;
  }
  const applied = applyChange(change, { backup: true, now });
  if (applied.backup) out.info(`  backup of the original: ${applied.backup}`);
  return plan.record?.(applied, now);
}

export function install(o: InstallOptions, out: Output): void {
  if (!o.docker && !o.containerd) throw new UserError("install: say what to register tsor with: --docker and/or --containerd");
  if (!path.isAbsolute(o.runtimePath)) throw new UserError(`install: --runtime-path must be an absolute path: ${o.runtimePath}`);
  if (!isExecutableFile(o.runtimePath)) out.warn(`warning: ${o.runtimePath} is not an executable file on this machine (fine if it is a path on another root, as in the DaemonSet's init container)`);
  if (o.containerd && isExecutableFile(o.runtimePath) && !isExecutableFile(shimRuntimePath(o.runtimePath))) {
    out.warn(`warning: ${shimRuntimePath(o.runtimePath)} (what containerd runs) is not an executable file next to ${o.runtimePath}`);
  }
  const now = o.now ?? new Date();
  const state = loadState(o.stateFile);
  if (o.docker) {
    const plan = planDockerInstall({ file: o.dockerConfig, entry: { path: o.runtimePath, runtimeArgs: dockerRuntimeArgs(o.runtimeArgs) }, force: o.force, record: state.docker });
    const record = carryOut(plan, o.dryRun, now, out);
    if (record) {
      state.docker = record;
      saveState(o.stateFile, state);
    }
    if (!o.dryRun) {
      if (o.reload) out.info(reloadDockerd(o.dockerPidFile));
      else if (record) out.info(dockerReloadHint(o.dockerPidFile));
      out.info(`docker: then: docker run --runtime=${DOCKER_RUNTIME} ...`);
    }
  }
  if (o.containerd) {
    const plan = planContainerdInstall({ file: o.containerdConfig, binaryName: shimRuntimePath(o.runtimePath), force: o.force, record: state.containerd });
    const record = carryOut(plan, o.dryRun, now, out);
    if (record) {
      state.containerd = record;
      saveState(o.stateFile, state);
      out.info(CONTAINERD_RESTART);
    }
  }
}

export function uninstall(o: UninstallOptions, out: Output): void {
  const all = !o.docker && !o.containerd;
  const now = o.now ?? new Date();
  const state = loadState(o.stateFile);
  for (const kind of ["docker", "containerd"] as const) {
    if (!all && !o[kind]) continue;
    const record = state[kind];
    if (!record) {
      out.info(`${kind}: ${o.stateFile} records no tsor install; nothing to undo`);
      continue;
    }
    const plan = kind === "docker" ? planDockerUninstall(state.docker!) : planContainerdUninstall(state.containerd!);
    const { change } = plan;
    const changes = change.before !== change.after;
    out.info(changes && o.dryRun ? `(dry run) ${plan.summary}` : plan.summary);
    if (o.dryRun) {
      if (changes) out.info(unifiedDiff(change).trimEnd());
      continue;
    }
    if (changes) {
      const applied = applyChange(change, { backup: plan.backup, now });
      if (applied.backup) out.info(`  backup of the file before uninstall: ${applied.backup}`);
      if (change.after === null && record.createdDir) removeEmptyDirs(path.dirname(change.file), record.createdDir);
    }
    delete state[kind];
    saveState(o.stateFile, state);
    if (changes) out.info(kind === "docker" ? dockerReloadHint(o.dockerPidFile) : CONTAINERD_RESTART);
  }
}

function isExecutableFile(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
