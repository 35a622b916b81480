// cgroup v2 (unified): one directory, controllers enabled top-down through
// cgroup.subtree_control, v1-style spec values converted as runc's fs2 and crun do.
import { posix as path } from "node:path";
import { CgroupError, isCode, type CgroupFs } from "./fs.js";
import { BaseManager, isSigkill, mkdirAll, type FreezerState } from "./manager.js";
import {
  blkioWeightToIoWeight, pidsMaxValue, sharesToWeight, swapToV2,
  type CgroupResources, type ThrottleDevice,
} from "./resources.js";
import {
  MAX_U64, StatReader, addU64, emptyStats, mulU64, omitEmpty, parseCpuList, parseU64,
  type BlkioEntry, type CgroupStats, type MemoryEntry, type U64,
} from "./stats.js";

/** Polling cgroup.events for "frozen 1": 1000 x 10 ms, runc's bound. */
const FREEZE_POLL_TRIES = 1000;
const FREEZE_POLL_MS = 10;
/** Thawing is immediate unless an ancestor stays frozen: wait at most 0.5 s, then return. */
const THAW_POLL_TRIES = 50;

/** numToStr in runc's fs2: 0 = leave unset, -1 = "max". */
function limitStr(v: number | undefined): string {
  if (v === undefined || v === 0) return "";
  return v === -1 ? "max" : String(v);
}

export class V2Manager extends BaseManager {
  readonly mode = "v2" as const;
  private readonly dir: string;

  constructor(id: string, cgPath: string, fs: CgroupFs, private readonly mount: string, initial?: CgroupResources) {
    super(id, cgPath, fs, initial);
    this.dir = path.join(mount, cgPath);
  }

  paths(): Record<string, string> {
    return { "": this.dir };
  }

  private controllersOf(dir: string): string[] {
    try {
      return this.fs.readFile(path.join(dir, "cgroup.controllers")).trim().split(/\s+/).filter(Boolean);
    } catch (err) {
      if (isCode(err, "ENOENT")) return [];
      throw err;
    }
  }

  /**
   * mkdir -p, enabling every controller the root offers in each ancestor's subtree_control (as
   * runc's CreateCgroupPath), one by one if the batch is refused, so that later `set`/update
   * calls find their files. A controller that still is not enabled surfaces in `set` as a
   * "controller ... not available" error naming the file.
   */
  create(): void {
    const ctrs = this.controllersOf(this.mount);
    const enable = (dir: string) => {
      if (ctrs.length === 0) return;
      const file = path.join(dir, "cgroup.subtree_control");
      try {
        this.fs.writeFile(file, ctrs.map((c) => `+${c}`).join(" "));
      } catch {
        for (const c of ctrs) {
          try {
            this.fs.writeFile(file, `+${c}`);
          } catch {
            // not available here (or threaded): the leaf will lack it
          }
        }
      }
    };
    if (this.dir === this.mount) return;
    enable(this.mount);
    mkdirAll(this.fs, this.mount, this.path, (dir) => {
      if (dir !== this.dir) enable(dir);
    });
  }

  /** Write a control file; a missing one means its controller is not enabled here. */
  private write(file: string, value: string | number): void {
    const full = path.join(this.dir, file);
    try {
      this.fs.writeFile(full, String(value));
    } catch (err) {
      const controller = file.split(".")[0]!;
      const enabled = this.fs.exists(this.dir) ? this.controllersOf(this.dir) : undefined;
      if (isCode(err, "ENOENT") && enabled !== undefined && controller !== "cgroup" && !enabled.includes(controller)) {
        throw new CgroupError(
          `controller ${controller} is not available in ${this.dir} (cgroup.controllers: "${enabled.join(" ")}"): write ${full}: ENOENT`,
          { code: "ENOENT", path: full, cause: err },
        );
      }
      throw err;
    }
  }

  protected applyResources(r: CgroupResources): void {
    if (r.pids?.limit !== undefined) this.write("pids.max", pidsMaxValue(r.pids.limit));
    this.setMemory(r);
    this.setIo(r);
    this.setCpu(r);
    if (r.devices !== undefined && r.devices.length > 0) {
      this.warn("linux.resources.devices: cgroup v2 device control needs an eBPF program, not supported: device rules are not enforced");
    }
    if (r.cpu?.cpus) this.write("cpuset.cpus", r.cpu.cpus);
    if (r.cpu?.mems) this.write("cpuset.mems", r.cpu.mems);
    this.setHugetlb(r);
    this.setUnified(r.unified);
  }

