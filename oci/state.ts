// The state store: one directory per container under --root, holding state.json (the public
// runtime-spec state plus what tsor itself needs to find the container again) and the sentry's
// control socket. Writes are atomic (write + rename) so a reader never sees half a file.
import * as fs from "node:fs";
import * as path from "node:path";
import type { SentryCgroupInfo } from "./cgroups/sentry.js";
import { UserError } from "./cli.js";
import type { HookName } from "./known.js";

/** Container status, runtime-spec runtime.md#state ("creating" is never shown to a user by runc). */
export type Status = "creating" | "created" | "running" | "stopped" | "paused";

/** The runtime-spec state (what `tsor state` prints). */
export interface PublicState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** What the runtime keeps beside the public state. */
export interface PrivateState {
  /** Pid of the sentry supervising the container. */
  sentryPid: number;
  /** Start time (clock ticks since boot, /proc/PID/stat field 22) of pid and sentryPid: guards against pid reuse. */
  pidStartTime?: number;
  sentryStartTime?: number;
  /** Exit status of the container process once stopped. */
  exit?: { code: number | null; signal: number | null };
  /** cgroupsPath as resolved, and the directories per controller. */
  cgroupsPath: string;
  cgroupPaths: Record<string, string>;
  /** The sentry's own cgroup, a sibling of the container's (oci/cgroups/sentry.ts); absent if none was made. */
  sentryCgroup?: SentryCgroupInfo;
  /** Namespace paths the container joined (net by path, for CRI) or made. */
  namespaces: Record<string, string>;
  /** The hooks the runtime side still has to run (poststop at delete), copied at create. */
  hooks: HookSet;
  /** A copy of config.json taken at create: exec starts from its process, as runc's does. */
  configPath: string;
  /**
   * `--platform` and `--network` as given at create (absent in states from before they were
   * recorded: exec then asks for no trap). exec traps its process only under tsor + seccomp.
   */
  platform?: string;
  network?: string;
}

/** One OCI hook (config.md#posix-platform-hooks). */
export interface HookEntry {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}
export type HookSet = Partial<Record<HookName, HookEntry[]>>;

export interface ContainerState extends PublicState {
  tsor: PrivateState;
}

/** Container ids, as runc accepts them (libcontainer's idRegex). */
const ID_PATTERN = /^[\w+\-.]+$/;
/** Longest id runc accepts is bounded by the path length; keep ours well below NAME_MAX. */
const MAX_ID_LENGTH = 1024;

export function validateId(id: string): void {
  if (!id) throw new UserError("container id cannot be empty");
  if (!ID_PATTERN.test(id) || id.length > MAX_ID_LENGTH || id === "." || id === "..") {
    throw new UserError(`invalid container id format: ${id}`);
  }
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    validateId(id);
    return path.join(this.root, id);
  }

  controlSocket(id: string): string {
    return path.join(this.dir(id), "sentry.sock");
  }

  /** Reserve the id: mkdir is atomic, so two concurrent creates cannot both win. */
  reserve(id: string): string {
    const dir = this.dir(id);
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new UserError(`container with id exists: ${id}`);
      throw e;
    }
    return dir;
  }

  exists(id: string): boolean {
    return fs.existsSync(path.join(this.dir(id), "state.json"));
  }

  /** Read a container's state; an unknown id is the user's error, named. */
  load(id: string): ContainerState {
    const file = path.join(this.dir(id), "state.json");
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new UserError(`container does not exist: ${id}`);
      throw e;
    }
    try {
      return JSON.parse(text) as ContainerState;
    } catch (e) {
      throw new UserError(`container ${id}: corrupt state file ${file}: ${(e as Error).message}`);
    }
  }

  save(state: ContainerState): void {
    const dir = this.dir(state.id);
    const tmp = path.join(dir, `.state.json.${process.pid}`);
    fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(tmp, path.join(dir, "state.json"));
  }

  /** Change some fields of a container's state (read-modify-write). */
  update(id: string, change: (s: ContainerState) => void): ContainerState {
    const s = this.load(id);
    change(s);
    this.save(s);
    return s;
  }

  remove(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Ids of every container with a state file, sorted. */
  ids(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    return names.filter((n) => ID_PATTERN.test(n) && fs.existsSync(path.join(this.root, n, "state.json"))).sort();
  }
}

/** Process start time in clock ticks since boot (proc(5), /proc/PID/stat field 22), or undefined if gone. */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields after it start past the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); field 22 is rest[19]. A zombie counts as gone.
  if (rest[0] === "Z" || rest[0] === "X") return undefined;
  return Number(rest[19]);
}

/** True if `pid` is alive and is the same process that had `startTime` (no pid reuse). */
export function processAlive(pid: number, startTime?: number): boolean {
  if (pid <= 0) return false;
  const t = processStartTime(pid);
  if (t === undefined) return false;
  return startTime === undefined || t === startTime;
}

/** The public view of a state (what `tsor state` prints, runc's field order). */
export function publicState(s: ContainerState): PublicState {
  const out: PublicState = {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: s.status === "stopped" ? 0 : s.pid,
    status: s.status,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner: s.owner,
  };
  if (s.annotations && Object.keys(s.annotations).length > 0) out.annotations = s.annotations;
  return out;
}

/**
 * A namespace path `/proc/PID/ns/NAME` whose PID is the sentry of a container in `store`, turned
 * into the path of that container's app (its first process). Under `--report-sentry-pid` the
 * pid containerd records for a pod sandbox is the sentry's, and CRI builds the app containers'
 * namespace paths from it; the sentry lives in the host's namespaces, the sandbox's app in the
 * pod's. Any other path is returned as is.
 */
export function appNamespacePath(store: StateStore, nsPath: string): string {
  const m = /^\/proc\/(\d+)\/ns\/([a-z_]+)$/.exec(nsPath);
  if (!m) return nsPath;
  const pid = Number(m[1]);
  for (const id of store.ids()) {
    let s: ContainerState;
    try {
      s = store.load(id);
    } catch {
      continue;
    }
    if (s.tsor.sentryPid === pid && s.pid > 0 && processAlive(s.tsor.sentryPid, s.tsor.sentryStartTime)) {
      return `/proc/${s.pid}/ns/${m[2]}`;
    }
  }
  return nsPath;
}
