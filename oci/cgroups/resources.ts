// linux.resources as the cgroup code needs it (runtime-spec config-linux.md), declared
// structurally so any object shaped like the spec's (oci/spec/schema.ts) can be passed, and the
// v1 -> v2 value conversions runc and crun use.

export interface DeviceRule {
  allow: boolean;
  /** "a" (all), "c" or "b"; default "a". */
  type?: string;
  /** Absent or null (or -1) means any. */
  major?: number | null;
  minor?: number | null;
  /** Some of "rwm"; default "rwm". */
  access?: string;
}

export interface WeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface CgroupResources {
  devices?: DeviceRule[];
  memory?: {
    limit?: number;
    reservation?: number;
    /** memory + swap, as on v1 (-1 = unlimited). */
    swap?: number;
    kernel?: number;
    kernelTCP?: number;
    swappiness?: number;
    disableOOMKiller?: boolean;
    useHierarchy?: boolean;
    checkBeforeUpdate?: boolean;
  };
  cpu?: {
    shares?: number;
    quota?: number;
    burst?: number;
    period?: number;
    realtimeRuntime?: number;
    realtimePeriod?: number;
    cpus?: string;
    mems?: string;
    idle?: number;
  };
  pids?: { limit?: number };
  blockIO?: {
    weight?: number;
    leafWeight?: number;
    weightDevice?: WeightDevice[];
    throttleReadBpsDevice?: ThrottleDevice[];
    throttleWriteBpsDevice?: ThrottleDevice[];
    throttleReadIOPSDevice?: ThrottleDevice[];
    throttleWriteIOPSDevice?: ThrottleDevice[];
  };
  hugepageLimits?: { pageSize: string; limit: number }[];
  /** cgroup v2 files written as is (key = file name in the container's cgroup). */
  unified?: Record<string, string>;
  /** Not supported by TSoR: a warning is recorded when set. */
  network?: unknown;
  rdma?: unknown;
}

/**
 * The rules runc appends to every container's device list (specconv.AllowedDevices): mknod of
 * any char/block device, /dev/null zero full random urandom tty ptmx, the pty slaves (136:*)
 * and /dev/net/tun (10:200). The v1 writer applies them after the config's own rules.
 */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, // /dev/null
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" }, // /dev/random
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, // /dev/full
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" }, // /dev/tty
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, // /dev/zero
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" }, // /dev/urandom
  { allow: true, type: "c", major: 136, access: "rwm" }, // /dev/pts/*
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }, // /dev/ptmx
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" }, // /dev/net/tun
];

/** A device rule as devices.allow / devices.deny take it: `c 1:3 rwm`, `a *:* rwm`. */
export function deviceRuleString(rule: DeviceRule): string {
  const num = (n: number | null | undefined) => (n === undefined || n === null || n < 0 ? "*" : String(n));
  return `${rule.type ?? "a"} ${num(rule.major)}:${num(rule.minor)} ${rule.access ?? "rwm"}`;
}

/**
 * cpu.shares (v1, 2..262144, default 1024) -> cpu.weight (v2, 1..10000, default 100): crun's
 * quadratic fit in log2 space, adopted by runc (cgroups.ConvertCPUSharesToCgroupV2Value).
 * 0 means unset.
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return Math.ceil(Math.pow(10, exponent));
}

/** blkio.weight (10..1000) -> io.weight (1..10000), linear, integer maths as runc. 0 = unset. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * memory.swap in the spec is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
 * Returns the v2 value: -1 = "max", 0 = leave unset. Mirrors runc's
 * ConvertMemorySwapToCgroupV2Value, errors included.
 */
export function swapToV2(swap: number, limit: number): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === -1) return swap;
  if (limit === 0) throw new Error("unable to set swap limit without memory limit");
  if (limit < 0) throw new Error(`invalid memory value: ${limit}`);
  if (swap < limit) throw new Error("memory+swap limit should be >= memory limit");
  return swap - limit;
}

/** pids.limit -> pids.max: > 0 as is, 0 -> "1" (as runc, matching systemd), < 0 -> "max". */
export function pidsMaxValue(limit: number): string {
  if (limit > 0) return String(limit);
  return limit === 0 ? "1" : "max";
}
