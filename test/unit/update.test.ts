// `tsor update` input (runc update's flags and --resources JSON) and `tsor events` pieces
// (--interval durations, the stream loop) without a container.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ramInBytes, resourcesFromFlags, updatableResources, updateResources } from "../../oci/update.js";
import { parseDuration, streamEvents } from "../../oci/events.js";
import { NotRunningError, type Runtime } from "../../oci/container.js";
import { emptyStats } from "../../oci/cgroups/stats.js";

const MiB = 2 ** 20;

describe("update: sizes", () => {
  it("reads go-units sizes: plain bytes, binary suffixes, fractions", () => {
    assert.equal(ramInBytes("1024"), 1024);
    assert.equal(ramInBytes("64m"), 64 * MiB);
    assert.equal(ramInBytes("64M"), 64 * MiB);
    assert.equal(ramInBytes("1g"), 2 ** 30);
    assert.equal(ramInBytes("1.5GiB"), 1.5 * 2 ** 30);
    assert.equal(ramInBytes("2 kb"), 2048);
  });

  it("refuses what is not a size", () => {
    for (const bad of ["", "lots", "-5", "1x", "m"]) assert.throws(() => ramInBytes(bad), /invalid size/, bad);
  });
});

describe("update: flags", () => {
  it("maps runc's flags onto linux.resources", () => {
    assert.deepEqual(
      resourcesFromFlags({
        memory: "64m", memorySwap: "-1", memoryReservation: "32m", cpuShare: "512", cpuQuota: "-1",
        cpuPeriod: "100000", cpusetCpus: "0-1", cpusetMems: "0", pidsLimit: "42", blkioWeight: "300",
      }),
      {
        memory: { limit: 64 * MiB, swap: -1, reservation: 32 * MiB },
        cpu: { shares: 512, quota: -1, period: 100000, cpus: "0-1", mems: "0" },
        blockIO: { weight: 300 },
        pids: { limit: 42 },
      },
    );
  });

  it("gives nothing when nothing is asked; --blkio-weight 0 is unset, as in runc", () => {
    assert.deepEqual(resourcesFromFlags({}), {});
    assert.deepEqual(resourcesFromFlags({ blkioWeight: "0" }), {});
  });

  it("names the flag and the value that is wrong", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ memory: "lots" }, /--memory: "lots"/],
      [{ memorySwap: "1q" }, /--memory-swap: "1q"/],
      [{ pidsLimit: "many" }, /--pids-limit: "many" \(expected an integer\)/],
      [{ cpuShare: "-2" }, /--cpu-share: "-2" \(expected an unsigned integer\)/],
      [{ cpuQuota: "1.5" }, /--cpu-quota: "1.5"/],
      [{ blkioWeight: "5000" }, /--blkio-weight: "5000"/],
      [{ cpusetCpus: "0,,2" }, /--cpuset-cpus: "0,,2"/],
      [{ cpusetMems: "all" }, /--cpuset-mems: "all"/],
    ];
    for (const [flags, re] of cases) assert.throws(() => resourcesFromFlags(flags), re, JSON.stringify(flags));
  });

  it("refuses Intel RDT schemas: not supported", () => {
    assert.throws(() => resourcesFromFlags({ l3CacheSchema: "L3:0=f" }), /Intel RDT is not supported/);
  });
});

describe("update: --resources", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-upd-"));

  it("- reads stdin, and the other flags are ignored", () => {
    const r = updateResources({ resources: "-", pidsLimit: "99" }, () => '{"pids":{"limit":7},"cpu":{"quota":1000}}');
    assert.deepEqual(r, { pids: { limit: 7 }, cpu: { quota: 1000 } });
  });

  it("FILE is read from disk", () => {
    const file = path.join(dir, "r.json");
    fs.writeFileSync(file, JSON.stringify({ memory: { limit: MiB, swap: 2 * MiB } }));
    assert.deepEqual(updateResources({ resources: file }), { memory: { limit: MiB, swap: 2 * MiB } });
  });

  it("errors name the source and the JSON field", () => {
    assert.throws(() => updateResources({ resources: "-" }, () => '{"memory":{"limit":"1g"}}'), /--resources \(stdin\): memory\.limit: expected number, received string/);
    assert.throws(() => updateResources({ resources: "-" }, () => '{"pids":'), /--resources \(stdin\): invalid JSON at line 1/);
    assert.throws(() => updateResources({ resources: path.join(dir, "missing.json") }), /missing\.json: ENOENT/);
  });

  it("keeps only what runc update applies (no devices, hugepages, network, rdma)", () => {
    assert.deepEqual(
      updatableResources({
        devices: [{ allow: false }], hugepageLimits: [{ pageSize: "2MB", limit: 1 }], network: {}, pids: { limit: 3 },
      }),
      { pids: { limit: 3 } },
    );
    assert.deepEqual(updatableResources({ memory: { limit: MiB, swappiness: 10, disableOOMKiller: true } }), { memory: { limit: MiB } });
    assert.deepEqual(updatableResources({ memory: { swappiness: 10 } }), {});
  });
});

describe("events", () => {
  it("reads Go durations", () => {
    assert.equal(parseDuration("5s"), 5000);
    assert.equal(parseDuration("200ms"), 200);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("1.5h"), 5_400_000);
    assert.equal(parseDuration("0"), 0);
    for (const bad of ["5", "s", "5 s", "five"]) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  });

  /** A Runtime stand-in whose usage() follows a script, one entry per call. */
  function fakeRuntime(script: ({ oomKills: number } | "stopped")[]): Runtime {
    let i = 0;
    return {
      usage: () => {
        const step = script[Math.min(i++, script.length - 1)]!;
        if (step === "stopped") throw new NotRunningError("container with id c is not running");
        return { stats: emptyStats(), oomKills: step.oomKills };
      },
    } as unknown as Runtime;
  }

  it("--stats writes one line", async () => {
    const lines: string[] = [];
    await streamEvents(fakeRuntime([{ oomKills: 0 }]), "c", { stats: true, intervalMs: 5000, write: (l) => lines.push(l) });
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]!), { type: "stats", id: "c", data: JSON.parse(JSON.stringify(emptyStats())) });
  });

  it("streams stats every interval, an oom line when the count rises, and ends when the container stops", async () => {
    const lines: string[] = [];
    const rt = fakeRuntime([{ oomKills: 0 }, { oomKills: 0 }, { oomKills: 1 }, { oomKills: 1 }, "stopped"]);
    await streamEvents(rt, "c", { stats: false, intervalMs: 400, write: (l) => lines.push(l), sleep: async () => undefined });
    assert.deepEqual(lines.map((l) => JSON.parse(l).type), ["oom", "stats"]);
  });

  it("refuses an interval that is not positive", async () => {
    await assert.rejects(streamEvents(fakeRuntime([]), "c", { stats: true, intervalMs: 0, write: () => undefined }), /greater than 0/);
  });
});
