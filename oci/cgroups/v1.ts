// cgroup v1 (and hybrid): one directory per mounted hierarchy, limits in each controller's own
// files, following runc's libcontainer/cgroups/fs writers (file names, value formats, order).
import { posix as path } from "node:path";
import type { CgroupLayout } from "./detect.js";
import { CgroupError, isCode, type CgroupFs } from "./fs.js";
import { BaseManager, mkdirAll, type FreezerState } from "./manager.js";
import {
  DEFAULT_DEVICE_RULES, deviceRuleString, pidsMaxValue,
  type CgroupResources, type ThrottleDevice,
} from "./resources.js";
import {
  StatReader, emptyStats, omitEmpty, parseCpuList, parseU64, ticksToNs,
  type BlkioEntry, type CgroupStats, type MemoryEntry, type U64,
} from "./stats.js";

/** freezer: attempts before giving up, and how often to thaw and retry (runc's numbers). */
const FREEZE_TRIES = 1000;
const FREEZE_RETHAW_EVERY = 50;
/** Thawing is immediate unless an ancestor stays frozen: wait at most 0.5 s, then return. */
const THAW_POLL_TRIES = 50;

export class V1Manager extends BaseManager {
  readonly mode: "v1" | "hybrid";
  private readonly mounts: CgroupLayout;
  private readonly dirByKey: Record<string, string> = {};

  constructor(id: string, cgPath: string, fs: CgroupFs, layout: CgroupLayout, initial?: CgroupResources) {
    super(id, cgPath, fs, initial);
    this.mode = layout.mode === "hybrid" ? "hybrid" : "v1";
    for (const [key, mount] of Object.entries(layout.v1)) this.dirByKey[key] = path.join(mount, cgPath);
    // Hybrid: also join the unified hierarchy (process tracking only), keyed "" as in runc.
    if (layout.mode === "hybrid" && layout.unified !== undefined) this.dirByKey[""] = path.join(layout.unified, cgPath);
    this.mounts = layout;
  }

  paths(): Record<string, string> {
    return { ...this.dirByKey };
  }

  create(): void {
    const cpuset = this.dirByKey.cpuset;
    for (const [key, dir] of Object.entries(this.dirByKey)) {
      if (key === "cpuset" || (cpuset !== undefined && dir === cpuset)) continue;
      const mount = key === "" ? this.mounts.unified! : this.mounts.v1[key]!;
      mkdirAll(this.fs, mount, this.path);
    }
    if (cpuset !== undefined) {
      // A new cpuset cgroup starts with empty cpus/mems and refuses tasks until they are set:
      // copy them down from the parent at every level (runc's cpusetEnsureParent).
      mkdirAll(this.fs, this.mounts.v1.cpuset!, this.path, (dir, parent) => this.cpusetCopyIfEmpty(dir, parent));
    }
  }

  private cpusetCopyIfEmpty(dir: string, parent: string): void {
    for (const name of ["cpuset.cpus", "cpuset.mems"]) {
      if (this.fs.readFile(path.join(dir, name)).trim() === "") {
        this.fs.writeFile(path.join(dir, name), this.fs.readFile(path.join(parent, name)).trim());
      }
    }
  }

  /** The directory of `controller`, or a clear error naming the setting that needs it. */
  private dir(controller: string, setting: string): string {
    const dir = this.dirByKey[controller];
    if (dir === undefined) {
      throw new CgroupError(`controller ${controller} is not mounted, needed by linux.resources.${setting}`);
    }
    return dir;
  }

  private write(dir: string, file: string, value: string | number): void {
    this.fs.writeFile(path.join(dir, file), String(value));
  }

  protected applyResources(r: CgroupResources): void {
    if (r.unified !== undefined && Object.keys(r.unified).length > 0) {
      throw new CgroupError(`linux.resources.unified needs cgroup v2, but this host is cgroup ${this.mode}`);
    }
    this.setCpuset(r);
    this.setDevices(r);
    this.setMemory(r);
    this.setCpu(r);
    if (r.pids?.limit !== undefined) this.write(this.dir("pids", "pids"), "pids.max", pidsMaxValue(r.pids.limit));
    this.setBlkio(r);
    this.setHugetlb(r);
  }

  private setCpuset(r: CgroupResources): void {
    const { cpus, mems } = r.cpu ?? {};
    if (cpus) this.write(this.dir("cpuset", "cpu.cpus"), "cpuset.cpus", cpus);
    if (mems) this.write(this.dir("cpuset", "cpu.mems"), "cpuset.mems", mems);
  }

