// cgroup statistics as `runc events` reports them, read from the in-memory cgroupfs, and the v2
// writers' behaviour that only `update` exercises (one of quota/period, checkBeforeUpdate).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeCgroupFs, createCgroupManager } from "../../oci/cgroups/index.js";
import { MAX_U64, eventJson, parseCpuList, parseU64 } from "../../oci/cgroups/stats.js";

/** Container c1's cgroup, created on a fresh in-memory v1 or v2 host. */
function created(fs: FakeCgroupFs) {
  const m = createCgroupManager({ id: "c1", fs });
  m.create();
  return { fs, m };
}

describe("stats helpers", () => {
  it("parses counters exactly, past 2^53 as bigint", () => {
    assert.equal(parseU64("42\n"), 42);
    assert.equal(parseU64("9223372036854771712"), 9223372036854771712n);
    assert.equal(parseU64("max"), MAX_U64);
    assert.equal(parseU64("x"), undefined);
  });

  it("prints big counters digit for digit", () => {
    assert.equal(eventJson({ type: "stats", id: "c", data: { limit: MAX_U64, n: 1 } }), '{"type":"stats","id":"c","data":{"limit":18446744073709551615,"n":1}}\n');
  });

  it("expands cpu lists", () => {
    assert.deepEqual(parseCpuList("0-2,5\n"), [0, 1, 2, 5]);
    assert.deepEqual(parseCpuList(""), []);
  });
});

describe("v1 stats", () => {
  it("reads cpuacct, cpu, memory, pids, blkio in runc's field names", () => {
    const { fs, m } = created(FakeCgroupFs.v1({ rootCpus: "0-1" }));
    const d = (c: string, f: string, v: string) => fs.files.set(`/sys/fs/cgroup/${c}/tsor/c1/${f}`, v);
    d("cpuacct", "cpuacct.usage", "3000\n");
    d("cpuacct", "cpuacct.usage_percpu", "1000 2000 \n");
    d("cpuacct", "cpuacct.stat", "user 2\nsystem 1\n");
    d("cpuacct", "cpuacct.usage_percpu_sys", "100 200\n");
    d("cpuacct", "cpuacct.usage_percpu_user", "900 1800\n");
    d("cpu", "cpu.stat", "nr_periods 4\nnr_throttled 1\nthrottled_time 77\n");
    d("memory", "memory.usage_in_bytes", "4096\n");
    d("memory", "memory.max_usage_in_bytes", "8192\n");
    d("memory", "memory.failcnt", "0\n");
    d("memory", "memory.stat", "cache 12\nrss 34\n");
    d("pids", "pids.current", "3\n");
    d("blkio", "blkio.throttle.io_service_bytes", "8:0 Read 10\n8:0 Write 0\nTotal 10\n");
    const s = m.stats();
    assert.deepEqual(s.cpu, {
      usage: { total: 3000, percpu: [1000, 2000], percpu_kernel: [100, 200], percpu_user: [900, 1800], kernel: 10_000_000, user: 20_000_000 },
      throttling: { periods: 4, throttledPeriods: 1, throttledTime: 77 },
    });
    assert.deepEqual(s.cpuset, { cpus: [0, 1], mems: [0] });
    assert.deepEqual(s.memory.usage, { limit: 9223372036854771712n, usage: 4096, max: 8192, failcnt: 0 });
    assert.equal(s.memory.cache, 12);
    assert.deepEqual(s.memory.raw, { cache: 12, rss: 34 });
    assert.deepEqual(s.pids, { current: 3 }, "pids.max \"max\": no limit printed");
    assert.deepEqual(s.blkio.ioServiceBytesRecursive, [{ major: 8, op: "Read", value: 10 }, { major: 8, op: "Write" }]);
    assert.equal(s.network_interfaces, null);
  });

  it("counts OOM kills from memory.oom_control", () => {
    const { fs, m } = created(FakeCgroupFs.v1());
    assert.equal(m.oomKills(), 0);
    fs.files.set("/sys/fs/cgroup/memory/tsor/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    assert.equal(m.oomKills(), 2);
  });
});

describe("v2 stats", () => {
  const DIR = "/sys/fs/cgroup/tsor/c1";

  it("converts cpu.stat microseconds, memory.* and pids to runc's v1-style record", () => {
    const { fs, m } = created(FakeCgroupFs.v2());
    m.set({ pids: { limit: 9 }, memory: { limit: 1 << 20 } });
    fs.files.set(`${DIR}/cpu.stat`, "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n");
    fs.files.set(`${DIR}/memory.current`, "4096\n");
    fs.files.set(`${DIR}/memory.events`, "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1\n");
    fs.files.set(`${DIR}/memory.stat`, "anon 100\nfile 200\n");
    fs.files.set(`${DIR}/memory.swap.current`, "10\n");
    fs.files.set(`${DIR}/pids.current`, "2\n");
    fs.files.set(`${DIR}/io.stat`, "8:0 rbytes=100 wbytes=0 rios=3 wios=0 dbytes=0 dios=0\n");
    const s = m.stats();
    assert.deepEqual(s.cpu, { usage: { total: 5000, kernel: 2000, user: 3000 }, throttling: {} });
    assert.deepEqual(s.memory.usage, { limit: 1 << 20, usage: 4096, failcnt: 6 });
    assert.deepEqual(s.memory.swap, { limit: MAX_U64, usage: 4106, failcnt: 0 }, "swap is memory+swap, as v1");
    assert.equal(s.memory.cache, 200);
    assert.deepEqual(s.pids, { current: 2, limit: 9 });
    assert.deepEqual(s.blkio, {
      ioServiceBytesRecursive: [{ major: 8, op: "Read", value: 100 }, { major: 8, op: "Write" }],
      ioServicedRecursive: [{ major: 8, op: "Read", value: 3 }, { major: 8, op: "Write" }],
    });
    assert.equal(m.oomKills(), 1);
  });
});

describe("v2 writers, as `tsor update` uses them", () => {
  const DIR = "/sys/fs/cgroup/tsor/c1";

  it("memory.checkBeforeUpdate refuses a limit below the current usage (runc's fs2)", () => {
    const { fs, m } = created(FakeCgroupFs.v2());
    fs.files.set(`${DIR}/memory.current`, "5000\n");
    fs.files.set(`${DIR}/memory.swap.current`, "1000\n");
    assert.throws(() => m.set({ memory: { limit: 4096, checkBeforeUpdate: true } }), /memory\.limit: rejecting memory limit 4096 below current usage 5000/);
    assert.throws(() => m.set({ memory: { limit: 8192, swap: 5500, checkBeforeUpdate: true } }), /memory\.swap: rejecting memory\+swap limit 5500 below current usage 6000/);
    m.set({ memory: { limit: 8192, checkBeforeUpdate: true } });
    assert.equal(fs.files.get(`${DIR}/memory.max`), "8192");
  });

  it("update --cpu-quota alone keeps the period already in cpu.max", () => {
    const { fs, m } = created(FakeCgroupFs.v2());
    m.set({ cpu: { quota: 30000, period: 50000 } });
    m.set({ cpu: { quota: 20000 } });
    m.set({ cpu: { period: 80000 } });
    assert.equal(fs.files.get(`${DIR}/cpu.max`), "20000 80000");
  });
});
