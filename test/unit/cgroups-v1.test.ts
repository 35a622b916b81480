// cgroup v1 writers against the in-memory cgroupfs: exact files and values, in runc's order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CgroupError, FakeCgroupFs, createCgroupManager, type CgroupManager, type CgroupResources,
} from "../../oci/cgroups/index.js";

const ROOT = "/sys/fs/cgroup";
const MiB = 2 ** 20;
const GiB = 2 ** 30;

function setup(resources?: CgroupResources, opts: Parameters<typeof FakeCgroupFs.v1>[0] = {}) {
  const fs = FakeCgroupFs.v1(opts);
  const m = createCgroupManager({ id: "c1", fs, resources });
  m.create();
  fs.writes.length = 0; // only what set() writes
  return { fs, m };
}

/** The writes into one controller's directory of container c1. */
function writes(fs: FakeCgroupFs, controller: string): string[] {
  return fs.writesUnder(`${ROOT}/${controller}/tsor/c1`);
}

describe("cgroup v1 create/apply", () => {
  it("makes the directory in every hierarchy", () => {
    const fs = FakeCgroupFs.v1();
    const m = createCgroupManager({ id: "c1", fs });
    m.create();
    for (const dir of Object.values(m.paths())) assert.ok(fs.dirs.has(dir), dir);
    assert.equal(Object.keys(m.paths()).length, 9);
    m.create(); // idempotent
  });

  it("copies cpuset cpus/mems down from the parent at every level", () => {
    const fs = FakeCgroupFs.v1({ rootCpus: "0-7" });
    const m = createCgroupManager({ id: "c1", cgroupsPath: "/a/b", fs });
    m.create();
    assert.equal(fs.files.get(`${ROOT}/cpuset/a/cpuset.cpus`), "0-7");
    assert.equal(fs.files.get(`${ROOT}/cpuset/a/b/cpuset.cpus`), "0-7");
    assert.equal(fs.files.get(`${ROOT}/cpuset/a/b/cpuset.mems`), "0");
  });

  it("apply writes the pid into cgroup.procs of each hierarchy, and pids() finds it", () => {
    const { fs, m } = setup();
    m.apply(4242);
    for (const dir of Object.values(m.paths())) assert.equal(fs.files.get(`${dir}/cgroup.procs`), "4242\n");
    fs.mkdir(`${ROOT}/freezer/tsor/c1/sub`);
    fs.addProcess(`${ROOT}/freezer/tsor/c1/sub`, 77);
    assert.deepEqual(m.pids(), [77, 4242]);
  });

  it("shares one directory between co-mounted controllers", () => {
    const fs = FakeCgroupFs.v1({ mounts: ["cpu,cpuacct", "memory", "freezer"] });
    const m = createCgroupManager({ id: "c1", fs });
    m.create();
    assert.equal(m.paths().cpu, m.paths().cpuacct);
    m.apply(5);
    assert.equal(fs.writes.filter((w) => w.path.endsWith("cgroup.procs")).length, 3);
  });
});