  /**
   * Start from "deny all" (runc's emulator starts as a white-list), then the config's rules in
   * order, then runc's default allowed devices. Unlike runc we do not compute a minimal
   * transition, so an update briefly denies everything.
   */
  private setDevices(r: CgroupResources): void {
    if (r.devices === undefined) return;
    const dir = this.dir("devices", "devices");
    this.write(dir, "devices.deny", "a *:* rwm");
    for (const rule of [...r.devices, ...DEFAULT_DEVICE_RULES]) {
      this.write(dir, rule.allow ? "devices.allow" : "devices.deny", deviceRuleString(rule));
    }
  }

  private setMemory(r: CgroupResources): void {
    const m = r.memory;
    if (m === undefined) return;
    const limit = m.limit ?? 0;
    let swap = m.swap ?? 0;
    const touches = limit !== 0 || swap !== 0 || m.reservation !== undefined || m.disableOOMKiller || m.swappiness !== undefined;
    if (!touches) return;
    const dir = this.dir("memory", "memory");
    const memsw = "memory.memsw.limit_in_bytes";
    // Unlimited memory with swap unset means unlimited swap too.
    if (limit === -1 && swap === 0 && this.fs.exists(path.join(dir, memsw))) swap = -1;
    const setLimit = () => {
      if (limit !== 0) this.write(dir, "memory.limit_in_bytes", limit);
    };
    const setSwap = () => {
      if (swap !== 0) this.write(dir, memsw, swap);
    };
    // memsw must stay >= limit at every step: raise swap first when it grows past the current limit.
    let swapFirst = false;
    if (limit !== 0 && swap !== 0) {
      const cur = Number(this.fs.readFile(path.join(dir, "memory.limit_in_bytes")).trim());
      swapFirst = swap === -1 || cur < swap;
    }
    if (swapFirst) {
      setSwap();
      setLimit();
    } else {
      setLimit();
      setSwap();
    }
    if (m.reservation !== undefined && m.reservation !== 0) this.write(dir, "memory.soft_limit_in_bytes", m.reservation);
    if (m.disableOOMKiller) this.write(dir, "memory.oom_control", "1");
    if (m.swappiness !== undefined && m.swappiness !== -1) {
      if (m.swappiness < 0 || m.swappiness > 100) {
        throw new CgroupError(`invalid memory swappiness value: ${m.swappiness} (valid range is 0-100)`);
      }
      this.write(dir, "memory.swappiness", m.swappiness);
    }
  }

  /**
   * Write `file`; when the kernel answers EINVAL and `retryLater` (the value it conflicts with
   * is about to change), report true so the caller writes it again afterwards. Period/quota,
   * burst/quota and rt period/runtime constrain each other, so the order depends on old values.
   */
  private writeOrDefer(dir: string, file: string, value: number, retryLater: boolean): boolean {
    try {
      this.write(dir, file, value);
      return false;
    } catch (err) {
      if (isCode(err, "EINVAL") && retryLater) return true;
      throw err;
    }
  }

  private setCpu(r: CgroupResources): void {
    const c = r.cpu;
    if (c === undefined) return;
    const needs = c.shares || c.period || c.quota || c.burst !== undefined || c.idle !== undefined || c.realtimePeriod || c.realtimeRuntime;
    if (!needs) return;
    const dir = this.dir("cpu", "cpu");
    if (c.shares) {
      this.write(dir, "cpu.shares", c.shares);
      const got = Number(this.fs.readFile(path.join(dir, "cpu.shares")).trim());
      if (c.shares > got) throw new CgroupError(`the maximum allowed cpu-shares is ${got}`);
      if (c.shares < got) throw new CgroupError(`the minimum allowed cpu-shares is ${got}`);
    }
    const periodLater = c.period ? this.writeOrDefer(dir, "cpu.cfs_period_us", c.period, Boolean(c.quota)) : false;
    let burstLater = false;
    if (c.burst !== undefined) {
      try {
        burstLater = this.writeOrDefer(dir, "cpu.cfs_burst_us", c.burst, Boolean(c.quota));
      } catch (err) {
        if (!isCode(err, "ENOENT")) throw err; // kernels < 5.14 have no burst: skip, as runc
      }
    }
    if (c.quota) {
      this.write(dir, "cpu.cfs_quota_us", c.quota);
      if (periodLater) this.write(dir, "cpu.cfs_period_us", c.period!);
      if (burstLater) this.write(dir, "cpu.cfs_burst_us", c.burst!);
    }
    if (c.idle !== undefined) this.write(dir, "cpu.idle", c.idle);
    const rtPeriodLater = c.realtimePeriod
      ? this.writeOrDefer(dir, "cpu.rt_period_us", c.realtimePeriod, Boolean(c.realtimeRuntime))
      : false;
    if (c.realtimeRuntime) {
      this.write(dir, "cpu.rt_runtime_us", c.realtimeRuntime);
      if (rtPeriodLater) this.write(dir, "cpu.rt_period_us", c.realtimePeriod!);
    }
  }

