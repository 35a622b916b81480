// Resource usage read from a container's cgroup, in the shape `runc events` prints (runc's
// types/events.go: field names, units and which zero values are left out), and the parsers for
// the kernel's stat files that the v1 and v2 managers share.
import { posix as path } from "node:path";
import { isCode, type CgroupFs } from "./fs.js";

/**
 * A 64-bit counter: a number while it is exact, a bigint beyond 2^53 (memory limits are
 * 9223372036854771712 on v1 and runc reports "max" as 18446744073709551615). `statsJson` prints
 * both as JSON numbers, digit for digit.
 */
export type U64 = number | bigint;

export interface MemoryEntry {
  limit: U64;
  usage?: U64;
  max?: U64;
  failcnt: U64;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: U64;
}

/** runc's types.Stats, the parts a cgroupfs driver can fill (no Intel RDT, no interfaces). */
export interface CgroupStats {
  cpu: {
    usage?: { total?: U64; percpu?: U64[]; percpu_kernel?: U64[]; percpu_user?: U64[]; kernel: U64; user: U64 };
    throttling?: { periods?: U64; throttledPeriods?: U64; throttledTime?: U64 };
  };
  cpuset: { cpus?: number[]; mems?: number[] };
  memory: {
    cache?: U64;
    usage?: MemoryEntry;
    swap?: MemoryEntry;
    kernel?: MemoryEntry;
    kernelTCP?: MemoryEntry;
    raw?: Record<string, U64>;
  };
  pids: { current?: U64; limit?: U64 };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, { usage?: U64; max?: U64; failcnt: U64 }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

/** An empty record, every section present as runc prints them. */
export function emptyStats(): CgroupStats {
  return { cpu: {}, cpuset: {}, memory: {}, pids: {}, blkio: {}, hugetlb: {}, intel_rdt: {}, network_interfaces: null };
}

/** runc's `"max"` for an unlimited v2 value (math.MaxUint64). */
export const MAX_U64 = 2n ** 64n - 1n;

/** USER_HZ: cpuacct.stat counts in clock ticks, which runc converts to nanoseconds. */
const CLOCK_TICKS = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS;

/** A decimal counter as U64 ("max" -> MAX_U64); undefined if it is not one. */
export function parseU64(text: string): U64 | undefined {
  const t = text.trim();
  if (t === "max") return MAX_U64;
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

/** Sum or scale counters without losing precision past 2^53. */
export function addU64(a: U64, b: U64): U64 {
  if (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b)) return a + b;
  return narrow(BigInt(a) + BigInt(b));
}

export function mulU64(a: U64, k: number): U64 {
  if (typeof a === "number" && Number.isSafeInteger(a * k)) return a * k;
  return narrow(BigInt(a) * BigInt(k));
}

function narrow(v: bigint): U64 {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Cgroup file readers that treat a missing file (controller not there, older kernel) as absent. */
export class StatReader {
  constructor(private readonly fs: CgroupFs) {}

  text(dir: string, file: string): string | undefined {
    try {
      return this.fs.readFile(path.join(dir, file));
    } catch (err) {
      if (isCode(err, "ENOENT")) return undefined;
      throw err;
    }
  }

  u64(dir: string, file: string): U64 | undefined {
    const t = this.text(dir, file);
    return t === undefined ? undefined : parseU64(t);
  }

  /** "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events). */
  keyed(dir: string, file: string): Record<string, U64> | undefined {
    const t = this.text(dir, file);
    if (t === undefined) return undefined;
    const out: Record<string, U64> = {};
    for (const line of t.split("\n")) {
      const [key, value, extra] = line.trim().split(/\s+/);
      if (key === undefined || value === undefined || extra !== undefined) continue;
      const v = parseU64(value);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }

  /** Space-separated counters (cpuacct.usage_percpu). */
  list(dir: string, file: string): U64[] | undefined {
    const t = this.text(dir, file);
    if (t === undefined) return undefined;
    return t.trim().split(/\s+/).filter(Boolean).map((w) => parseU64(w) ?? 0);
  }
}

/** "0-3,8" -> [0, 1, 2, 3, 8] (cpuset.cpus/mems, cpuset.cpus.effective). */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const [lo, hi] = part.split("-").map(Number);
    if (lo === undefined || !Number.isInteger(lo)) continue;
    const end = hi !== undefined && Number.isInteger(hi) ? hi : lo;
    for (let i = lo; i <= end; i++) out.push(i);
  }
  return out;
}

/** cpuacct.stat / cpu.stat user and system time in ticks -> runc's nanoseconds. */
export function ticksToNs(ticks: U64 | undefined): U64 {
  return ticks === undefined ? 0 : mulU64(ticks, NS_PER_TICK);
}

/**
 * Drop the keys whose value is undefined, 0 or empty: Go's `omitempty`. The fields runc's
 * types declare without it (`failcnt`, `kernel`, `user`, `limit`) are always printed.
 */
const ALWAYS = new Set(["failcnt", "kernel", "user", "limit"]);

export function omitEmpty<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if ((v === 0 || v === 0n || v === "") && !ALWAYS.has(k)) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out as T;
}

/** `{"type":...,"id":...,"data":...}` as one JSON line, big counters printed exactly. */
export function eventJson(event: { type: string; id: string; data?: unknown }): string {
  const BIG = "\u0000big:";
  const text = JSON.stringify(event, (_k, v: unknown) => (typeof v === "bigint" ? `${BIG}${v}` : v));
  return `${text.replace(/"\\u0000big:(\d+)"/g, "$1")}\n`;
}
