// What a container's cgroup manager can do, and the parts v1 and v2 share: joining processes,
// listing them, signalling them, and removing the cgroup directories.
import { constants as osConstants } from "node:os";
import { posix as path } from "node:path";
import type { CgroupMode } from "./detect.js";
import { CgroupError, isCode, type CgroupFs } from "./fs.js";
import type { CgroupResources } from "./resources.js";
import type { CgroupStats, U64 } from "./stats.js";

export type FreezerState = "frozen" | "thawed";

export interface CgroupManager {
  readonly id: string;
  readonly mode: CgroupMode;
  /** The container's cgroup path inside every hierarchy, e.g. "/tsor/<id>". */
  readonly path: string;
  /** Settings that could not be applied and were skipped (e.g. device rules on v2). */
  readonly warnings: readonly string[];
  /** mkdir -p the cgroup in every hierarchy (v2: enabling controllers on the way down). */
  create(): void;
  /** Move process `pid` into the cgroup (cgroup.procs in every hierarchy). */
  apply(pid: number): void;
  /** Write limits; without an argument, the resources given at creation. Returns new warnings. */
  set(resources?: CgroupResources): string[];
  /** Every pid in the cgroup and its descendants, sorted. */
  pids(): number[];
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  state(): FreezerState;
  /** Signal every process (SIGKILL on v2 via cgroup.kill when the kernel has it). */
  killAll(signal?: NodeJS.Signals | number): Promise<void>;
  /** SIGKILL what is left if `kill`, then remove the cgroup everywhere. Idempotent. */
  destroy(opts?: { kill?: boolean }): Promise<void>;
  /** hierarchy key -> directory, as runc's state.json cgroup_paths ("" = unified). */
  paths(): Record<string, string>;
  /** Does the cgroup directory exist in any hierarchy? */
  exists(): boolean;
  /** Usage counters and limits, as `runc events` reports them (stats.ts). */
  stats(): CgroupStats;
  /** How many times the OOM killer struck in the cgroup (0 if the kernel does not say). */
  oomKills(): U64;
}

/** How long to wait for killed processes to leave the cgroup before removing it. */
const KILL_WAIT_TRIES = 200;
const KILL_WAIT_MS = 10;
/** rmdir retries on EBUSY (exiting tasks still attached), doubling from 1 ms: ~1 s in all. */
const RMDIR_EBUSY_RETRIES = 10;

export function isSigkill(signal: NodeJS.Signals | number): boolean {
  return signal === "SIGKILL" || signal === osConstants.signals.SIGKILL;
}

/** Parse cgroup.procs text. */
export function parsePids(text: string): number[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * mkdir -p `rel` below `mount`, calling `onLevel(dir, parent)` for every level below the mount
 * point (whether it was just made or already existed).
 */
export function mkdirAll(
  fs: CgroupFs,
  mount: string,
  rel: string,
  onLevel?: (dir: string, parent: string) => void,
): void {
  let current = mount;
  for (const part of rel.split("/").filter((p) => p !== "")) {
    const parent = current;
    current = path.join(current, part);
    if (!fs.exists(current)) {
      try {
        fs.mkdir(current);
      } catch (err) {
        if (!isCode(err, "EEXIST")) throw err;
      }
    }
    onLevel?.(current, parent);
  }
}

/**
 * Remove `dir` and the cgroups below it (runc's RemovePath): a cgroup directory only holds
 * control files, so rmdir works once the children are gone and the tasks have left.
 */
export async function removeTree(fs: CgroupFs, dir: string): Promise<void> {
  try {
    fs.rmdir(dir);
    return;
  } catch (err) {
    if (isCode(err, "ENOENT")) return;
  }
  let entries;
  try {
    entries = fs.readdir(dir);
  } catch (err) {
    if (isCode(err, "ENOENT")) return;
    throw err;
  }
  for (const e of entries) if (e.isDirectory) await removeTree(fs, path.join(dir, e.name));
  let delay = 1;
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdir(dir);
      return;
    } catch (err) {
      if (isCode(err, "ENOENT")) return;
      if (!isCode(err, "EBUSY") || attempt >= RMDIR_EBUSY_RETRIES) throw err;
    }
    await fs.sleep(delay);
    delay *= 2;
  }
}

