// cgroup v2 writers and conversions against the in-memory cgroupfs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CgroupError, FakeCgroupFs, blkioWeightToIoWeight, createCgroupManager, sharesToWeight, swapToV2,
  type CgroupResources,
} from "../../oci/cgroups/index.js";

const DIR = "/sys/fs/cgroup/tsor/c1";
const GiB = 2 ** 30;

function setup(resources?: CgroupResources, opts: Parameters<typeof FakeCgroupFs.v2>[0] = {}) {
  const fs = FakeCgroupFs.v2(opts);
  const m = createCgroupManager({ id: "c1", fs, resources });
  m.create();
  fs.writes.length = 0;
  return { fs, m, w: () => fs.writesUnder(DIR) };
}

describe("v1 -> v2 conversions", () => {
  it("cpu.shares -> cpu.weight (crun's formula)", () => {
    assert.equal(sharesToWeight(0), 0);
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(3), 2);
    assert.equal(sharesToWeight(512), 59);
    assert.equal(sharesToWeight(1024), 100);
    assert.equal(sharesToWeight(2048), 174);
    assert.equal(sharesToWeight(262144), 10000);
    assert.equal(sharesToWeight(1 << 20), 10000);
  });

  it("blkio weight -> io.weight", () => {
    assert.equal(blkioWeightToIoWeight(0), 0);
    assert.equal(blkioWeightToIoWeight(10), 1);
    assert.equal(blkioWeightToIoWeight(500), 4950);
    assert.equal(blkioWeightToIoWeight(1000), 10000);
  });

  it("memory+swap -> memory.swap.max", () => {
    assert.equal(swapToV2(2 * GiB, GiB), GiB);
    assert.equal(swapToV2(GiB, GiB), 0);
    assert.equal(swapToV2(-1, GiB), -1);
    assert.equal(swapToV2(0, GiB), 0);
    assert.equal(swapToV2(0, -1), -1);
    assert.equal(swapToV2(GiB, -1), GiB);
    assert.throws(() => swapToV2(GiB, 0), /without memory limit/);
    assert.throws(() => swapToV2(GiB, 2 * GiB), /should be >= memory limit/);
  });
});

describe("cgroup v2 create", () => {
  it("enables the root's controllers in every ancestor's subtree_control", () => {
    const fs = FakeCgroupFs.v2();
    const m = createCgroupManager({ id: "c1", cgroupsPath: "/a/b/c1", fs });
    m.create();
    const enable = "+cpuset +cpu +io +memory +hugetlb +pids";
    assert.deepEqual(fs.writes, [
      { path: "/sys/fs/cgroup/cgroup.subtree_control", data: enable },
      { path: "/sys/fs/cgroup/a/cgroup.subtree_control", data: enable },
      { path: "/sys/fs/cgroup/a/b/cgroup.subtree_control", data: enable },
    ]);
    assert.equal(fs.files.get("/sys/fs/cgroup/a/b/c1/cgroup.controllers"), "cpuset cpu io memory hugetlb pids");
    assert.ok(fs.files.has("/sys/fs/cgroup/a/b/c1/memory.max"));
    assert.equal(fs.files.get("/sys/fs/cgroup/a/b/c1/cgroup.subtree_control"), "", "leaf keeps none");
  });

  it("falls back to enabling controllers one by one", () => {
    const fs = FakeCgroupFs.v2({ controllers: ["cpu", "memory", "rdma"] });
    const m = createCgroupManager({ id: "c1", fs });
    // The kernel refuses rdma below /tsor (say, EBUSY): the batch fails, the others still go in.
    const orig = fs.writeFile.bind(fs);
    fs.writeFile = (p, d) => {
      if (p === "/sys/fs/cgroup/tsor/cgroup.subtree_control" && d.includes("rdma")) {
        fs.writes.push({ path: p, data: d });
        throw new CgroupError(`write ${p}: EBUSY`, { code: "EBUSY", path: p });
      }
      orig(p, d);
    };
    m.create();
    assert.deepEqual(fs.writesUnder("/sys/fs/cgroup/tsor"), [
      "cgroup.subtree_control=+cpu +memory +rdma",
      "cgroup.subtree_control=+cpu", "cgroup.subtree_control=+memory", "cgroup.subtree_control=+rdma",
    ]);
    assert.equal(fs.files.get(`${DIR}/cgroup.controllers`), "cpu memory");
  });

  it("apply and pids()", () => {
    const { fs, m } = setup();
    m.apply(300);
    assert.equal(fs.files.get(`${DIR}/cgroup.procs`), "300\n");
    fs.mkdir(`${DIR}/inner`);
    fs.addProcess(`${DIR}/inner`, 301);
    assert.deepEqual(m.pids(), [300, 301]);
  });
});

