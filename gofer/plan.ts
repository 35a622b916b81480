// config.json + runtime options -> the plan tsor-init executes (native/PLAN.md). Directives come
// out in the order PLAN.md's table lists them; every judgement (path resolution in the rootfs,
// option -> flag mapping, default devices) is made here, where it is unit-tested.
import * as path from "node:path";
import { NAMESPACE_PROC_NAMES, NAMESPACE_TYPES, PROPAGATION_OPTIONS, type NamespaceType } from "../oci/known.js";
import { devDirectives } from "./devices.js";
import { encodePlan, type Directive } from "./encode.js";
import { hookDirectives } from "./hooks.js";
import { hostCgroupLayout, mountDirectives, type CgroupLayout } from "./mounts.js";
import { identityDirectives, rlimitDirectives } from "./process.js";
import { seccompDirectives } from "./seccomp.js";
import type { JoinFS } from "./securejoin.js";
import { PlanError, type Spec, type SpecIdMapping } from "./types.js";

export const PLAN_VERSION = 1;

/** tsor-init's first preserved fd (native/PLAN.md "Invocation"); the trap channel follows them. */
export const INIT_FIRST_PRESERVED_FD = 5;

export interface PlanOptions {
  mode: "create" | "exec";
  /** Absolute host path of the rootfs, resolved from the bundle. */
  rootfs: string;
  noPivot: boolean;
  consoleSocket?: string;
  preserveFds: number;
  /** exec mode: namespace type (`network` or `net`) -> /proc/PID/ns/x of the container. */
  joinNamespaces?: Readonly<Record<string, string>>;
  /** create mode: name of a new session keyring to join (runc: the container id; unset with --no-new-keyring). */
  sessionKeyring?: string;
  /** Relative bind-mount sources are taken against it; default: the current directory (runc chdirs to the bundle). */
  bundle?: string;
  /** Host cgroup layout for a `cgroup` mount; default: read from /proc/self/mountinfo when needed. */
  cgroup?: CgroupLayout;
  /** cgroup v1, no new cgroup namespace: hierarchy dir -> host path of the container's cgroup to bind at /sys/fs/cgroup/DIR. */
  cgroupPaths?: Readonly<Record<string, string>>;
  /**
   * The platform's trap filter (native/PLAN.md `trap`): `notify` sends its listener fd on the
   * trap channel at tsor-init's fd `fd`; `trace` is for the ptrace platform (no fd). `socketNr`
   * (if set) traps only for TCP sockets, `nrs` always. Unset: no trap filter (`--network host-kernel`).
   */
  trap?: TrapOptions;
  /** Test seams: the file system securejoin and the bind-source stat look at. */
  vfs?: JoinFS;
  isDirectory?: (hostPath: string) => boolean;
}

export interface TrapOptions {
  mode: "notify" | "trace";
  /** notify: the fd number of the trap channel in tsor-init (after the preserved fds: 5 + N). */
  fd?: number;
  /** The call trapped only for TCP sockets (by its arguments); unset: none. */
  socketNr?: number;
  nrs: readonly number[];
  /** ioctl(2) requests trapped (by the request number), whatever the fd. */
  ioctls?: readonly number[];
  /** Calls of `nrs` not trapped when their second and third arguments are arg1 and arg2. */
  passes?: readonly TrapPass[];
  /** Calls (not of `nrs`) trapped only when their argument `arg` has a bit of `mask` set. */
  flagged?: readonly TrapFlagged[];
}

/** A call the filter traps only for some flags (native/PLAN.md `trap` FLAGGED). */
export interface TrapFlagged {
  nr: number;
  /** Which argument holds the flags (0..5; its low 32 bits are tested). */
  arg: number;
  mask: number;
}

/** A trapped call the filter does not trap for these arguments (native/PLAN.md `trap` PASS). */
export interface TrapPass {
  nr: number;
  arg1: number;
  arg2: number;
  /** The call returns 0 without running (default: the kernel runs it). */
  zero?: boolean;
}

/** The plan text for `spec`, ready for tsor-init's fd 4. */
export function buildPlan(spec: Spec, opts: PlanOptions): string {
  return encodePlan(planDirectives(spec, opts));
}

/** The plan as directives (unencoded), for callers and tests that inspect it. */
export function planDirectives(spec: Spec, opts: PlanOptions): Directive[] {
  return opts.mode === "exec" ? execDirectives(spec, opts) : createDirectives(spec, opts);
}