  private setMemory(r: CgroupResources): void {
    const m = r.memory;
    if (m === undefined) return;
    if (m.swappiness !== undefined && m.swappiness !== -1) this.warn("linux.resources.memory.swappiness has no cgroup v2 equivalent: ignored");
    if (m.disableOOMKiller) this.warn("linux.resources.memory.disableOOMKiller has no cgroup v2 equivalent: ignored");
    const limit = m.limit ?? 0;
    const swapSpec = m.swap ?? 0;
    if (limit === 0 && swapSpec === 0 && !m.reservation) return;
    if (m.checkBeforeUpdate) this.checkMemoryUsage(limit, swapSpec);
    let swap: number;
    try {
      swap = swapToV2(swapSpec, limit);
    } catch (err) {
      throw new CgroupError(`linux.resources.memory: ${(err as Error).message}`);
    }
    // swap == limit converts to 0: "no swap", which must be written, not skipped.
    const swapStr = swap === 0 && swapSpec > 0 ? "0" : limitStr(swap);
    if (swapStr !== "") {
      try {
        this.write("memory.swap.max", swapStr);
      } catch (err) {
        // No swap accounting: only "unlimited" or "none" can be honoured silently.
        if (!(isCode(err, "ENOENT") && (swapStr === "max" || swapStr === "0"))) throw err;
      }
    }
    if (limitStr(limit) !== "") this.write("memory.max", limitStr(limit));
    if (limitStr(m.reservation) !== "") this.write("memory.low", limitStr(m.reservation));
  }

  /**
   * memory.checkBeforeUpdate (runc's fs2 checkMemoryUsage): refuse a limit below what the cgroup
   * already uses, which v2 would otherwise meet by reclaiming or OOM-killing.
   */
  private checkMemoryUsage(limit: number, swap: number): void {
    const read = (file: string) => {
      const p = path.join(this.dir, file);
      return this.fs.exists(p) ? Number(this.fs.readFile(p).trim()) : 0;
    };
    const usage = read("memory.current");
    if (limit > 0 && usage > limit) {
      throw new CgroupError(`linux.resources.memory.limit: rejecting memory limit ${limit} below current usage ${usage}`);
    }
    const both = usage + read("memory.swap.current");
    if (swap > 0 && both > swap) {
      throw new CgroupError(`linux.resources.memory.swap: rejecting memory+swap limit ${swap} below current usage ${both}`);
    }
  }

  private setIo(r: CgroupResources): void {
    const b = r.blockIO;
    if (b === undefined) return;
    if (b.leafWeight) this.warn("linux.resources.blockIO.leafWeight has no cgroup v2 equivalent: ignored");
    const bfqFile = path.join(this.dir, "io.bfq.weight");
    const bfq = Boolean(b.weight || b.weightDevice?.length) && this.fs.exists(bfqFile);
    // BFQ with per-device weights reads "default N" (kernels >= 5.4); older ones just "N".
    const bfqPerDevice = bfq && !/^\d+$/.test(this.fs.readFile(bfqFile).trim());
    if (b.weight) {
      // BFQ takes the v1 range (1..1000) as is; io.weight takes the converted value.
      if (bfq) this.write("io.bfq.weight", b.weight);
      else this.write("io.weight", blkioWeightToIoWeight(b.weight));
    }
    const devices = (b.weightDevice ?? []).filter((wd) => wd.weight);
    if (devices.length > 0) {
      if (bfqPerDevice) {
        for (const wd of devices) this.write("io.bfq.weight", `${wd.major}:${wd.minor} ${wd.weight}`);
      } else {
        this.warn("linux.resources.blockIO.weightDevice needs the BFQ io scheduler on cgroup v2: ignored");
      }
    }
    const throttles: [string, ThrottleDevice[] | undefined][] = [
      ["rbps", b.throttleReadBpsDevice],
      ["wbps", b.throttleWriteBpsDevice],
      ["riops", b.throttleReadIOPSDevice],
      ["wiops", b.throttleWriteIOPSDevice],
    ];
    for (const [key, list] of throttles) {
      for (const td of list ?? []) this.write("io.max", `${td.major}:${td.minor} ${key}=${td.rate}`);
    }
  }