describe("cgroup v2 set", () => {
  it("memory: max, swap.max = swap - limit, low", () => {
    const { m, w } = setup();
    m.set({ memory: { limit: GiB, swap: 3 * GiB, reservation: GiB / 4 } });
    assert.deepEqual(w(), [`memory.swap.max=${2 * GiB}`, `memory.max=${GiB}`, `memory.low=${GiB / 4}`]);
  });

  it("memory: swap equal to the limit writes swap.max 0; -1 is max", () => {
    const { m, w } = setup();
    m.set({ memory: { limit: GiB, swap: GiB } });
    m.set({ memory: { limit: -1 } });
    assert.deepEqual(w(), ["memory.swap.max=0", `memory.max=${GiB}`, "memory.swap.max=max", "memory.max=max"]);
  });

  it("memory: tolerates a missing swap.max only for max/0", () => {
    const { fs, m } = setup();
    fs.files.delete(`${DIR}/memory.swap.max`);
    m.set({ memory: { limit: GiB, swap: GiB } });
    assert.throws(() => m.set({ memory: { limit: GiB, swap: 2 * GiB } }), (e: unknown) =>
      e instanceof CgroupError && e.code === "ENOENT" && e.message.includes("memory.swap.max"));
  });

  it("memory: v1-only settings warn instead of failing", () => {
    const { m, w } = setup();
    const warnings = m.set({ memory: { swappiness: 0, disableOOMKiller: true } });
    assert.deepEqual(w(), []);
    assert.equal(warnings.length, 2);
    assert.match(warnings.join("\n"), /swappiness/);
    assert.match(warnings.join("\n"), /disableOOMKiller/);
  });

  it("memory: swap without a limit is an error naming the field", () => {
    const { m } = setup();
    assert.throws(() => m.set({ memory: { swap: GiB } }), /linux.resources.memory: unable to set swap limit without memory limit/);
  });

  it("cpu: idle, weight, burst, max", () => {
    const { m, w } = setup();
    m.set({ cpu: { shares: 1024, quota: 50000, period: 100000, burst: 10000, idle: 1 } });
    assert.deepEqual(w(), ["cpu.idle=1", "cpu.weight=100", "cpu.max.burst=10000", "cpu.max=50000 100000"]);
  });

  it("cpu: quota without period uses the default period; period alone means max", () => {
    const { m, w } = setup();
    m.set({ cpu: { quota: 20000 } });
    m.set({ cpu: { quota: -1, period: 50000 } });
    assert.deepEqual(w(), ["cpu.max=20000 100000", "cpu.max=max 50000"]);
  });

  it("cpu: a burst refused before the quota rises is written after cpu.max", () => {
    const { fs, m, w } = setup();
    fs.failWrites.set(`${DIR}/cpu.max.burst`, "EINVAL");
    const orig = fs.writeFile.bind(fs);
    fs.writeFile = (p, d) => {
      if (p.endsWith("/cpu.max")) fs.failWrites.delete(`${DIR}/cpu.max.burst`);
      orig(p, d);
    };
    m.set({ cpu: { quota: 200000, burst: 150000 } });
    assert.deepEqual(w(), ["cpu.max.burst=150000", "cpu.max=200000 100000", "cpu.max.burst=150000"]);
  });

  it("cpu: realtime settings warn", () => {
    const { m, w } = setup();
    assert.equal(m.set({ cpu: { realtimeRuntime: 1, realtimePeriod: 2 } }).length, 1);
    assert.deepEqual(w(), []);
  });

  it("cpuset and pids", () => {
    const { m, w } = setup();
    m.set({ cpu: { cpus: "2-3", mems: "0" }, pids: { limit: 64 } });
    assert.deepEqual(w(), ["pids.max=64", "cpuset.cpus=2-3", "cpuset.mems=0"]);
  });

  it("io: converted weight and io.max lines", () => {
    const { m, w } = setup();
    const warnings = m.set({
      blockIO: {
        weight: 500, leafWeight: 10, weightDevice: [{ major: 8, minor: 0, weight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2000 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 30 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 40 }],
      },
    });
    assert.deepEqual(w(), ["io.weight=4950", "io.max=8:0 rbps=1000", "io.max=8:0 wbps=2000", "io.max=8:16 riops=30", "io.max=8:16 wiops=40"]);
    assert.equal(warnings.length, 2); // leafWeight, weightDevice without BFQ
  });

  it("io: BFQ takes the raw weight and per-device weights", () => {
    const { fs, m, w } = setup();
    fs.files.set(`${DIR}/io.bfq.weight`, "default 100\n");
    assert.deepEqual(m.set({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 200 }] } }), []);
    assert.deepEqual(w(), ["io.bfq.weight=500", "io.bfq.weight=8:0 200"]);
  });

  it("hugetlb: max and rsvd.max", () => {
    const { m, w } = setup();
    m.set({ hugepageLimits: [{ pageSize: "2MB", limit: 4194304 }] });
    assert.deepEqual(w(), ["hugetlb.2MB.max=4194304", "hugetlb.2MB.rsvd.max=4194304"]);
  });

  it("devices: recorded as unsupported, not fatal", () => {
    const { m, w } = setup();
    const warnings = m.set({ devices: [{ allow: false, access: "rwm" }] });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /eBPF/);
    assert.deepEqual(w(), []);
    m.set({ devices: [{ allow: false, access: "rwm" }] });
    assert.equal(m.warnings.length, 1, "the same warning is recorded once");
  });

  it("unified: raw keys, written last, one line per write", () => {
    const { m, w } = setup();
    m.set({ memory: { limit: GiB }, unified: { "memory.high": "500000000", "io.max": "8:0 rbps=1\n8:16 wbps=2" } });
    assert.deepEqual(w(), [`memory.max=${GiB}`, "memory.high=500000000", "io.max=8:0 rbps=1", "io.max=8:16 wbps=2"]);
  });

  it("unified: rejects slashes and names an unavailable controller", () => {
    const { m } = setup(undefined, { controllers: ["memory", "pids"] });
    assert.throws(() => m.set({ unified: { "../x": "1" } }), /must be a file name/);
    assert.throws(() => m.set({ unified: { "cpu.max": "1 2" } }), (e: unknown) =>
      e instanceof CgroupError && /controller cpu is not available in \/sys\/fs\/cgroup\/tsor\/c1/.test(e.message) &&
      e.message.endsWith(`write ${DIR}/cpu.max: ENOENT`));
  });
});

