// oci/cgroups/sentry.ts: the sentry's sibling cgroup against the in-memory cgroupfs (v1 hybrid
// and v2): where it is, what prepare/enter/returnToOrigin/destroy write and remove.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeCgroupFs, detectCgroupLayout } from "../../oci/cgroups/index.js";
import { SentryCgroup, cgroupDirsOf, sentryCgroupPath } from "../../oci/cgroups/sentry.js";

const HYBRID_PROC_CGROUP = [
  "9:name=systemd:/user.slice/session-1.scope",
  "8:pids:/user.slice",
  "4:memory:/process_api/abc",
  "3:cpuset:/",
  "1:cpu:/",
  "2:cpuacct:/",
  "5:devices:/user.slice",
  "6:freezer:/",
  "7:blkio:/",
  "0::/user.slice/session-1.scope",
  "",
].join("\n");

describe("sentry cgroup: where", () => {
  it("is a sibling of the container's cgroup, named by the container id", () => {
    assert.equal(sentryCgroupPath("/kubepods/burstable/pod1234/abcd", "abcd"), "/kubepods/burstable/pod1234/tsor-sentry-abcd");
    assert.equal(sentryCgroupPath("/tsor/c1", "c1"), "/tsor/tsor-sentry-c1");
    // Two containers in one cgroup: a sentry cgroup each.
    assert.equal(sentryCgroupPath("/shared/app", "c2"), "/shared/tsor-sentry-c2");
  });

  it("reads a process's directories from /proc/PID/cgroup, keyed as the managers key hierarchies", () => {
    const fs = FakeCgroupFs.v1({ unified: true });
    const dirs = cgroupDirsOf(detectCgroupLayout(fs.mountinfo), HYBRID_PROC_CGROUP);
    assert.equal(dirs.memory, "/sys/fs/cgroup/memory/process_api/abc");
    assert.equal(dirs.cpu, "/sys/fs/cgroup/cpu", "the root, without a trailing slash");
    assert.equal(dirs["name=systemd"], "/sys/fs/cgroup/systemd/user.slice/session-1.scope");
    assert.equal(dirs[""], "/sys/fs/cgroup/unified/user.slice/session-1.scope");
    const v2 = cgroupDirsOf(detectCgroupLayout(FakeCgroupFs.v2().mountinfo), "0::/system.slice/containerd.service\n");
    assert.deepEqual(v2, { "": "/sys/fs/cgroup/system.slice/containerd.service" });
  });
});

describe("sentry cgroup: life", () => {
  it("v1 hybrid: prepare makes the sibling everywhere and notes the origin; enter, return, destroy", async () => {
    const fs = FakeCgroupFs.v1({ unified: true });
    fs.files.set("/proc/self/cgroup", HYBRID_PROC_CGROUP);
    fs.dirs.add("/sys/fs/cgroup/memory/process_api/abc");
    fs.files.set("/sys/fs/cgroup/memory/process_api/abc/cgroup.procs", "");
    const sc = SentryCgroup.prepare("c1", "/kubepods/pod9/ctr", { fs });
    assert.equal(sc.info.path, "/kubepods/pod9/tsor-sentry-c1");
    assert.equal(sc.info.origin.memory, "/sys/fs/cgroup/memory/process_api/abc");
    const paths = sc.paths();
    assert.equal(Object.keys(paths).length, 10); // 9 v1 hierarchies + unified
    for (const dir of Object.values(paths)) assert.ok(fs.dirs.has(dir), dir);
    assert.equal(fs.files.get("/sys/fs/cgroup/cpuset/kubepods/pod9/tsor-sentry-c1/cpuset.cpus"), "0-3", "cpuset copied down");

    sc.enter(4242);
    assert.deepEqual(sc.pids(), [4242]);
    assert.match(fs.files.get(`${paths.memory}/cgroup.procs`)!, /^4242$/m);

    // netd (or the sentry itself) goes back where the CLI was; a gone origin falls back to the root.
    fs.failWrites.set("/sys/fs/cgroup/unified/user.slice/session-1.scope/cgroup.procs", "ENOENT");
    sc.returnToOrigin(4242);
    assert.deepEqual(sc.pids(), []);
    assert.match(fs.files.get("/sys/fs/cgroup/memory/process_api/abc/cgroup.procs")!, /^4242$/m);
    assert.match(fs.files.get("/sys/fs/cgroup/unified/cgroup.procs")!, /^4242$/m);

    // Another process (the CLI at delete) finds it by the recorded info.
    const again = SentryCgroup.of("c1", sc.info, { fs });
    assert.ok(again.exists());
    await again.destroy();
    for (const dir of Object.values(paths)) assert.ok(!fs.dirs.has(dir), `${dir} removed`);
    assert.ok(!again.exists());
    await again.destroy(); // idempotent
  });

  it("v2: the sibling gets the parent's controllers; destroy with kill takes a sentry left inside", async () => {
    const fs = FakeCgroupFs.v2();
    fs.files.set("/proc/self/cgroup", "0::/system.slice/containerd.service\n");
    const sc = SentryCgroup.prepare("c2", "kubepods.slice/pod7/c2", { fs }); // relative: taken as absolute
    const dir = sc.paths()[""]!;
    assert.equal(dir, "/sys/fs/cgroup/kubepods.slice/pod7/tsor-sentry-c2");
    assert.ok(fs.files.has(`${dir}/memory.max`), "memory accounted in the sibling");
    sc.enter(77);
    await sc.destroy({ kill: true });
    assert.ok(fs.signals.some((s) => s.pid === 77), "the sentry left inside was killed");
    assert.ok(!fs.dirs.has(dir));
  });

  it("a process that cannot be moved anywhere is an error naming the hierarchy", () => {
    const fs = FakeCgroupFs.v2();
    fs.files.set("/proc/self/cgroup", "0::/a\n");
    const sc = SentryCgroup.prepare("c3", undefined, { fs });
    assert.equal(sc.info.path, "/tsor/tsor-sentry-c3");
    fs.failWrites.set("/sys/fs/cgroup/a/cgroup.procs", "ENOENT");
    fs.failWrites.set("/sys/fs/cgroup/cgroup.procs", "EACCES");
    assert.throws(() => sc.returnToOrigin(5), /cannot move 5 out of \/tsor\/tsor-sentry-c3 \(unified\)/);
  });
});