describe("cgroup v1 set", () => {
  it("memory: limit, swap (memsw), reservation, swappiness, OOM killer", () => {
    const { fs, m } = setup();
    fs.files.set(`${ROOT}/memory/tsor/c1/memory.limit_in_bytes`, String(GiB));
    m.set({ memory: { limit: GiB, swap: 2 * GiB, reservation: GiB / 2, swappiness: 10, disableOOMKiller: true } });
    // swap first: it grows beyond the current limit.
    assert.deepEqual(writes(fs, "memory"), [
      `memory.memsw.limit_in_bytes=${2 * GiB}`,
      `memory.limit_in_bytes=${GiB}`,
      `memory.soft_limit_in_bytes=${GiB / 2}`,
      "memory.oom_control=1",
      "memory.swappiness=10",
    ]);
  });

  it("memory: limit before swap when lowering below the current limit", () => {
    const { fs, m } = setup();
    fs.files.set(`${ROOT}/memory/tsor/c1/memory.limit_in_bytes`, String(4 * GiB));
    m.set({ memory: { limit: MiB, swap: 2 * MiB } });
    assert.deepEqual(writes(fs, "memory"), [`memory.limit_in_bytes=${MiB}`, `memory.memsw.limit_in_bytes=${2 * MiB}`]);
  });

  it("memory: unlimited limit with unset swap makes swap unlimited too", () => {
    const { fs, m } = setup();
    m.set({ memory: { limit: -1 } });
    assert.deepEqual(writes(fs, "memory"), ["memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"]);
  });

  it("memory: rejects swappiness above 100", () => {
    const { m } = setup();
    assert.throws(() => m.set({ memory: { swappiness: 101 } }), /swappiness value: 101/);
  });

  it("memory: names file and errno when the kernel refuses", () => {
    const { fs, m } = setup();
    fs.failWrites.set(`${ROOT}/memory/tsor/c1/memory.limit_in_bytes`, "EINVAL");
    assert.throws(() => m.set({ memory: { limit: 5 } }), (e: unknown) =>
      e instanceof CgroupError && e.code === "EINVAL" &&
      e.message === `cgroup: write ${ROOT}/memory/tsor/c1/memory.limit_in_bytes: EINVAL`);
  });

  it("cpu: shares, period, quota, burst, idle, realtime", () => {
    const { fs, m } = setup();
    m.set({ cpu: { shares: 512, period: 50000, quota: 25000, burst: 1000, idle: 0, realtimePeriod: 900000, realtimeRuntime: 1000 } });
    assert.deepEqual(writes(fs, "cpu"), [
      "cpu.shares=512", "cpu.cfs_period_us=50000", "cpu.cfs_burst_us=1000", "cpu.cfs_quota_us=25000",
      "cpu.idle=0", "cpu.rt_period_us=900000", "cpu.rt_runtime_us=1000",
    ]);
  });

  it("cpu: a period the kernel refuses (EINVAL) is retried after the quota", () => {
    const { fs, m } = setup();
    const period = `${ROOT}/cpu/tsor/c1/cpu.cfs_period_us`;
    fs.failWrites.set(period, "EINVAL");
    const orig = fs.writeFile.bind(fs);
    fs.writeFile = (p, d) => {
      if (p.endsWith("cpu.cfs_quota_us")) fs.failWrites.delete(period);
      orig(p, d);
    };
    m.set({ cpu: { period: 1000, quota: 500 } });
    assert.deepEqual(writes(fs, "cpu"), ["cpu.cfs_period_us=1000", "cpu.cfs_quota_us=500", "cpu.cfs_period_us=1000"]);
  });

  it("cpu: reports shares the kernel clamped", () => {
    const { fs, m } = setup();
    const orig = fs.writeFile.bind(fs);
    fs.writeFile = (p, d) => orig(p, p.endsWith("cpu.shares") ? "262144" : d);
    assert.throws(() => m.set({ cpu: { shares: 1 << 20 } }), /maximum allowed cpu-shares is 262144/);
  });

  it("cpuset: cpus and mems", () => {
    const { fs, m } = setup();
    m.set({ cpu: { cpus: "0-1", mems: "0" } });
    assert.deepEqual(writes(fs, "cpuset"), ["cpuset.cpus=0-1", "cpuset.mems=0"]);
  });

  it("pids: limit, 0 as 1, negative as max", () => {
    const { fs, m } = setup();
    m.set({ pids: { limit: 100 } });
    m.set({ pids: { limit: 0 } });
    m.set({ pids: { limit: -1 } });
    assert.deepEqual(writes(fs, "pids"), ["pids.max=100", "pids.max=1", "pids.max=max"]);
  });

  it("blkio: weights and throttles, one line per write", () => {
    const { fs, m } = setup();
    m.set({
      blockIO: {
        weight: 300, leafWeight: 200,
        weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 2097152 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }, { major: 8, minor: 16, rate: 60 }],
      },
    });
    assert.deepEqual(writes(fs, "blkio"), [
      "blkio.weight=300", "blkio.leaf_weight=200", "blkio.weight_device=8:0 500", "blkio.leaf_weight_device=8:0 100",
      "blkio.throttle.read_bps_device=8:0 1048576", "blkio.throttle.write_bps_device=8:16 2097152",
      "blkio.throttle.read_iops_device=8:0 100", "blkio.throttle.write_iops_device=8:0 50",
      "blkio.throttle.write_iops_device=8:16 60",
    ]);
  });

  it("blkio: uses BFQ's files when CFQ's are absent", () => {
    const { fs, m } = setup();
    const dir = `${ROOT}/blkio/tsor/c1`;
    fs.files.delete(`${dir}/blkio.weight`);
    fs.files.set(`${dir}/blkio.bfq.weight`, "100");
    fs.files.set(`${dir}/blkio.bfq.weight_device`, "");
    m.set({ blockIO: { weight: 300, weightDevice: [{ major: 8, minor: 0, weight: 50 }] } });
    assert.deepEqual(writes(fs, "blkio"), ["blkio.bfq.weight=300", "blkio.bfq.weight_device=8:0 50"]);
  });

  it("devices: deny all, the config's rules, then runc's defaults", () => {
    const { fs, m } = setup();
    m.set({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 10, minor: 229, access: "rw" }] });
    const w = writes(fs, "devices");
    assert.deepEqual(w.slice(0, 5), [
      "devices.deny=a *:* rwm", "devices.deny=a *:* rwm", "devices.allow=c 10:229 rw",
      "devices.allow=c *:* m", "devices.allow=b *:* m",
    ]);
    assert.ok(w.includes("devices.allow=c 1:3 rwm"));
    assert.ok(w.includes("devices.allow=c 136:* rwm"));
    assert.equal(w.length, 3 + 11);
  });

  it("hugetlb: limit_in_bytes and, when the kernel has it, rsvd", () => {
    const { fs, m } = setup(undefined, { mounts: ["hugetlb", "memory"] });
    fs.files.set(`${ROOT}/hugetlb/tsor/c1/hugetlb.2MB.rsvd.limit_in_bytes`, "0");
    m.set({ hugepageLimits: [{ pageSize: "2MB", limit: 2097152 }, { pageSize: "1GB", limit: 0 }] });
    assert.deepEqual(writes(fs, "hugetlb"), [
      "hugetlb.2MB.limit_in_bytes=2097152", "hugetlb.2MB.rsvd.limit_in_bytes=2097152",
      "hugetlb.1GB.limit_in_bytes=0", "hugetlb.1GB.rsvd.limit_in_bytes=0",
    ]);
  });

  it("errors clearly for a controller that is not mounted", () => {
    const { m } = setup();
    assert.throws(() => m.set({ hugepageLimits: [{ pageSize: "2MB", limit: 1 }] }),
      /controller hugetlb is not mounted, needed by linux.resources.hugepageLimits/);
  });

  it("refuses unified keys, as runc", () => {
    const { m } = setup(undefined, { unified: true });
    assert.throws(() => m.set({ unified: { "memory.high": "1" } }), /unified needs cgroup v2, but this host is cgroup hybrid/);
  });

  it("set() without argument applies the resources given at creation; warns on unsupported ones", () => {
    const { fs, m } = setup({ pids: { limit: 7 }, network: { classID: 1 }, memory: { kernel: 1 } });
    const warnings = m.set();
    assert.deepEqual(writes(fs, "pids"), ["pids.max=7"]);
    assert.equal(warnings.length, 2);
    assert.deepEqual(m.warnings, warnings);
  });
});

