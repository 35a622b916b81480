// An in-memory cgroupfs for unit tests: enough kernel behaviour that the managers' logic is
// exercised for real (control files appear per controller, v2 controllers only below an
// ancestor's subtree_control, cpuset refuses tasks until cpus/mems are set, rmdir is EBUSY with
// tasks or children, freezing can take a few polls, SIGKILL and cgroup.kill remove tasks).
// Every write and signal is logged so tests can assert exact files and values.
import { posix as path } from "node:path";
import { CgroupError, type CgroupDirent, type CgroupFs } from "./fs.js";

interface Hierarchy {
  mount: string;
  v2: boolean;
  /** v1: the controllers of this mount (or ["name=systemd"]); v2: those the root offers. */
  controllers: string[];
}

/** Control files a new cgroup gets, per controller, with the kernel's defaults. */
const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.limit_in_bytes": "9223372036854771712", "memory.soft_limit_in_bytes": "9223372036854771712",
    "memory.memsw.limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n", "memory.usage_in_bytes": "0",
  },
  cpu: {
    "cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
    "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
  },
  cpuacct: { "cpuacct.usage": "0" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  pids: { "pids.max": "max", "pids.current": "0" },
  blkio: {
    "blkio.weight": "500", "blkio.weight_device": "", "blkio.leaf_weight": "500", "blkio.leaf_weight_device": "",
    "blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
    "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
  },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n" },
  freezer: { "freezer.state": "THAWED\n", "freezer.self_freezing": "0\n", "freezer.parent_freezing": "0\n" },
  hugetlb: { "hugetlb.2MB.limit_in_bytes": "9223372036854771712", "hugetlb.1GB.limit_in_bytes": "9223372036854771712" },
};

