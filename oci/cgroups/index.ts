// Entry point: pick the v1 or v2 manager for this host and resolve the container's cgroup path.
import { posix as path } from "node:path";
import { detectCgroupLayout, type CgroupLayout } from "./detect.js";
import { CgroupError, RealCgroupFs, type CgroupFs } from "./fs.js";
import type { CgroupManager } from "./manager.js";
import type { CgroupResources } from "./resources.js";
import { V1Manager } from "./v1.js";
import { V2Manager } from "./v2.js";

export { CgroupError, RealCgroupFs, type CgroupFs, type CgroupDirent } from "./fs.js";
export { FakeCgroupFs } from "./fake-fs.js";
export { expandSlice, systemdCgroupPath } from "./systemd.js";
export { detectCgroupLayout, parseMountinfo, V1_CONTROLLERS, type CgroupLayout, type CgroupMode } from "./detect.js";
export type { CgroupManager, FreezerState } from "./manager.js";
export {
  DEFAULT_DEVICE_RULES, blkioWeightToIoWeight, deviceRuleString, pidsMaxValue, sharesToWeight, swapToV2,
  type CgroupResources, type DeviceRule, type ThrottleDevice, type WeightDevice,
} from "./resources.js";

/** The parent of containers created without linux.cgroupsPath. */
export const DEFAULT_CGROUP_PARENT = "/tsor";

export interface CgroupManagerOptions {
  /** Container id: names the default cgroup and appears in errors. */
  id: string;
  /** linux.cgroupsPath (cgroupfs form: "/a/b"; "a/b" is taken as "/a/b"; empty = "/tsor/<id>"). */
  cgroupsPath?: string;
  /** linux.resources: what `set()` writes when called without an argument. */
  resources?: CgroupResources;
  /** The OS seam; the real cgroupfs by default. */
  fs?: CgroupFs;
  /** Skip mountinfo detection (tests, or a caller that already detected). */
  layout?: CgroupLayout;
}

/**
 * The container's path inside each hierarchy, runc's cgroupfs rules simplified: absolute paths
 * are used as is, relative ones are made absolute (runc would nest them under its own cgroup),
 * empty means DEFAULT_CGROUP_PARENT/<id>. The hierarchy root itself is refused: destroy would
 * try to remove it.
 */
export function resolveCgroupPath(id: string, cgroupsPath?: string): string {
  const raw = cgroupsPath === undefined || cgroupsPath === "" ? `${DEFAULT_CGROUP_PARENT}/${id}` : cgroupsPath;
  const resolved = path.normalize(raw.startsWith("/") ? raw : `/${raw}`).replace(/\/+$/, "");
  if (resolved === "" || resolved === "/" || resolved.split("/").includes("..")) {
    throw new CgroupError(`invalid cgroupsPath "${cgroupsPath}": must name a cgroup below the hierarchy root`);
  }
  return resolved;
}

export function createCgroupManager(opts: CgroupManagerOptions): CgroupManager {
  const fs = opts.fs ?? new RealCgroupFs();
  const cgPath = resolveCgroupPath(opts.id, opts.cgroupsPath);
  const layout = opts.layout ?? detectCgroupLayout(fs.readMountinfo());
  if (layout.mode === "v2") return new V2Manager(opts.id, cgPath, fs, layout.unified!, opts.resources);
  return new V1Manager(opts.id, cgPath, fs, layout, opts.resources);
}
