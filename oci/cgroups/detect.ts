// Which cgroup hierarchies this host has, read from /proc/self/mountinfo.
//   v1:     only `cgroup` (v1) mounts, one per controller or co-mounted group
//   v2:     one `cgroup2` mount (normally /sys/fs/cgroup) and no v1 controller mounts
//   hybrid: v1 controller mounts plus a cgroup2 mount (systemd's /sys/fs/cgroup/unified);
//           limits go through v1, the unified hierarchy only tracks processes (as in runc).
// Named v1 hierarchies without controllers (name=systemd) do not make a host v1.
import { CgroupError } from "./fs.js";

export type CgroupMode = "v1" | "v2" | "hybrid";

/** The v1 controllers whose hierarchies a container joins (runc's subsystem list). */
export const V1_CONTROLLERS = [
  "cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
  "net_cls", "net_prio", "perf_event", "freezer", "rdma", "misc",
] as const;

export interface CgroupLayout {
  mode: CgroupMode;
  /** v1 controller (or "name=<hierarchy>") -> mount point; co-mounted ones share a mount point. */
  v1: Record<string, string>;
  /** Mount point of the cgroup2 hierarchy, if any. */
  unified?: string;
}

export interface MountinfoEntry {
  mountPoint: string;
  root: string;
  fsType: string;
  superOptions: string[];
}

/** Undo mountinfo's octal escapes (`\040` for a space). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parse mountinfo text (proc(5)); malformed lines are skipped. */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    const sep = fields.indexOf("-", 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    out.push({
      root: unescape(fields[3]!),
      mountPoint: unescape(fields[4]!),
      fsType: fields[sep + 1]!,
      superOptions: (fields[sep + 3] ?? "").split(","),
    });
  }
  return out;
}

const KNOWN_V1 = new Set<string>(V1_CONTROLLERS);

/** Classify the host from mountinfo text. Throws CgroupError if no cgroup is mounted. */
export function detectCgroupLayout(mountinfo: string): CgroupLayout {
  const v1: Record<string, string> = {};
  let unified: string | undefined;
  let hasV1Controller = false;
  for (const m of parseMountinfo(mountinfo)) {
    if (m.fsType === "cgroup2") {
      // Prefer the canonical mount point if several exist.
      if (unified === undefined || m.mountPoint === "/sys/fs/cgroup") unified = m.mountPoint;
    } else if (m.fsType === "cgroup") {
      for (const opt of m.superOptions) {
        const name = KNOWN_V1.has(opt) || opt.startsWith("name=") ? opt : undefined;
        if (name === undefined || v1[name] !== undefined) continue; // first mount wins
        v1[name] = m.mountPoint;
        if (!name.startsWith("name=")) hasV1Controller = true;
      }
    }
  }
  if (hasV1Controller) {
    return unified === undefined ? { mode: "v1", v1 } : { mode: "hybrid", v1, unified };
  }
  if (unified !== undefined) return { mode: "v2", v1: {}, unified };
  throw new CgroupError("no cgroup hierarchy is mounted (checked /proc/self/mountinfo)");
}