const V2_FILES: Record<string, Record<string, string>> = {
  memory: { "memory.max": "max", "memory.low": "0", "memory.high": "max", "memory.swap.max": "max" },
  cpu: { "cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0" },
  io: { "io.weight": "default 100", "io.max": "" },
  pids: { "pids.max": "max", "pids.current": "0" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  hugetlb: { "hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.1GB.max": "max", "hugetlb.1GB.rsvd.max": "max" },
};

const V2_CORE = {
  "cgroup.procs": "", "cgroup.controllers": "", "cgroup.subtree_control": "", "cgroup.type": "domain",
  "cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": "",
};

/** The v1 hierarchies of the build machines (separate cpu and cpuacct mounts) */
export const FAKE_V1_MOUNTS = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"];
export const FAKE_V2_CONTROLLERS = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"];

function fail(op: string, p: string, code: string): never {
  throw CgroupError.fromOs(op, p, code);
}

export class FakeCgroupFs implements CgroupFs {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>();
  /** Every successful or failed write, in order. */
  readonly writes: { path: string; data: string }[] = [];
  readonly signals: { pid: number; signal: NodeJS.Signals | number }[] = [];
  /** Processes that exist (kill of anything else is ESRCH). */
  readonly live = new Set<number>();
  /** Inject failures: write/rmdir/mkdir of this path throws this errno (until deleted). */
  readonly failWrites = new Map<string, string>();
  /** Transient EBUSY: rmdir of this path fails this many more times. */
  readonly busyRmdir = new Map<string, number>();
  /** How many reads of freezer.state / cgroup.events still show the old state after a freeze. */
  freezeDelay = 0;
  mountinfo = "";
  sleeps = 0;
  private readonly hierarchies: Hierarchy[] = [];
  /** file -> [reads left, final text] for states that settle over time. */
  private readonly settling = new Map<string, [number, string]>();

  /** A v1 host like the build machines; `opts.unified` adds /sys/fs/cgroup/unified (hybrid). */
  static v1(opts: { mounts?: string[]; unified?: boolean; rootCpus?: string } = {}): FakeCgroupFs {
    const f = new FakeCgroupFs();
    const lines = ["31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755"];
    f.dirs.add("/sys/fs/cgroup");
    let n = 32;
    for (const m of opts.mounts ?? FAKE_V1_MOUNTS) {
      const controllers = m.split(",");
      const mount = `/sys/fs/cgroup/${m.replace(/^name=/, "")}`;
      lines.push(`${n} 31 0:${n - 3} / ${mount} rw,nosuid,nodev,noexec,relatime shared:${n} - cgroup cgroup rw,${m}`);
      n++;
      f.addHierarchy({ mount, v2: false, controllers });
    }
    if (opts.unified) {
      lines.push(`${n} 31 0:${n - 3} / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:${n} - cgroup2 cgroup2 rw,nsdelegate`);
      f.addHierarchy({ mount: "/sys/fs/cgroup/unified", v2: true, controllers: [] });
    }
    const cpusetRoot = f.hierarchies.find((h) => h.controllers.includes("cpuset"));
    if (cpusetRoot) {
      f.files.set(`${cpusetRoot.mount}/cpuset.cpus`, `${opts.rootCpus ?? "0-3"}\n`);
      f.files.set(`${cpusetRoot.mount}/cpuset.mems`, "0\n");
    }
    f.mountinfo = lines.join("\n") + "\n";
    return f;
  }

  /** A pure v2 host: cgroup2 on /sys/fs/cgroup offering `controllers`. */
  static v2(opts: { controllers?: string[]; noKill?: boolean; noFreeze?: boolean } = {}): FakeCgroupFs {
    const f = new FakeCgroupFs();
    f.addHierarchy({ mount: "/sys/fs/cgroup", v2: true, controllers: opts.controllers ?? FAKE_V2_CONTROLLERS });
    f.mountinfo = "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
    if (opts.noKill) f.dropFile = "cgroup.kill";
    if (opts.noFreeze) f.dropFile = "cgroup.freeze";
    return f;
  }

  /** A control file new v2 cgroups lack (simulating an older kernel). */
  private dropFile: string | undefined;

  private addHierarchy(h: Hierarchy): void {
    this.hierarchies.push(h);
    this.mkdirs(h.mount);
    if (h.v2) {
      this.files.set(`${h.mount}/cgroup.procs`, "");
      this.files.set(`${h.mount}/cgroup.controllers`, h.controllers.join(" "));
      this.files.set(`${h.mount}/cgroup.subtree_control`, "");
    } else {
      this.populateV1(h.mount, h);
    }
  }

  private mkdirs(p: string): void {
    for (let cur = p; cur !== "/" && !this.dirs.has(cur); cur = path.dirname(cur)) this.dirs.add(cur);
  }

  private hierarchyOf(p: string): Hierarchy | undefined {
    let best: Hierarchy | undefined;
    for (const h of this.hierarchies) {
      if ((p === h.mount || p.startsWith(h.mount + "/")) && (!best || h.mount.length > best.mount.length)) best = h;
    }
    return best;
  }

  private populateV1(dir: string, h: Hierarchy): void {
    this.files.set(`${dir}/cgroup.procs`, "");
    this.files.set(`${dir}/tasks`, "");
    this.files.set(`${dir}/notify_on_release`, "0");
    for (const c of h.controllers) for (const [k, v] of Object.entries(V1_FILES[c] ?? {})) this.files.set(`${dir}/${k}`, v);
  }

  private populateV2(dir: string, controllers: string[]): void {
    for (const [k, v] of Object.entries(V2_CORE)) if (k !== this.dropFile) this.files.set(`${dir}/${k}`, v);
    this.files.set(`${dir}/cgroup.controllers`, controllers.join(" "));
    for (const c of controllers) for (const [k, v] of Object.entries(V2_FILES[c] ?? {})) this.files.set(`${dir}/${k}`, v);
  }

  private words(p: string): string[] {
    return (this.files.get(p) ?? "").trim().split(/\s+/).filter(Boolean);
  }

  private children(dir: string): string[] {
    const out = new Set<string>();
    for (const p of [...this.dirs, ...this.files.keys()]) if (path.dirname(p) === dir && p !== dir) out.add(p);
    return [...out];
  }

  /** Test helper: put a process into a cgroup directory without going through apply(). */
  addProcess(dir: string, pid: number): void {
    this.live.add(pid);
    this.attach(dir, pid);
  }

  private attach(dir: string, pid: number): void {
    const h = this.hierarchyOf(dir);
    for (const [p, text] of this.files) {
      if (path.basename(p) === "cgroup.procs" && this.hierarchyOf(p) === h) {
        this.files.set(p, text.split("\n").filter((l) => l !== "" && l !== String(pid)).map((l) => l + "\n").join(""));
      }
    }
    this.files.set(`${dir}/cgroup.procs`, (this.files.get(`${dir}/cgroup.procs`) ?? "") + `${pid}\n`);
  }

  private removeProcess(pid: number): void {
    this.live.delete(pid);
    for (const [p, text] of this.files) {
      if (path.basename(p) === "cgroup.procs") {
        this.files.set(p, text.split("\n").filter((l) => l !== "" && l !== String(pid)).map((l) => l + "\n").join(""));
      }
    }
  }

  private subtreePids(dir: string): number[] {
    const out: number[] = [];
    for (const [p, text] of this.files) {
      if (path.basename(p) === "cgroup.procs" && p.startsWith(dir + "/")) {
        out.push(...text.split("\n").filter(Boolean).map(Number));
      }
    }
    return out;
  }

  readFile(p: string): string {
    const text = this.files.get(p);
    if (text === undefined) fail("read", p, this.dirs.has(p) ? "EISDIR" : "ENOENT");
    const s = this.settling.get(p);
    if (s) {
      if (s[0] > 0) s[0]--;
      else {
        this.files.set(p, s[1]);
        this.settling.delete(p);
        return s[1];
      }
    }
    return text;
  }

  writeFile(p: string, data: string): void {
    this.writes.push({ path: p, data });
    const injected = this.failWrites.get(p);
    if (injected) fail("write", p, injected);
    if (!this.files.has(p)) fail("write", p, this.dirs.has(p) ? "EISDIR" : "ENOENT");
    const dir = path.dirname(p);
    const h = this.hierarchyOf(p);
    switch (path.basename(p)) {
      case "cgroup.procs": {
        const pid = Number(data.trim());
        if (!Number.isInteger(pid) || pid <= 0) fail("write", p, "EINVAL");
        if (h && !h.v2 && h.controllers.includes("cpuset") && this.words(`${dir}/cpuset.cpus`).length === 0) {
          fail("write", p, "ENOSPC");
        }
        this.live.add(pid);
        this.attach(dir, pid);
        return;
      }
      case "cgroup.subtree_control": {
        const enabled = new Set(this.words(p));
        const available = this.words(`${dir}/cgroup.controllers`);
        for (const tok of data.trim().split(/\s+/)) {
          const name = tok.slice(1);
          if (tok[0] === "+") {
            if (!available.includes(name)) fail("write", p, "ENOENT");
            enabled.add(name);
          } else if (tok[0] === "-") enabled.delete(name);
          else fail("write", p, "EINVAL");
        }
        this.files.set(p, [...enabled].join(" "));
        for (const child of this.children(dir)) {
          if (!this.dirs.has(child)) continue;
          this.files.set(`${child}/cgroup.controllers`, [...enabled].join(" "));
          for (const c of enabled) {
            for (const [k, v] of Object.entries(V2_FILES[c] ?? {})) if (!this.files.has(`${child}/${k}`)) this.files.set(`${child}/${k}`, v);
          }
        }
        return;
      }
      case "cgroup.freeze": {
        const frozen = data.trim() === "1";
        this.files.set(p, frozen ? "1" : "0");
        const events = `${dir}/cgroup.events`;
        const final = `populated ${this.subtreePids(dir).length > 0 ? 1 : 0}\nfrozen ${frozen ? 1 : 0}\n`;
        if (frozen && this.freezeDelay > 0) this.settling.set(events, [this.freezeDelay, final]);
        else {
          this.settling.delete(events);
          this.files.set(events, final);
        }
        return;
      }
      case "freezer.state": {
        const want = data.trim();
        if (want !== "FROZEN" && want !== "THAWED") fail("write", p, "EINVAL");
        this.files.set(`${dir}/freezer.self_freezing`, want === "FROZEN" ? "1\n" : "0\n");
        if (want === "FROZEN" && this.freezeDelay > 0 && !this.settling.has(p) && this.files.get(p) !== "FROZEN\n") {
          this.files.set(p, "FREEZING\n");
          this.settling.set(p, [this.freezeDelay, "FROZEN\n"]);
        } else if (want === "THAWED" || !this.settling.has(p)) {
          this.settling.delete(p);
          this.files.set(p, `${want}\n`);
        }
        return;
      }
      case "cgroup.kill": {
        if (data.trim() !== "1") fail("write", p, "ERANGE");
        for (const pid of this.subtreePids(dir)) {
          this.signals.push({ pid, signal: "SIGKILL" });
          this.removeProcess(pid);
        }
        return;
      }
      case "io.bfq.weight": {
        // "N" sets the default; "MAJ:MIN N" adds a device line; reads show both.
        const lines = (this.files.get(p) ?? "").split("\n").filter((l) => l !== "" && !/^\d+$/.test(l));
        const dflt = /^\d+$/.test(data.trim()) ? `default ${data.trim()}` : lines.find((l) => l.startsWith("default ")) ?? "default 100";
        const devs = lines.filter((l) => !l.startsWith("default "));
        if (!/^\d+$/.test(data.trim())) devs.push(data.trim());
        this.files.set(p, [dflt, ...devs].join("\n") + "\n");
        return;
      }
      default:
        this.files.set(p, data);
    }
  }

  mkdir(p: string): void {
    const injected = this.failWrites.get(p);
    if (injected) fail("mkdir", p, injected);
    if (this.dirs.has(p) || this.files.has(p)) fail("mkdir", p, "EEXIST");
    if (!this.dirs.has(path.dirname(p))) fail("mkdir", p, "ENOENT");
    this.dirs.add(p);
    const h = this.hierarchyOf(p);
    if (!h) return;
    if (h.v2) this.populateV2(p, this.words(`${path.dirname(p)}/cgroup.subtree_control`));
    else this.populateV1(p, h);
  }

  rmdir(p: string): void {
    const injected = this.failWrites.get(p);
    if (injected) fail("rmdir", p, injected);
    if (this.files.has(p)) fail("rmdir", p, "ENOTDIR");
    if (!this.dirs.has(p)) fail("rmdir", p, "ENOENT");
    const busy = this.busyRmdir.get(p) ?? 0;
    if (busy > 0) {
      this.busyRmdir.set(p, busy - 1);
      fail("rmdir", p, "EBUSY");
    }
    const kids = this.children(p);
    if (kids.some((k) => this.dirs.has(k)) || this.words(`${p}/cgroup.procs`).length > 0) fail("rmdir", p, "EBUSY");
    for (const k of kids) this.files.delete(k);
    this.dirs.delete(p);
  }

  readdir(p: string): CgroupDirent[] {
    if (!this.dirs.has(p)) fail("readdir", p, this.files.has(p) ? "ENOTDIR" : "ENOENT");
    return this.children(p).map((c) => ({ name: path.basename(c), isDirectory: this.dirs.has(c) }));
  }

  exists(p: string): boolean {
    return this.dirs.has(p) || this.files.has(p);
  }

  readMountinfo(): string {
    return this.mountinfo;
  }

  kill(pid: number, signal: NodeJS.Signals | number): void {
    if (!this.live.has(pid)) fail("kill", String(pid), "ESRCH");
    this.signals.push({ pid, signal });
    if (signal === "SIGKILL" || signal === 9) this.removeProcess(pid);
  }

  async sleep(_ms: number): Promise<void> {
    this.sleeps++;
  }

  /** The writes whose path is below `prefix`, as "relative/path=value" strings. */
  writesUnder(prefix: string): string[] {
    return this.writes
      .filter((w) => w.path.startsWith(prefix + "/"))
      .map((w) => `${w.path.slice(prefix.length + 1)}=${w.data}`);
  }
}
