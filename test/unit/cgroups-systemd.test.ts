// --systemd-cgroup paths (oci/cgroups/systemd.ts): runc's "slice:prefix:name" form expanded to the
// directory systemd gives the unit, with runc's rules and errors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CgroupError, expandSlice, systemdCgroupPath } from "../../oci/cgroups/index.js";

describe("expandSlice", () => {
  it("nests a slice under the slices its dashes name", () => {
    assert.equal(expandSlice("system.slice"), "/system.slice");
    assert.equal(expandSlice("user-1000.slice"), "/user.slice/user-1000.slice");
    assert.equal(
      expandSlice("kubepods-besteffort-pod8f2e.slice"),
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8f2e.slice",
    );
    assert.equal(expandSlice("-.slice"), "", "the root slice");
  });

  it("refuses what systemd would not name a slice", () => {
    for (const bad of [".slice", "system", "a/b.slice", "a--b.slice", "-a.slice", "a-.slice", "x.scope"]) {
      assert.throws(() => expandSlice(bad), (e: unknown) => e instanceof CgroupError && e.message.includes(`"${bad}"`), bad);
    }
  });
});

describe("systemdCgroupPath", () => {
  it("puts <prefix>-<name>.scope in the slice (system.slice if empty, the root for -)", () => {
    assert.equal(systemdCgroupPath("abc", "system.slice:docker:abc"), "/system.slice/docker-abc.scope");
    assert.equal(
      systemdCgroupPath("abc", "kubepods-burstable-pod1.slice:cri-containerd:abc"),
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope",
    );
    assert.equal(systemdCgroupPath("abc", ":docker:abc"), "/system.slice/docker-abc.scope");
    assert.equal(systemdCgroupPath("abc", "-:docker:abc"), "/docker-abc.scope");
    assert.equal(systemdCgroupPath("abc", undefined), "/system.slice/tsor-abc.scope", "no cgroupsPath: :tsor:<id>");
    assert.equal(systemdCgroupPath("abc", ""), "/system.slice/tsor-abc.scope");
  });

  it("a name that is a slice is placed by its own name", () => {
    assert.equal(systemdCgroupPath("abc", "system.slice:ignored:machine-abc.slice"), "/machine.slice/machine-abc.slice");
  });

  it("refuses other forms with runc's message, naming the path", () => {
    const refused = (raw: string, what: RegExp) =>
      assert.throws(() => systemdCgroupPath("abc", raw), (e: unknown) => e instanceof CgroupError && what.test(e.message), raw);
    refused("/kubepods/pod1/abc", /expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "\/kubepods\/pod1\/abc"/);
    refused("system.slice:abc", /format "slice:prefix:name"/);
    refused("a:b:c:d", /format "slice:prefix:name"/);
    refused("system.slice:docker:", /unit name must be non-empty/);
    refused("system.slice:docker:a/b", /without "\/"/);
    refused("system/x.slice:docker:abc", /invalid slice name "system\/x.slice"/);
    refused("system:docker:abc", /invalid slice name "system"/);
    refused("system.slice:x:-.slice", /root slice cannot be a container's cgroup/);
  });
});