  private setCpu(r: CgroupResources): void {
    const c = r.cpu;
    if (c === undefined) return;
    if (c.realtimePeriod || c.realtimeRuntime) {
      this.warn("linux.resources.cpu.realtimePeriod/realtimeRuntime have no cgroup v2 equivalent: ignored");
    }
    if (c.idle !== undefined) this.write("cpu.idle", c.idle);
    if (c.shares) this.write("cpu.weight", sharesToWeight(c.shares));
    const quota = c.quota ?? 0;
    const period = c.period ?? 0;
    // burst must not exceed the quota: if the kernel refuses it, retry after cpu.max changes.
    let burstLater = false;
    if (c.burst !== undefined) {
      try {
        this.write("cpu.max.burst", c.burst);
      } catch (err) {
        if (!isCode(err, "EINVAL") || quota === 0) throw err;
        burstLater = true;
      }
    }
    if (quota !== 0 || period !== 0) {
      // cpu.max holds both: when only one is given (`update --cpu-quota`), keep the other's
      // current value, as runc does by merging the update into its saved config.
      const [curQuota = "max", curPeriod = "100000"] = (this.fs.exists(path.join(this.dir, "cpu.max")) && (quota === 0 || period === 0)
        ? this.fs.readFile(path.join(this.dir, "cpu.max")).trim().split(/\s+/)
        : []);
      this.write("cpu.max", `${quota > 0 ? quota : quota < 0 ? "max" : curQuota} ${period !== 0 ? period : curPeriod}`);
      if (burstLater) this.write("cpu.max.burst", c.burst!);
    }
  }

  private setHugetlb(r: CgroupResources): void {
    let rsvd = true;
    for (const h of r.hugepageLimits ?? []) {
      this.write(`hugetlb.${h.pageSize}.max`, h.limit);
      if (!rsvd) continue;
      try {
        this.write(`hugetlb.${h.pageSize}.rsvd.max`, h.limit);
      } catch (err) {
        if (!isCode(err, "ENOENT")) throw err;
        rsvd = false;
      }
    }
  }

  /** Raw v2 files, written last so they override the converted values (as runc). */
  private setUnified(unified: Record<string, string> | undefined): void {
    for (const [key, value] of Object.entries(unified ?? {})) {
      if (key.includes("/") || key === "" || key === "." || key === "..") {
        throw new CgroupError(`linux.resources.unified: key "${key}" must be a file name (no slashes)`);
      }
      if (!key.includes(".")) {
        throw new CgroupError(`linux.resources.unified: key "${key}" must be in the form CONTROLLER.PARAMETER`);
      }
      for (const line of value.split("\n")) if (line !== "") this.write(key, line);
    }
  }

  // ---- stats (runc's libcontainer/cgroups/fs2 Stats, converted to v1's meaning as runc does) ----

