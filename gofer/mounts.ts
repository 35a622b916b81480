// mounts[] -> `mount` directives: option names to MS_* flags, propagation and fs data (as runc's
// specconv.parseMountOptions), bind sources made absolute against the bundle, destinations
// resolved inside the rootfs, and the `cgroup` mount expanded for the host's cgroup layout.
import * as fs from "node:fs";
import * as path from "node:path";
import { MOUNT_OPTIONS, MS, PROPAGATION_OPTIONS } from "../oci/known.js";
import type { Directive } from "./encode.js";
import { resolveInRoot, type JoinFS, hostFS } from "./securejoin.js";
import { PlanError, type SpecMount } from "./types.js";

export interface MountFlags {
  /** MS_* flags for mount(2). */
  flags: number;
  /** MS_* propagation to apply after the mount; 0 = none. */
  pgflags: number;
  /** The options that are not flags, comma-joined: the filesystem's data string. */
  data: string;
}

/** Translate mounts[].options. Later options win ("ro,rw" is rw); so does the last propagation. */
export function mountFlags(options: readonly string[] = []): MountFlags {
  let flags = 0;
  let pgflags = 0;
  const data: string[] = [];
  for (const o of options) {
    const known = MOUNT_OPTIONS[o];
    if (known) {
      flags = known.clear ? flags & ~known.flag : flags | known.flag;
    } else if (o in PROPAGATION_OPTIONS) {
      pgflags = PROPAGATION_OPTIONS[o]!;
    } else {
      data.push(o);
    }
  }
  return { flags: flags >>> 0, pgflags, data: data.join(",") };
}

export function isBindMount(m: SpecMount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

/** One cgroup hierarchy of a cgroup v1 host, as mounted under /sys/fs/cgroup. */
export interface CgroupHierarchy {
  /** Directory name under /sys/fs/cgroup, e.g. `memory`, `cpu,cpuacct`, `systemd`, `unified`. */
  dir: string;
  fstype: "cgroup" | "cgroup2";
  /** Mount data: the hierarchy's super options (`cpu,cpuacct`, `xattr,name=systemd`); "" for cgroup2. */
  data: string;
}

export type CgroupLayout = { version: 2 } | { version: 1; hierarchies: CgroupHierarchy[] };

/** The cgroup layout from a /proc/self/mountinfo text. */
export function parseCgroupLayout(mountinfo: string): CgroupLayout {
  const hierarchies: CgroupHierarchy[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep === -1) continue;
    const mountPoint = unescapeMountinfo(line.slice(0, sep).split(" ")[4] ?? "");
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    if (mountPoint === "/sys/fs/cgroup" && fstype === "cgroup2") return { version: 2 };
    if (path.posix.dirname(mountPoint) !== "/sys/fs/cgroup") continue;
    // The super options name the hierarchy (`cpu,cpuacct`, `name=systemd`); rw/ro are ours to set.
    const data = fstype === "cgroup2" ? "" : superOpts.split(",").filter((o) => o !== "rw" && o !== "ro").join(",");
    hierarchies.push({ dir: path.posix.basename(mountPoint), fstype, data });
  }
  return { version: 1, hierarchies };
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function hostCgroupLayout(): CgroupLayout {
  return parseCgroupLayout(fs.readFileSync("/proc/self/mountinfo", "utf8"));
}

export interface MountContext {
  rootfs: string;
  /** Relative bind sources are taken against this directory (runc chdirs to the bundle). */
  bundle: string;
  cgroup: CgroupLayout;
  /** cgroup v1 without a new cgroup namespace: hierarchy dir -> host path of the container's cgroup to bind. */
  cgroupPaths?: Readonly<Record<string, string>>;
  newCgroupNs: boolean;
  vfs?: JoinFS;
  /** Is the host path a directory? (stat, following symlinks); throws when it does not exist. */
  isDirectory?: (hostPath: string) => boolean;
}

const statIsDirectory = (p: string) => fs.statSync(p).isDirectory();

/** The `mount` (and, for cgroup v1, `symlink`) directives of mounts[], in order. */
export function mountDirectives(mounts: readonly SpecMount[], ctx: MountContext): Directive[] {
  const out: Directive[] = [];
  mounts.forEach((m, i) => {
    const where = `mounts[${i}]`;
    if (!m.destination) throw new PlanError(`${where}.destination`, "missing");
    const dest = resolveInRoot(ctx.rootfs, m.destination, ctx.vfs ?? hostFS);
    const { flags, pgflags, data } = mountFlags(m.options);
    if (isBindMount(m)) {
      if (!m.source) throw new PlanError(`${where}.source`, "missing for a bind mount");
      const source = path.resolve(ctx.bundle, m.source);
      let dir: boolean;
      try {
        dir = (ctx.isDirectory ?? statIsDirectory)(source);
      } catch (err) {
        throw new PlanError(`${where}.source`, `${source}: ${(err as Error).message}`);
      }
      out.push(mountLine(source, dest, "bind", flags | MS.BIND, pgflags, data, dir ? "dir" : "file"));
    } else if (m.type === "cgroup") {
      out.push(...cgroupDirectives(dest, flags, pgflags, ctx));
    } else {
      out.push(mountLine(m.source ?? m.type ?? "none", dest, m.type ?? "none", flags, pgflags, data, "dir"));
    }
  });
  return out;
}

function mountLine(source: string, dest: string, fstype: string, flags: number, pgflags: number, data: string, kind: "dir" | "file"): Directive {
  return ["mount", source, dest, fstype, String(flags >>> 0), String(pgflags), data, kind];
}

/**
 * A `cgroup` mount as runc makes it: cgroup2 on a unified host; on a v1 host a tmpfs with one
 * mount per hierarchy (the controller fs in a new cgroup namespace, else a bind of the
 * container's own cgroup when known), symlinks for co-mounted controllers (`cpu` ->
 * `cpu,cpuacct`), then the tmpfs remounted read-only if the mount is `ro`.
 */
function cgroupDirectives(dest: string, flags: number, pgflags: number, ctx: MountContext): Directive[] {
  if (ctx.cgroup.version === 2) return [mountLine("cgroup2", dest, "cgroup2", flags, pgflags, "", "dir")];
  const tmpfsFlags = MS.NOEXEC | MS.NOSUID | MS.NODEV;
  const out: Directive[] = [mountLine("tmpfs", dest, "tmpfs", tmpfsFlags, pgflags, "mode=755", "dir")];
  for (const h of ctx.cgroup.hierarchies) {
    const sub = path.posix.join(dest, h.dir);
    const bindFrom = ctx.newCgroupNs ? undefined : ctx.cgroupPaths?.[h.dir];
    if (bindFrom) out.push(mountLine(bindFrom, sub, "bind", flags | MS.BIND | MS.REC, 0, "", "dir"));
    else out.push(mountLine(h.fstype, sub, h.fstype, flags, 0, h.data, "dir"));
    if (h.fstype === "cgroup" && h.dir.includes(",")) {
      for (const controller of h.dir.split(",")) out.push(["symlink", h.dir, path.posix.join(dest, controller)]);
    }
  }
  if (flags & MS.RDONLY) out.push(mountLine("tmpfs", dest, "tmpfs", tmpfsFlags | MS.REMOUNT | MS.RDONLY, 0, "mode=755", "dir"));
  return out;
}