describe("cgroup v1 freezer", () => {
  it("freezes through FREEZING and thaws", async () => {
    const { fs, m } = setup();
    fs.freezeDelay = 3;
    assert.equal(m.state(), "thawed");
    await m.freeze();
    assert.equal(m.state(), "frozen");
    assert.equal(fs.files.get(`${ROOT}/freezer/tsor/c1/freezer.state`), "FROZEN\n");
    await m.thaw();
    assert.equal(m.state(), "thawed");
  });

  it("thaws again and fails if the cgroup never settles", async () => {
    const { fs, m } = setup();
    fs.freezeDelay = 1e9;
    await assert.rejects(m.freeze(), /unable to freeze/);
    assert.equal(fs.writes.at(-1)!.data, "THAWED");
  });

  it("a cgroup frozen only by its parent is not paused", () => {
    const { fs, m } = setup();
    fs.files.set(`${ROOT}/freezer/tsor/c1/freezer.state`, "FROZEN\n");
    fs.files.set(`${ROOT}/freezer/tsor/c1/freezer.self_freezing`, "0\n");
    assert.equal(m.state(), "thawed");
  });
});

describe("cgroup v1 killAll/destroy", () => {
  function running(): { fs: FakeCgroupFs; m: CgroupManager } {
    const s = setup();
    s.m.apply(100);
    s.m.apply(101);
    return s;
  }

  it("killAll freezes, signals every pid, thaws", async () => {
    const { fs, m } = running();
    await m.killAll("SIGTERM");
    assert.deepEqual(fs.signals, [{ pid: 100, signal: "SIGTERM" }, { pid: 101, signal: "SIGTERM" }]);
    const states = fs.writes.filter((w) => w.path.endsWith("freezer.state")).map((w) => w.data);
    assert.deepEqual(states, ["FROZEN", "THAWED"]);
    assert.equal(m.state(), "thawed");
  });

  it("killAll skips processes that already exited", async () => {
    const { fs, m } = running();
    fs.live.delete(100);
    await m.killAll(9);
    assert.deepEqual(fs.signals, [{ pid: 101, signal: 9 }]);
  });

  it("destroy refuses a busy cgroup, kills when asked, and is idempotent", async () => {
    const { fs, m } = running();
    await assert.rejects(m.destroy(), (e: unknown) => e instanceof CgroupError && e.code === "EBUSY");
    await m.destroy({ kill: true });
    for (const dir of Object.values(m.paths())) assert.ok(!fs.dirs.has(dir), dir);
    assert.ok(fs.dirs.has(`${ROOT}/memory/tsor`), "the parent stays");
    assert.ok(!m.exists());
    await m.destroy();
    await m.destroy({ kill: true });
  });

  it("destroy removes child cgroups and retries a transient EBUSY", async () => {
    const { fs, m } = setup();
    fs.mkdir(`${ROOT}/memory/tsor/c1/inner`);
    fs.busyRmdir.set(`${ROOT}/memory/tsor/c1`, 3);
    await m.destroy();
    assert.ok(!fs.dirs.has(`${ROOT}/memory/tsor/c1`));
    assert.ok(fs.sleeps >= 2);
  });
});