/** The shared half of the v1 and v2 managers. */
export abstract class BaseManager implements CgroupManager {
  abstract readonly mode: CgroupMode;
  readonly warnings: string[] = [];

  constructor(
    readonly id: string,
    readonly path: string,
    protected readonly fs: CgroupFs,
    protected readonly initial: CgroupResources | undefined,
  ) {}

  abstract paths(): Record<string, string>;
  abstract create(): void;
  abstract freeze(): Promise<void>;
  abstract thaw(): Promise<void>;
  abstract state(): FreezerState;
  abstract stats(): CgroupStats;
  abstract oomKills(): U64;
  protected abstract applyResources(r: CgroupResources): void;
  /** The directory whose subtree lists the container's processes. */
  protected abstract pidsDir(): string;
  /** Can this cgroup be frozen (v1 freezer mounted / v2 cgroup.freeze present)? */
  protected abstract canFreeze(): boolean;

  set(resources?: CgroupResources): string[] {
    const before = this.warnings.length;
    const r = resources ?? this.initial;
    if (r !== undefined) {
      if (r.network !== undefined) this.warn("linux.resources.network (net_cls/net_prio) is not supported: ignored");
      if (r.rdma !== undefined) this.warn("linux.resources.rdma is not supported: ignored");
      if (r.memory?.kernel !== undefined || r.memory?.kernelTCP !== undefined) {
        this.warn("linux.resources.memory.kernel/kernelTCP are deprecated and ignored (as runc)");
      }
      this.applyResources(r);
    }
    return this.warnings.slice(before);
  }

  protected warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  /** The distinct directories of this cgroup (co-mounted v1 controllers share one). */
  protected dirs(): string[] {
    return [...new Set(Object.values(this.paths()))];
  }

  apply(pid: number): void {
    for (const dir of this.dirs()) this.fs.writeFile(path.join(dir, "cgroup.procs"), String(pid));
  }

  exists(): boolean {
    return this.dirs().some((d) => this.fs.exists(d));
  }

  pids(): number[] {
    const all = new Set<number>();
    const walk = (dir: string) => {
      let text: string;
      try {
        text = this.fs.readFile(path.join(dir, "cgroup.procs"));
      } catch (err) {
        if (isCode(err, "ENOENT")) return; // removed while we looked
        throw err;
      }
      for (const p of parsePids(text)) all.add(p);
      for (const e of this.fs.readdir(dir)) if (e.isDirectory) walk(path.join(dir, e.name));
    };
    const dir = this.pidsDir();
    if (this.fs.exists(dir)) walk(dir);
    return [...all].sort((a, b) => a - b);
  }

  /**
   * runc's signalAllProcesses: freeze (so nothing forks in between), signal every pid, thaw.
   * Processes that are already gone (ESRCH) are skipped.
   */
  async killAll(signal: NodeJS.Signals | number = "SIGKILL"): Promise<void> {
    let froze = false;
    if (this.canFreeze()) {
      try {
        await this.freeze();
        froze = true;
      } catch {
        // Signal anyway: a cgroup that cannot freeze still has processes to stop.
      }
    }
    try {
      for (const pid of this.pids()) {
        try {
          this.fs.kill(pid, signal);
        } catch (err) {
          if (!isCode(err, "ESRCH")) throw err;
        }
      }
    } finally {
      if (froze) await this.thaw();
    }
  }

  async destroy(opts: { kill?: boolean } = {}): Promise<void> {
    if (opts.kill && this.exists() && this.pids().length > 0) {
      await this.killAll("SIGKILL");
      for (let i = 0; i < KILL_WAIT_TRIES && this.pids().length > 0; i++) await this.fs.sleep(KILL_WAIT_MS);
    }
    const failures: string[] = [];
    let first: unknown;
    for (const dir of this.dirs()) {
      try {
        await removeTree(this.fs, dir);
      } catch (err) {
        first ??= err;
        failures.push(err instanceof Error ? err.message.replace(/^cgroup: /, "") : String(err));
      }
    }
    if (failures.length > 0) {
      throw new CgroupError(`destroy ${this.id}: ${failures.join("; ")}`, {
        code: first instanceof CgroupError ? first.code : undefined,
        cause: first,
      });
    }
  }
}
