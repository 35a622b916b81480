// /dev as runc sets it up after the mounts (libcontainer/rootfs_linux.go): the default devices
// unless linux.devices lists the same path, linux.devices, the /dev/fd & co. symlinks, and
// /dev/ptmx -> pts/ptmx. None of it when /dev itself is a bind mount (runc's needsSetupDev).
// In a new user namespace tsor-init bind-mounts the host's node instead of mknod.
import * as path from "node:path";
import type { Directive } from "./encode.js";
import { isBindMount } from "./mounts.js";
import { PlanError, type SpecDevice, type SpecMount } from "./types.js";

const RW_ALL = 0o666;

/** runc's specconv.AllowedDevices that are created as nodes, in runc's order. */
export const DEFAULT_DEVICES: readonly Required<SpecDevice>[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: RW_ALL, uid: 0, gid: 0 },
  { path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: RW_ALL, uid: 0, gid: 0 },
  { path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: RW_ALL, uid: 0, gid: 0 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: RW_ALL, uid: 0, gid: 0 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: RW_ALL, uid: 0, gid: 0 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: RW_ALL, uid: 0, gid: 0 },
];

const DEVICE_TYPES = ["c", "b", "u", "p"];

/** [target, link] pairs runc's setupDevSymlinks makes; /dev/core only with /proc mounted. */
const DEV_SYMLINKS: readonly (readonly [string, string])[] = [
  ["/proc/self/fd", "/dev/fd"],
  ["/proc/self/fd/0", "/dev/stdin"],
  ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"],
];

const cleanPath = (p: string) => path.posix.join("/", p);

/** Does the config set up /dev itself (a bind mount on /dev)? */
export function bindsDev(mounts: readonly SpecMount[]): boolean {
  return mounts.some((m) => isBindMount(m) && cleanPath(m.destination ?? "") === "/dev");
}

/** `device`, `symlink` and `ptmx` directives, in that order. */
export function devDirectives(mounts: readonly SpecMount[], devices: readonly SpecDevice[]): Directive[] {
  if (bindsDev(mounts)) return [];
  const listed = new Set(devices.map((d) => cleanPath(d.path ?? "")));
  const out: Directive[] = [
    ...DEFAULT_DEVICES.filter((d) => !listed.has(d.path)).map((d) => deviceLine(d, "default devices")),
    ...devices.map((d, i) => deviceLine(d, `linux.devices[${i}]`)),
  ];
  for (const [target, link] of DEV_SYMLINKS) out.push(["symlink", target, link]);
  const mounted = (type: string, dest: string) => mounts.some((m) => m.type === type && cleanPath(m.destination ?? "") === dest);
  if (mounted("proc", "/proc")) out.push(["symlink", "/proc/kcore", "/dev/core"]);
  if (mounts.some((m) => m.type === "devpts")) out.push(["ptmx"]);
  return out;
}

function deviceLine(d: SpecDevice, where: string): Directive {
  if (!d.path) throw new PlanError(`${where}.path`, "missing");
  if (!d.type || !DEVICE_TYPES.includes(d.type)) throw new PlanError(`${where}.type`, `unknown device type ${JSON.stringify(d.type)}`);
  const mode = (d.fileMode ?? RW_ALL) & 0o7777;
  return ["device", cleanPath(d.path), d.type, String(d.major ?? 0), String(d.minor ?? 0), String(mode), String(d.uid ?? 0), String(d.gid ?? 0)];
}
