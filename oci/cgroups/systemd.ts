// runc's --systemd-cgroup path form, "slice:prefix:name" (runc docs/systemd.md), expanded to the
// cgroupfs directory systemd gives that unit: "system.slice:docker:abc" is
// /system.slice/docker-abc.scope, "kubepods-besteffort-pod1.slice:cri-containerd:abc" is
// /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope.
// tsor then drives that directory through cgroupfs like any other path: the scope is not a
// systemd unit (no D-Bus), but it sits where kubelet, cAdvisor and docker look for it, under the
// slices their systemd driver made. A systemd that later rewrites a slice's cgroup.subtree_control
// can take a controller from it, as with runc's cgroupfs driver on a systemd host.
import { CgroupError } from "./fs.js";

const SLICE = ".slice";

/**
 * The cgroupfs path of systemd slice `slice` (runc libcontainer/cgroups/systemd ExpandSlice): each
 * dash opens a sub-slice, "a-b.slice" is /a.slice/a-b.slice; "-.slice" is the root ("").
 */
export function expandSlice(slice: string): string {
  if (slice.length <= SLICE.length || !slice.endsWith(SLICE) || slice.includes("/")) {
    throw new CgroupError(`invalid slice name "${slice}": a systemd slice ends in .slice and has no "/"`);
  }
  const name = slice.slice(0, -SLICE.length);
  if (name === "-") return "";
  let out = "";
  let prefix = "";
  for (const part of name.split("-")) {
    if (part === "") throw new CgroupError(`invalid slice name "${slice}": empty part between dashes`);
    out += `/${prefix}${part}${SLICE}`;
    prefix += `${part}-`;
  }
  return out;
}

/**
 * The cgroupfs path for container `id` under --systemd-cgroup: linux.cgroupsPath as
 * "slice:prefix:name" (slice empty: system.slice; "-": the root slice), the unit
 * "<prefix>-<name>.scope" in it, or `name` itself when it is a slice (placed by its own name, as
 * systemd does). No cgroupsPath: ":tsor:<id>".
 */
export function systemdCgroupPath(id: string, cgroupsPath: string | undefined): string {
  const raw = cgroupsPath === undefined || cgroupsPath === "" ? `:tsor:${id}` : cgroupsPath;
  const parts = raw.split(":");
  if (parts.length !== 3) {
    throw new CgroupError(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "${raw}"`);
  }
  const [slice, prefix, name] = parts as [string, string, string];
  if (name === "" || name.includes("/") || prefix.includes("/")) {
    throw new CgroupError(`invalid cgroupsPath "${raw}": the unit name must be non-empty and without "/"`);
  }
  if (name.endsWith(SLICE)) return checkedRoot(expandSlice(name), raw);
  const parent = slice === "" ? "/system.slice" : slice === "-" ? "" : expandSlice(slice);
  return `${parent}/${prefix}-${name}.scope`;
}

function checkedRoot(p: string, raw: string): string {
  if (p === "") throw new CgroupError(`invalid cgroupsPath "${raw}": the root slice cannot be a container's cgroup`);
  return p;
}
