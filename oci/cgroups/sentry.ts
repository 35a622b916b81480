// The sentry's own cgroup. A container's sentry is a process of the runtime, not of the app, but
// what it spends (its memory, the CPU of every trapped call it answers) is the pod's doing: it
// runs in a sibling of the container's cgroup, "<parent>/tsor-sentry-<id>", so under
// Kubernetes it is charged to the pod's cgroup (and fits the RuntimeClass's overhead.podFixed),
// as gVisor's sandbox process is. A sibling, not the container's own cgroup: the container's
// freezer (`tsor pause`), pids and memory limits and its OOM kills must not reach the process
// that answers its syscalls and reports its exit.
//
// The CLI moves the sentry in right after spawning it, before Node has allocated its heap
// (memory stays charged to the cgroup a page was allocated in: cgroup v1 without
// move_charge_at_immigrate, and v2 always); a foreground `run`, which is its own sentry, moves
// itself. On the way out the sentry goes back to where the CLI was ("origin") and removes the
// sibling; `delete` removes it too, for a sentry that was killed.
import { posix as path } from "node:path";
import { detectCgroupLayout, type CgroupLayout } from "./detect.js";
import { CgroupError, RealCgroupFs, type CgroupFs } from "./fs.js";
import { createCgroupManager, resolveCgroupPath } from "./index.js";
import type { CgroupManager } from "./manager.js";

export const SENTRY_CGROUP_PREFIX = "tsor-sentry-";

/** Where a sentry runs and where it came from; recorded in the launch request and the state. */
export interface SentryCgroupInfo {
  /** The sibling's path inside every hierarchy, e.g. "/kubepods/pod<uid>/tsor-sentry-<ctr>". */
  path: string;
  /** Hierarchy key ("" = unified) -> the directory the CLI was in, to go back to. */
  origin: Record<string, string>;
}

/**
 * The sibling of container `id`'s cgroup path (resolveCgroupPath's form) that holds its sentry.
 * Named by the container id, not the cgroup's name: containers that share a cgroup (runc lets a
 * config join an existing one) still get a sentry cgroup each, and one's delete cannot kill
 * another's sentry.
 */
export function sentryCgroupPath(containerPath: string, id: string): string {
  return path.join(path.dirname(containerPath), SENTRY_CGROUP_PREFIX + id);
}

/**
 * The directories process `pid` is in, keyed as the managers key hierarchies (v1 controller or
 * "name=..." hierarchy, "" for the unified one), from /proc/PID/cgroup (cgroups(7): one
 * "id:controllers:path" line per hierarchy; v2's is "0::path").
 */
export function cgroupDirsOf(layout: CgroupLayout, procCgroup: string): Record<string, string> {
  const byController = new Map<string, string>();
  let unifiedPath: string | undefined;
  for (const line of procCgroup.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, controllers, p] = m as unknown as [string, string, string];
    if (controllers === "") unifiedPath = p;
    else for (const c of controllers.split(",")) byController.set(c, p);
  }
  const out: Record<string, string> = {};
  for (const [key, mount] of Object.entries(layout.v1)) {
    const p = byController.get(key);
    if (p !== undefined) out[key] = below(mount, p);
  }
  if (layout.unified !== undefined && unifiedPath !== undefined) out[""] = below(layout.unified, unifiedPath);
  return out;
}

/** `mount` joined with cgroup path `p` ("/" is the mount itself, without a trailing slash). */
function below(mount: string, p: string): string {
  return p === "/" || p === "" ? mount : path.join(mount, p);
}

export interface SentryCgroupOptions {
  fs?: CgroupFs;
  layout?: CgroupLayout;
}

export class SentryCgroup {
  private readonly manager: CgroupManager;

  private constructor(
    readonly containerId: string,
    readonly info: SentryCgroupInfo,
    private readonly fs: CgroupFs,
    private readonly layout: CgroupLayout,
  ) {
    this.manager = createCgroupManager({ id: `${containerId} (sentry)`, cgroupsPath: info.path, fs, layout });
  }

  /**
   * Makes the sibling of container `id`'s cgroup (its linux.cgroupsPath) and notes the caller's
   * own cgroups as the origin. Throws CgroupError if the directories cannot be made.
   */
  static prepare(id: string, cgroupsPath: string | undefined, opts: SentryCgroupOptions = {}): SentryCgroup {
    const fs = opts.fs ?? new RealCgroupFs();
    const layout = opts.layout ?? detectCgroupLayout(fs.readMountinfo());
    const origin = cgroupDirsOf(layout, fs.readFile("/proc/self/cgroup"));
    const sc = new SentryCgroup(id, { path: sentryCgroupPath(resolveCgroupPath(id, cgroupsPath), id), origin }, fs, layout);
    sc.manager.create();
    return sc;
  }

  /** The sentry cgroup described by `info` (made earlier by prepare, maybe in another process). */
  static of(id: string, info: SentryCgroupInfo, opts: SentryCgroupOptions = {}): SentryCgroup {
    const fs = opts.fs ?? new RealCgroupFs();
    return new SentryCgroup(id, info, fs, opts.layout ?? detectCgroupLayout(fs.readMountinfo()));
  }

  /** hierarchy key -> directory of the sibling. */
  paths(): Record<string, string> {
    return this.manager.paths();
  }

  /** Moves process `pid` (all its threads) into the sibling. */
  enter(pid: number): void {
    this.manager.apply(pid);
  }

  /**
   * Moves process `pid` back to the origin, hierarchy by hierarchy (a tsor-netd the sentry
   * starts, or the sentry itself on its way out). An origin that is gone (its cgroup removed
   * meanwhile) is replaced by the hierarchy's root, which always takes processes.
   */
  returnToOrigin(pid: number): void {
    const failures: string[] = [];
    for (const key of Object.keys(this.paths())) {
      const mount = key === "" ? this.layout.unified : this.layout.v1[key];
      const targets = [this.info.origin[key], mount].filter((d): d is string => d !== undefined && d !== "");
      let moved = false;
      for (const target of targets) {
        try {
          this.fs.writeFile(path.join(target, "cgroup.procs"), String(pid));
          moved = true;
          break;
        } catch {
          // next: the hierarchy's root
        }
      }
      if (!moved) failures.push(key === "" ? "unified" : key);
    }
    if (failures.length > 0) throw new CgroupError(`cannot move ${pid} out of ${this.info.path} (${failures.join(", ")})`);
  }

  /** Removes the sibling; `kill`: SIGKILL a sentry still in it first (delete of a hung one). */
  destroy(opts: { kill?: boolean } = {}): Promise<void> {
    return this.manager.destroy(opts);
  }

  exists(): boolean {
    return this.manager.exists();
  }

  /** Pids in the sibling. */
  pids(): number[] {
    return this.manager.pids();
  }
}
