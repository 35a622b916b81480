// implements `update`'s input: runc's flags or an OCI LinuxResources JSON document turned into
// the cgroup resources to write (runc update.go), each value checked with an error naming the
// flag or JSON field. The writing itself is Runtime.update -> CgroupManager.set.
import * as fs from "node:fs";
import { UserError } from "./cli.js";
import type { CgroupResources } from "./cgroups/index.js";
import { parseResourcesText } from "./spec/validate.js";

/** runc update's flags as commander hands them over: every value still a string. */
export interface UpdateFlags {
  resources?: string;
  blkioWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuBurst?: string;
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuIdle?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
}

const UNITS: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
const SIZE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;

/**
 * A memory size as docker's go-units RAMInBytes reads it (what runc uses): "1024", "512m",
 * "1.5GiB", "2 g"; binary multiples. "-1" (unlimited) is handled by the caller, as in runc.
 */
export function ramInBytes(text: string): number {
  const m = SIZE.exec(text);
  if (!m) throw new Error(`invalid size: '${text}'`);
  const value = Number.parseFloat(m[1]!);
  if (!Number.isFinite(value)) throw new Error(`invalid size: '${text}'`);
  return Math.trunc(value * UNITS[(m[2] ?? "").toLowerCase()]!);
}

function bad(flag: string, value: string, why: string): UserError {
  return new UserError(`invalid value for --${flag}: ${JSON.stringify(value)} (${why})`);
}

function unsigned(flag: string, value: string | undefined, max = 2 ** 64): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value) || Number(value) > max) return fail(bad(flag, value, max === 2 ** 64 ? "expected an unsigned integer" : `expected an integer from 0 to ${max}`));
  return Number(value);
}

function signed(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^-?\d+$/.test(value)) return fail(bad(flag, value, "expected an integer"));
  return Number(value);
}

function bytes(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "-1") return -1;
  try {
    return ramInBytes(value);
  } catch (e) {
    return fail(bad(flag, value, `${(e as Error).message}; expected bytes, optionally with a k, m, g, t or p suffix, or -1`));
  }
}

/** cpuset lists: "0-3,6". The kernel would say EINVAL; this names the flag. */
function cpuList(flag: string, value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) return fail(bad(flag, value, 'expected a list such as "0-2,4"'));
  return value;
}

function fail(e: Error): never {
  throw e;
}

/** Drop undefined members, so "not given" never reaches the writers as a key. */
function defined<T extends object>(o: T): T | undefined {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The resources the flags ask for (runc update without --resources). */
export function resourcesFromFlags(f: UpdateFlags): CgroupResources {
  if (f.l3CacheSchema || f.memBwSchema) throw new UserError("Intel RDT is not supported by tsor: --l3-cache-schema and --mem-bw-schema cannot be set");
  const weight = unsigned("blkio-weight", f.blkioWeight, 1000);
  const pids = signed("pids-limit", f.pidsLimit);
  const r: CgroupResources = {
    memory: defined({
      limit: bytes("memory", f.memory),
      swap: bytes("memory-swap", f.memorySwap),
      reservation: bytes("memory-reservation", f.memoryReservation),
      kernel: bytes("kernel-memory", f.kernelMemory),
      kernelTCP: bytes("kernel-memory-tcp", f.kernelMemoryTcp),
    }),
    cpu: defined({
      shares: unsigned("cpu-share", f.cpuShare),
      quota: signed("cpu-quota", f.cpuQuota),
      burst: unsigned("cpu-burst", f.cpuBurst),
      period: unsigned("cpu-period", f.cpuPeriod),
      realtimeRuntime: signed("cpu-rt-runtime", f.cpuRtRuntime),
      realtimePeriod: unsigned("cpu-rt-period", f.cpuRtPeriod),
      cpus: cpuList("cpuset-cpus", f.cpusetCpus),
      mems: cpuList("cpuset-mems", f.cpusetMems),
      idle: signed("cpu-idle", f.cpuIdle),
    }),
    // 0 is runc's "not given" for --blkio-weight.
    blockIO: weight ? { weight } : undefined,
    pids: pids !== undefined ? { limit: pids } : undefined,
  };
  return defined(r) ?? {};
}

/**
 * What runc update copies from a LinuxResources document into the container's cgroup config:
 * memory limit/reservation/swap (kernel ones only to warn), cpu, blockIO, pids, unified.
 * Devices, hugepage limits, network, rdma, swappiness and the OOM killer switch are not
 * updatable in runc (it even skips devices on purpose) and are ignored the same way here.
 */
export function updatableResources(r: CgroupResources): CgroupResources {
  const m = r.memory;
  const memory = m && defined({ limit: m.limit, reservation: m.reservation, swap: m.swap, kernel: m.kernel, kernelTCP: m.kernelTCP });
  return defined({ memory, cpu: r.cpu, blockIO: r.blockIO, pids: r.pids, unified: r.unified }) ?? {};
}

/**
 * runc update's rule: `--resources FILE` (or `-` for stdin) replaces every other flag;
 * otherwise the flags. `readStdin` is the seam for tests.
 */
export function updateResources(f: UpdateFlags, readStdin: () => string = () => fs.readFileSync(0, "utf8")): CgroupResources {
  if (f.resources === undefined || f.resources === "") return resourcesFromFlags(f);
  const source = f.resources === "-" ? "--resources (stdin)" : `--resources ${f.resources}`;
  let text: string;
  try {
    text = f.resources === "-" ? readStdin() : fs.readFileSync(f.resources, "utf8");
  } catch (e) {
    throw new UserError(`${source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return updatableResources(parseResourcesText(text, source) as CgroupResources);
}