describe("cgroup v2 freezer", () => {
  it("freeze waits for cgroup.events frozen 1; thaw clears it", async () => {
    const { fs, m } = setup();
    fs.freezeDelay = 5;
    await m.freeze();
    assert.equal(fs.files.get(`${DIR}/cgroup.freeze`), "1");
    assert.ok(fs.sleeps >= 5);
    assert.equal(m.state(), "frozen");
    await m.thaw();
    assert.equal(m.state(), "thawed");
  });

  it("freeze times out, thaws back and says so", async () => {
    const { fs, m } = setup();
    fs.freezeDelay = 1e9;
    await assert.rejects(m.freeze(), /timeout waiting for \/sys\/fs\/cgroup\/tsor\/c1 to freeze/);
    assert.equal(fs.files.get(`${DIR}/cgroup.freeze`), "0");
  });

  it("is reported unsupported without cgroup.freeze", async () => {
    const { m } = setup(undefined, { noFreeze: true });
    assert.equal(m.state(), "thawed");
    await assert.rejects(m.freeze(), /freezer not supported/);
  });
});

describe("cgroup v2 killAll/destroy", () => {
  it("SIGKILL goes through cgroup.kill", async () => {
    const { fs, m } = setup();
    m.apply(10);
    m.apply(11);
    await m.killAll();
    assert.deepEqual(fs.writesUnder(DIR), ["cgroup.procs=10", "cgroup.procs=11", "cgroup.kill=1"]);
    assert.deepEqual(m.pids(), []);
  });

  it("without cgroup.kill, and for other signals, every pid is signalled while frozen", async () => {
    const { fs, m } = setup(undefined, { noKill: true });
    m.apply(10);
    m.apply(11);
    await m.killAll("SIGKILL");
    assert.deepEqual(fs.signals, [{ pid: 10, signal: "SIGKILL" }, { pid: 11, signal: "SIGKILL" }]);
    const freezes = fs.writes.filter((x) => x.path.endsWith("cgroup.freeze")).map((x) => x.data);
    assert.deepEqual(freezes, ["1", "0"]);
  });

  it("destroy kills when asked, removes children, is idempotent, and leaves the parent", async () => {
    const { fs, m } = setup();
    m.apply(10);
    fs.mkdir(`${DIR}/sub`);
    fs.addProcess(`${DIR}/sub`, 12);
    await m.destroy({ kill: true });
    assert.ok(!fs.dirs.has(DIR));
    assert.ok(!fs.dirs.has(`${DIR}/sub`));
    assert.ok(fs.dirs.has("/sys/fs/cgroup/tsor"));
    await m.destroy({ kill: true });
    assert.ok(!m.exists());
  });

  it("destroy reports a permanent failure with path and errno", async () => {
    const { fs, m } = setup();
    fs.failWrites.set(DIR, "EACCES");
    await assert.rejects(m.destroy(), (e: unknown) =>
      e instanceof CgroupError && e.code === "EACCES" && e.message.includes(`rmdir ${DIR}: EACCES`));
  });
});
