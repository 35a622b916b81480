// Hierarchy detection from mountinfo, path rules, and createCgroupManager's choices.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CgroupError, FakeCgroupFs, createCgroupManager, detectCgroupLayout, parseMountinfo, resolveCgroupPath,
} from "../../oci/cgroups/index.js";

// Ubuntu 18.04 style: cgroup v1 only, co-mounted cpu,cpuacct and net_cls,net_prio.
const V1_MOUNTINFO = `
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
28 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
29 28 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd
32 28 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
33 28 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
34 28 0:32 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
35 28 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
36 28 0:34 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,freezer
37 28 0:35 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,devices
38 28 0:36 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,cpuset,clone_children
39 28 0:37 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup rw,blkio
40 28 0:38 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:22 - cgroup cgroup rw,hugetlb
`;

// Fedora / Ubuntu 22.04: unified only.
const V2_MOUNTINFO = `
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

// systemd hybrid: v1 controllers plus cgroup2 on /sys/fs/cgroup/unified.
const HYBRID_MOUNTINFO = `
28 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
29 28 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
30 28 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
33 28 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
35 28 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
`;

describe("detectCgroupLayout", () => {
  it("recognises a v1 host, splitting co-mounted controllers", () => {
    const l = detectCgroupLayout(V1_MOUNTINFO);
    assert.equal(l.mode, "v1");
    assert.equal(l.unified, undefined);
    assert.equal(l.v1.cpu, "/sys/fs/cgroup/cpu,cpuacct");
    assert.equal(l.v1.cpuacct, "/sys/fs/cgroup/cpu,cpuacct");
    assert.equal(l.v1.net_prio, "/sys/fs/cgroup/net_cls,net_prio");
    assert.equal(l.v1["name=systemd"], "/sys/fs/cgroup/systemd");
    assert.equal(l.v1.cpuset, "/sys/fs/cgroup/cpuset"); // "clone_children" is not a controller
    assert.equal(l.v1.clone_children, undefined);
    assert.equal(l.v1.xattr, undefined);
  });

  it("recognises a pure v2 host", () => {
    assert.deepEqual(detectCgroupLayout(V2_MOUNTINFO), { mode: "v2", v1: {}, unified: "/sys/fs/cgroup" });
  });

  it("recognises a hybrid host", () => {
    const l = detectCgroupLayout(HYBRID_MOUNTINFO);
    assert.equal(l.mode, "hybrid");
    assert.equal(l.unified, "/sys/fs/cgroup/unified");
    assert.deepEqual(Object.keys(l.v1).sort(), ["memory", "name=systemd", "pids"]);
  });

  it("treats a cgroup2 host with only a named v1 hierarchy as v2", () => {
    const text = V2_MOUNTINFO + "40 26 0:40 / /run/systemd-v1 rw - cgroup cgroup rw,name=systemd\n";
    assert.equal(detectCgroupLayout(text).mode, "v2");
  });

  it("reads the fake hosts' mountinfo like real ones", () => {
    assert.equal(detectCgroupLayout(FakeCgroupFs.v1().mountinfo).mode, "v1");
    assert.equal(detectCgroupLayout(FakeCgroupFs.v1({ unified: true }).mountinfo).mode, "hybrid");
    assert.equal(detectCgroupLayout(FakeCgroupFs.v2().mountinfo).mode, "v2");
  });

  it("fails clearly without any cgroup mount", () => {
    assert.throws(() => detectCgroupLayout("22 1 252:1 / / rw - ext4 /dev/vda1 rw\n"), (e: unknown) =>
      e instanceof CgroupError && /no cgroup hierarchy is mounted/.test(e.message));
  });

  it("unescapes mount points and skips junk lines", () => {
    const m = parseMountinfo("garbage\n41 28 0:9 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n");
    assert.equal(m.length, 1);
    assert.equal(m[0]!.mountPoint, "/mnt/my cg");
    assert.equal(m[0]!.fsType, "cgroup2");
  });
});

describe("resolveCgroupPath", () => {
  it("defaults to /tsor/<id>", () => {
    assert.equal(resolveCgroupPath("abc"), "/tsor/abc");
    assert.equal(resolveCgroupPath("abc", ""), "/tsor/abc");
  });
  it("keeps absolute paths, normalised", () => {
    assert.equal(resolveCgroupPath("abc", "/kubepods/burstable/pod1/abc"), "/kubepods/burstable/pod1/abc");
    assert.equal(resolveCgroupPath("abc", "/docker//abc/"), "/docker/abc");
  });
  it("makes relative paths absolute", () => {
    assert.equal(resolveCgroupPath("abc", "foo/bar"), "/foo/bar");
  });
  it("refuses the root and escapes", () => {
    for (const bad of ["/", "//", "/..", "/a/../.."]) {
      assert.throws(() => resolveCgroupPath("abc", bad), CgroupError, bad);
    }
  });
});

describe("createCgroupManager", () => {
  it("picks v2 paths on a v2 host", () => {
    const m = createCgroupManager({ id: "c1", fs: FakeCgroupFs.v2() });
    assert.equal(m.mode, "v2");
    assert.deepEqual(m.paths(), { "": "/sys/fs/cgroup/tsor/c1" });
  });

  it("lists one directory per v1 hierarchy, plus unified on hybrid", () => {
    const m = createCgroupManager({ id: "c1", cgroupsPath: "/k/c1", fs: FakeCgroupFs.v1({ unified: true }) });
    assert.equal(m.mode, "hybrid");
    const p = m.paths();
    assert.equal(p.memory, "/sys/fs/cgroup/memory/k/c1");
    assert.equal(p.cpu, "/sys/fs/cgroup/cpu/k/c1");
    assert.equal(p["name=systemd"], "/sys/fs/cgroup/systemd/k/c1");
    assert.equal(p[""], "/sys/fs/cgroup/unified/k/c1");
  });
});