  stats(): CgroupStats {
    const out = emptyStats();
    const r = new StatReader(this.fs);
    const dir = this.dir;
    if (!this.fs.exists(dir)) return out;
    const us = (v: U64 | undefined) => (v === undefined ? undefined : mulU64(v, 1000));
    const cpu = r.keyed(dir, "cpu.stat") ?? {};
    out.cpu.usage = omitEmpty({ total: us(cpu.usage_usec), kernel: us(cpu.system_usec) ?? 0, user: us(cpu.user_usec) ?? 0 });
    out.cpu.throttling = omitEmpty({
      periods: cpu.nr_periods,
      throttledPeriods: cpu.nr_throttled,
      throttledTime: us(cpu.throttled_usec),
    });
    const cpus = r.text(dir, "cpuset.cpus.effective");
    if (cpus !== undefined) {
      out.cpuset = omitEmpty({ cpus: parseCpuList(cpus), mems: parseCpuList(r.text(dir, "cpuset.mems.effective") ?? "") });
    }
    const current = r.u64(dir, "memory.current");
    if (current !== undefined) {
      const events = r.keyed(dir, "memory.events") ?? {};
      const usage: MemoryEntry = omitEmpty({
        limit: r.u64(dir, "memory.max") ?? MAX_U64,
        usage: current,
        max: r.u64(dir, "memory.peak"),
        failcnt: events.max ?? 0,
      });
      const raw = r.keyed(dir, "memory.stat");
      out.memory = omitEmpty({ cache: raw?.file, usage, raw });
      const swapCur = r.u64(dir, "memory.swap.current");
      if (swapCur !== undefined) {
        // v1 reports memory+swap as "swap"; runc adds the memory values in for compatibility.
        const swapMax = r.u64(dir, "memory.swap.max") ?? MAX_U64;
        out.memory.swap = omitEmpty({
          limit: swapMax === MAX_U64 ? MAX_U64 : addU64(swapMax, usage.limit),
          usage: addU64(swapCur, current),
          failcnt: (r.keyed(dir, "memory.swap.events") ?? {}).max ?? 0,
        });
      }
    }
    const pidsMax = r.text(dir, "pids.max")?.trim();
    out.pids = omitEmpty({ current: r.u64(dir, "pids.current"), limit: pidsMax === "max" || pidsMax === undefined ? undefined : parseU64(pidsMax) });
    const io = r.text(dir, "io.stat");
    if (io !== undefined) {
      const bytes: BlkioEntry[] = [];
      const ios: BlkioEntry[] = [];
      for (const line of io.split("\n")) {
        const [dev, ...kv] = line.trim().split(/\s+/);
        const m = /^(\d+):(\d+)$/.exec(dev ?? "");
        if (!m) continue;
        const entry = (op: string, value: string) => omitEmpty({ major: Number(m[1]), minor: Number(m[2]), op, value: parseU64(value) });
        for (const pair of kv) {
          const [k, v = ""] = pair.split("=");
          if (k === "rbytes") bytes.push(entry("Read", v));
          else if (k === "wbytes") bytes.push(entry("Write", v));
          else if (k === "rios") ios.push(entry("Read", v));
          else if (k === "wios") ios.push(entry("Write", v));
        }
      }
      out.blkio = omitEmpty({ ioServiceBytesRecursive: bytes, ioServicedRecursive: ios });
    }
    for (const e of this.fs.readdir(dir)) {
      const m = /^hugetlb\.([^.]+)\.current$/.exec(e.name);
      if (!m) continue;
      out.hugetlb[m[1]!] = omitEmpty({
        usage: r.u64(dir, e.name),
        failcnt: (r.keyed(dir, `hugetlb.${m[1]}.events`) ?? {}).max ?? 0,
      });
    }
    return out;
  }

  oomKills(): U64 {
    if (!this.fs.exists(this.dir)) return 0;
    return new StatReader(this.fs).keyed(this.dir, "memory.events")?.oom_kill ?? 0;
  }

  protected pidsDir(): string {
    return this.dir;
  }

  protected canFreeze(): boolean {
    return this.fs.exists(path.join(this.dir, "cgroup.freeze"));
  }

  private eventsFrozen(): boolean {
    const events = this.fs.readFile(path.join(this.dir, "cgroup.events"));
    return /^frozen 1$/m.test(events);
  }

  async freeze(): Promise<void> {
    const file = path.join(this.dir, "cgroup.freeze");
    if (!this.fs.exists(file)) {
      throw new CgroupError(`freezer not supported: ${file} is missing (kernel < 5.2?)`, { code: "ENOENT", path: file });
    }
    this.fs.writeFile(file, "1");
    for (let i = 0; i < FREEZE_POLL_TRIES; i++) {
      if (this.eventsFrozen()) return;
      await this.fs.sleep(FREEZE_POLL_MS);
    }
    try {
      this.fs.writeFile(file, "0");
    } catch {
      // keep the timeout as the error
    }
    throw new CgroupError(`timeout waiting for ${this.dir} to freeze (cgroup.events never said "frozen 1")`, { path: file });
  }

  async thaw(): Promise<void> {
    const file = path.join(this.dir, "cgroup.freeze");
    if (!this.fs.exists(file)) return;
    this.fs.writeFile(file, "0");
    for (let i = 0; i < THAW_POLL_TRIES && this.eventsFrozen(); i++) await this.fs.sleep(FREEZE_POLL_MS);
  }

  state(): FreezerState {
    const file = path.join(this.dir, "cgroup.freeze");
    if (!this.fs.exists(file)) return "thawed";
    return this.fs.readFile(file).trim() === "1" && this.eventsFrozen() ? "frozen" : "thawed";
  }

  /** SIGKILL through cgroup.kill (kernel >= 5.14): atomic, no fork race; else signal each pid. */
  override async killAll(signal: NodeJS.Signals | number = "SIGKILL"): Promise<void> {
    const killFile = path.join(this.dir, "cgroup.kill");
    if (isSigkill(signal) && this.fs.exists(killFile)) {
      this.fs.writeFile(killFile, "1");
      return;
    }
    await super.killAll(signal);
  }
}