/** Join/creation order: user first (it grants the rights for the others), mount last (later /proc/PID/ns paths resolve in the host's mounts). */
const NS_ORDER: readonly NamespaceType[] = [
  "user",
  ...NAMESPACE_TYPES.filter((t) => t !== "user" && t !== "mount"),
  "mount",
];

function procName(type: string, where: string): string {
  if ((NAMESPACE_TYPES as readonly string[]).includes(type)) return NAMESPACE_PROC_NAMES[type as NamespaceType];
  if ((Object.values(NAMESPACE_PROC_NAMES) as string[]).includes(type)) return type;
  throw new PlanError(where, `unknown namespace type ${JSON.stringify(type)}`);
}

const nsRank = (procNs: string) => NS_ORDER.findIndex((t) => NAMESPACE_PROC_NAMES[t] === procNs);

/** The plan's name of a namespace: /proc's, except that native/PLAN.md spells mnt `mount`. */
const planNsName = (procNs: string) => (procNs === "mnt" ? "mount" : procNs);

/** `ns TYPE PATH` lines in NS_ORDER; PATH "" creates the namespace. */
function nsDirectives(entries: readonly (readonly [procNs: string, path: string])[]): Directive[] {
  return [...entries].sort((a, b) => nsRank(a[0]) - nsRank(b[0])).map(([t, p]): Directive => ["ns", planNsName(t), p]);
}

function idMaps(name: "uidmap" | "gidmap", maps: readonly SpecIdMapping[] = []): Directive[] {
  return maps.map((m): Directive => [name, String(m.containerID ?? 0), String(m.hostID ?? 0), String(m.size ?? 0)]);
}

function createDirectives(spec: Spec, opts: PlanOptions): Directive[] {
  const linux = spec.linux ?? {};
  const proc = spec.process ?? {};
  const mounts = spec.mounts ?? [];
  const namespaces = (linux.namespaces ?? []).map((ns, i) => [procName(ns.type ?? "", `linux.namespaces[${i}].type`), ns.path ?? ""] as const);
  const isNew = (procNs: string) => namespaces.some(([t, p]) => t === procNs && p === "");

  const out: Directive[] = [["version", String(PLAN_VERSION)], ["mode", "create"], ...nsDirectives(namespaces)];
  if (isNew("user")) out.push(...idMaps("uidmap", linux.uidMappings), ...idMaps("gidmap", linux.gidMappings));

  out.push(["rootfs", opts.rootfs]);
  const propagation = linux.rootfsPropagation ? PROPAGATION_OPTIONS[linux.rootfsPropagation] : PROPAGATION_OPTIONS.rslave;
  if (propagation === undefined) throw new PlanError("linux.rootfsPropagation", `unknown propagation ${JSON.stringify(linux.rootfsPropagation)}`);
  out.push(["rootfs_propagation", String(propagation)]);

  const needsCgroup = mounts.some((m) => m.type === "cgroup");
  out.push(
    ...mountDirectives(mounts, {
      rootfs: opts.rootfs,
      bundle: opts.bundle ?? process.cwd(),
      cgroup: opts.cgroup ?? (needsCgroup ? hostCgroupLayout() : { version: 2 }),
      cgroupPaths: opts.cgroupPaths,
      newCgroupNs: isNew("cgroup"),
      vfs: opts.vfs,
      isDirectory: opts.isDirectory,
    }),
    ...devDirectives(mounts, linux.devices ?? []),
  );

  out.push(["pivot", opts.noPivot ? "0" : "1"]);
  for (const p of linux.maskedPaths ?? []) out.push(["mask", path.posix.join("/", p)]);
  for (const p of linux.readonlyPaths ?? []) out.push(["readonly", path.posix.join("/", p)]);
  if (spec.root?.readonly) out.push(["readonly_root"]);
  if (spec.hostname) out.push(["hostname", spec.hostname]);
  if (spec.domainname) out.push(["domainname", spec.domainname]);
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) out.push(["sysctl", key, value]);

  out.push(...rlimitDirectives(proc));
  if (proc.oomScoreAdj !== undefined) out.push(["oom_score_adj", String(proc.oomScoreAdj)]);
  if (opts.sessionKeyring) out.push(["session_keyring", opts.sessionKeyring]);
  out.push(...identityDirectives(proc));
  if (linux.seccomp) out.push(...seccompDirectives(linux.seccomp));
  out.push(...trapDirectives(opts));
  out.push(...terminalDirectives(spec, opts), ["preserve_fds", String(opts.preserveFds)]);
  out.push(...hookDirectives("createContainer", spec.hooks?.createContainer), ...hookDirectives("startContainer", spec.hooks?.startContainer));
  out.push(["end"]);
  return out;
}