  private setBlkio(r: CgroupResources): void {
    const b = r.blockIO;
    if (b === undefined) return;
    const throttles: [string, ThrottleDevice[] | undefined][] = [
      ["blkio.throttle.read_bps_device", b.throttleReadBpsDevice],
      ["blkio.throttle.write_bps_device", b.throttleWriteBpsDevice],
      ["blkio.throttle.read_iops_device", b.throttleReadIOPSDevice],
      ["blkio.throttle.write_iops_device", b.throttleWriteIOPSDevice],
    ];
    const any = b.weight || b.leafWeight || b.weightDevice?.length || throttles.some(([, l]) => l?.length);
    if (!any) return;
    const dir = this.dir("blkio", "blockIO");
    // CFQ's files, or BFQ's when CFQ is gone (kernels >= 5.0).
    const bfq = !this.fs.exists(path.join(dir, "blkio.weight"));
    const weightFile = bfq ? "blkio.bfq.weight" : "blkio.weight";
    const weightDeviceFile = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
    if (b.weight) this.write(dir, weightFile, b.weight);
    if (b.leafWeight) this.write(dir, "blkio.leaf_weight", b.leafWeight);
    for (const wd of b.weightDevice ?? []) {
      if (wd.weight) this.write(dir, weightDeviceFile, `${wd.major}:${wd.minor} ${wd.weight}`);
      if (wd.leafWeight) this.write(dir, "blkio.leaf_weight_device", `${wd.major}:${wd.minor} ${wd.leafWeight}`);
    }
    for (const [file, list] of throttles) {
      for (const td of list ?? []) this.write(dir, file, `${td.major}:${td.minor} ${td.rate}`);
    }
  }