/** `tsor exec`: join the container's namespaces and set up only the new process. */
function execDirectives(spec: Spec, opts: PlanOptions): Directive[] {
  const joins = Object.entries(opts.joinNamespaces ?? {}).map(([type, p]) => [procName(type, `joinNamespaces.${type}`), p] as const);
  for (const [t, p] of joins) if (!p) throw new PlanError(`joinNamespaces.${t}`, "exec joins namespaces: a path is required");
  const out: Directive[] = [["version", String(PLAN_VERSION)], ["mode", "exec"], ...nsDirectives(joins)];
  out.push(...terminalDirectives(spec, opts), ...identityDirectives(spec.process ?? {}));
  if (spec.linux?.seccomp) out.push(...seccompDirectives(spec.linux.seccomp));
  out.push(...trapDirectives(opts));
  out.push(["preserve_fds", String(opts.preserveFds)], ["end"]);
  return out;
}

/** `trap MODE FD SOCKET_NR NRS [IOCTLS [PASS [FLAGGED]]]`, checked the way tsor-init checks it (a bad plan fails early). */
function trapDirectives(opts: PlanOptions): Directive[] {
  const t = opts.trap;
  if (!t) return [];
  const isNr = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
  if (t.socketNr !== undefined && !isNr(t.socketNr)) throw new PlanError("trap.socketNr", `bad syscall number ${t.socketNr}`);
  for (const nr of t.nrs) {
    if (!isNr(nr)) throw new PlanError("trap.nrs", `bad syscall number ${nr}`);
    if (nr === t.socketNr) throw new PlanError("trap.nrs", `holds socketNr ${nr} (it is trapped by its arguments)`);
  }
  let fd = "";
  if (t.mode === "notify") {
    const first = INIT_FIRST_PRESERVED_FD + opts.preserveFds;
    if (t.fd === undefined || !Number.isInteger(t.fd) || t.fd < first) {
      throw new PlanError("trap.fd", `notify needs the trap channel's fd, at ${first} or above (after the preserved fds)`);
    }
    fd = String(t.fd);
  } else if (t.fd !== undefined) {
    throw new PlanError("trap.fd", "trace takes no fd");
  }
  for (const req of t.ioctls ?? []) if (!isNr(req)) throw new PlanError("trap.ioctls", `bad ioctl request ${req}`);
  const passes = t.passes ?? [];
  if (passes.length > 8) throw new PlanError("trap.passes", "more than 8");
  for (const ps of passes) {
    if (![ps.nr, ps.arg1, ps.arg2].every(isNr)) throw new PlanError("trap.passes", `bad pass ${JSON.stringify(ps)}`);
    if (!t.nrs.includes(ps.nr)) throw new PlanError("trap.passes", `pass for ${ps.nr}, which nrs does not trap`);
  }
  const flagged = t.flagged ?? [];
  if (flagged.length > 8) throw new PlanError("trap.flagged", "more than 8");
  for (const f of flagged) {
    if (!isNr(f.nr) || !isNr(f.mask) || f.mask === 0 || !Number.isInteger(f.arg) || f.arg < 0 || f.arg > 5) {
      throw new PlanError("trap.flagged", `bad flagged call ${JSON.stringify(f)} (arg 0..5, mask not 0)`);
    }
    if (t.nrs.includes(f.nr) || f.nr === t.socketNr) throw new PlanError("trap.flagged", `${f.nr} is trapped already`);
  }
  // Optional fields are positional: an empty one before a given one is `-`.
  const optional = [
    t.ioctls?.length ? t.ioctls.join(",") : "-",
    passes.length ? passes.map((ps) => `${ps.nr}:${ps.arg1}:${ps.arg2}${ps.zero ? ":0" : ""}`).join(",") : "-",
    flagged.length ? flagged.map((f) => `${f.nr}:${f.arg}:${f.mask}`).join(",") : "-",
  ];
  while (optional.length && optional[optional.length - 1] === "-") optional.pop();
  return [["trap", t.mode, fd, t.socketNr === undefined ? "-" : String(t.socketNr), t.nrs.join(","), ...optional]];
}

function terminalDirectives(spec: Spec, opts: PlanOptions): Directive[] {
  if (!spec.process?.terminal) return [];
  return opts.consoleSocket ? [["terminal"], ["console_socket", opts.consoleSocket]] : [["terminal"]];
}