  private setHugetlb(r: CgroupResources): void {
    if (!r.hugepageLimits?.length) return;
    const dir = this.dir("hugetlb", "hugepageLimits");
    let rsvd = true;
    for (const h of r.hugepageLimits) {
      this.write(dir, `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit);
      if (!rsvd) continue;
      try {
        this.write(dir, `hugetlb.${h.pageSize}.rsvd.limit_in_bytes`, h.limit); // kernels >= 5.7
      } catch (err) {
        if (!isCode(err, "ENOENT")) throw err;
        rsvd = false;
      }
    }
  }

  // ---- stats (runc's libcontainer/cgroups/fs GetStats, one reader per controller) ----

  stats(): CgroupStats {
    const out = emptyStats();
    const r = new StatReader(this.fs);
    const at = (key: string) => (this.dirByKey[key] !== undefined && this.fs.exists(this.dirByKey[key]) ? this.dirByKey[key] : undefined);
    const cpuacct = at("cpuacct");
    if (cpuacct !== undefined) {
      const stat = r.keyed(cpuacct, "cpuacct.stat") ?? {};
      out.cpu.usage = omitEmpty({
        total: r.u64(cpuacct, "cpuacct.usage"),
        percpu: r.list(cpuacct, "cpuacct.usage_percpu"),
        percpu_kernel: r.list(cpuacct, "cpuacct.usage_percpu_sys"),
        percpu_user: r.list(cpuacct, "cpuacct.usage_percpu_user"),
        kernel: ticksToNs(stat.system),
        user: ticksToNs(stat.user),
      });
    }
    const cpu = at("cpu");
    if (cpu !== undefined) {
      const stat = r.keyed(cpu, "cpu.stat") ?? {};
      out.cpu.throttling = omitEmpty({
        periods: stat.nr_periods,
        throttledPeriods: stat.nr_throttled,
        throttledTime: stat.throttled_time,
      });
    }
    const cpuset = at("cpuset");
    if (cpuset !== undefined) {
      out.cpuset = omitEmpty({
        cpus: parseCpuList(r.text(cpuset, "cpuset.cpus") ?? ""),
        mems: parseCpuList(r.text(cpuset, "cpuset.mems") ?? ""),
      });
    }
    const memory = at("memory");
    if (memory !== undefined) {
      const entry = (prefix: string): MemoryEntry | undefined => {
        const usage = r.u64(memory, `${prefix}usage_in_bytes`);
        if (usage === undefined) return undefined;
        return omitEmpty({
          limit: r.u64(memory, `${prefix}limit_in_bytes`) ?? 0,
          usage,
          max: r.u64(memory, `${prefix}max_usage_in_bytes`),
          failcnt: r.u64(memory, `${prefix}failcnt`) ?? 0,
        });
      };
      const raw = r.keyed(memory, "memory.stat");
      out.memory = omitEmpty({
        cache: raw?.cache,
        usage: entry("memory."),
        swap: entry("memory.memsw."),
        kernel: entry("memory.kmem."),
        kernelTCP: entry("memory.kmem.tcp."),
        raw,
      });
    }
    const pids = at("pids");
    if (pids !== undefined) {
      // "max" is no limit: runc reports 0, which it leaves out.
      const max = r.text(pids, "pids.max")?.trim();
      out.pids = omitEmpty({ current: r.u64(pids, "pids.current"), limit: max === "max" ? undefined : r.u64(pids, "pids.max") });
    }
    const blkio = at("blkio");
    if (blkio !== undefined) {
      // CFQ's recursive counters, or the throttle layer's when CFQ is gone (as runc).
      const read = (cfq: string, throttle: string) => {
        const list = blkioEntries(r.text(blkio, cfq));
        return list.length > 0 ? list : blkioEntries(r.text(blkio, throttle));
      };
      out.blkio = omitEmpty({
        ioServiceBytesRecursive: read("blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"),
        ioServicedRecursive: read("blkio.io_serviced_recursive", "blkio.throttle.io_serviced"),
      });
    }
    const hugetlb = at("hugetlb");
    if (hugetlb !== undefined) {
      for (const e of this.fs.readdir(hugetlb)) {
        const m = /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(e.name);
        if (!m) continue;
        out.hugetlb[m[1]!] = omitEmpty({
          usage: r.u64(hugetlb, e.name),
          max: r.u64(hugetlb, `hugetlb.${m[1]}.max_usage_in_bytes`),
          failcnt: r.u64(hugetlb, `hugetlb.${m[1]}.failcnt`) ?? 0,
        });
      }
    }
    return out;
  }

  oomKills(): U64 {
    const memory = this.dirByKey.memory;
    if (memory === undefined || !this.fs.exists(memory)) return 0;
    return new StatReader(this.fs).keyed(memory, "memory.oom_control")?.oom_kill ?? 0;
  }

  protected pidsDir(): string {
    // Every process the container has is in each hierarchy it joined; prefer ones it always has.
    for (const key of ["freezer", "pids", "memory", "devices", "cpu", ""]) {
      if (this.dirByKey[key] !== undefined) return this.dirByKey[key];
    }
    const first = Object.values(this.dirByKey)[0];
    if (first === undefined) throw new CgroupError("no cgroup hierarchy to list processes from");
    return first;
  }

  protected canFreeze(): boolean {
    return this.dirByKey.freezer !== undefined && this.fs.exists(this.dirByKey.freezer);
  }

  private freezerState(): string {
    return this.fs.readFile(path.join(this.dir("freezer", "(pause)"), "freezer.state")).trim();
  }

  /** FROZEN, re-asserting and now and then thawing to unstick a FREEZING cgroup (as runc). */
  async freeze(): Promise<void> {
    const dir = this.dir("freezer", "(pause)");
    const file = path.join(dir, "freezer.state");
    try {
      for (let i = 0; i < FREEZE_TRIES; i++) {
        if (i % FREEZE_RETHAW_EVERY === FREEZE_RETHAW_EVERY - 1) {
          this.fs.writeFile(file, "THAWED");
          await this.fs.sleep(10);
        }
        this.fs.writeFile(file, "FROZEN");
        const state = this.freezerState();
        if (state === "FROZEN") return;
        if (state !== "FREEZING") throw new CgroupError(`unexpected state ${state} in ${file} while freezing`, { path: file });
        await this.fs.sleep(1);
      }
      throw new CgroupError(`unable to freeze ${dir}: still FREEZING`, { path: file });
    } catch (err) {
      try {
        this.fs.writeFile(file, "THAWED");
      } catch {
        // keep the original error
      }
      throw err;
    }
  }

  async thaw(): Promise<void> {
    const file = path.join(this.dir("freezer", "(resume)"), "freezer.state");
    this.fs.writeFile(file, "THAWED");
    for (let i = 0; i < THAW_POLL_TRIES && this.freezerState() !== "THAWED"; i++) await this.fs.sleep(10);
  }

  /** FREEZING counts as thawed: only a settled FROZEN is a paused container. */
  state(): FreezerState {
    const dir = this.dirByKey.freezer;
    if (dir === undefined || !this.fs.exists(dir)) return "thawed";
    if (this.freezerState() !== "FROZEN") return "thawed";
    // FROZEN because a parent is frozen does not make this container paused.
    const self = path.join(dir, "freezer.self_freezing");
    if (this.fs.exists(self) && this.fs.readFile(self).trim() === "0") return "thawed";
    return "frozen";
  }
}

/** blkio's "MAJ:MIN Op value" lines; the closing "Total N" line has no device and is skipped. */
function blkioEntries(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const [dev, op, value] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? "");
    if (!m || op === undefined || value === undefined) continue;
    out.push(omitEmpty({ major: Number(m[1]), minor: Number(m[2]), op, value: parseU64(value) }));
  }
  return out;
}
