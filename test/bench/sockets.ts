// Benchmark (not a test): TCP over loopback with test/bench/sockbench (connect rate and latency,
// 1-byte ping-pong RTT, one-way bulk throughput) run (a) natively in a fresh netns, (b) in a
// busybox container under this checkout's tsor and (c) the same bundle under runc, interleaved in
// the same run, median of BENCH_RUNS. Printed as ratios against native; issue 4's targets for tsor:
// connect latency <= 2x native, RTT and bulk at least as good as native loopback TCP.
// BENCH_QUICK=1: small sizes, one run (`make bench-quick`).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RUNC, TSOR, makeBusyboxBundle, repoRoot } from "../lib/bundle.js";
import { allowNetAdmin, progCommand } from "../syscalls/runner.js";
import { median } from "./table.js";

const BENCH_DIR = path.join(repoRoot(), "test", "bench");
export const SOCKBENCH = path.join(BENCH_DIR, "build", "sockbench");
/** test/bench/trapfloor.c: a trapped connect answered by a C supervisor (no sentry). */
export const TRAPFLOOR = path.join(BENCH_DIR, "build", "trapfloor");

export type Mode = "connrate" | "pingpong" | "bulk";
export type Where = "native" | "tsor" | "runc";
const MODES: Mode[] = ["connrate", "pingpong", "bulk"];
const WHERE: Where[] = ["native", "tsor", "runc"];

/** One sockbench output line as numbers, plus the transport it reported. */
interface Sample {
  values: Record<string, number>;
  transport: string;
}

export interface Sizes {
  connrate: number;
  pingpong: number;
  bulk: number;
}

export const FULL: Sizes = { connrate: 5000, pingpong: 20000, bulk: 1024 };
export const QUICK: Sizes = { connrate: 500, pingpong: 2000, bulk: 64 };

/** `make -C test/bench`; throws with the compiler's output when it fails. */
export function buildSockbench(): void {
  const r = spawnSync("make", ["-C", BENCH_DIR, "-s"], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`make -C ${BENCH_DIR} failed (${r.status}):\n${r.stdout}${r.stderr}${r.error?.message ?? ""}`);
}

function parse(mode: Mode, where: Where, out: string): Sample {
  const line = out.split("\n").find((l) => l.startsWith(`${mode} `));
  if (!line) throw new Error(`sockbench ${mode} (${where}) printed no result:\n${out}`);
  const values: Record<string, number> = {};
  let transport = "unknown";
  for (const kv of line.split(" ").slice(1)) {
    const [k, v] = kv.split("=");
    if (k === "transport") transport = v!;
    else if (k !== "cpu") values[k!] = Number(v);
  }
  return { values, transport };
}

class Runner {
  readonly tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-bench-sock-"));
  private bundles = new Map<Mode, string>();
  private seq = 0;

  constructor(private sizes: Sizes) {
    for (const mode of MODES) {
      const dir = makeBusyboxBundle(path.join(this.tmp, `bundle-${mode}`),
        ["sh", "-c", progCommand(`/bin/sockbench ${mode} ${sizes[mode]}`)], allowNetAdmin);
      fs.copyFileSync(SOCKBENCH, path.join(dir, "rootfs", "bin", "sockbench"));
      fs.chmodSync(path.join(dir, "rootfs", "bin", "sockbench"), 0o755);
      this.bundles.set(mode, dir);
    }
  }

  run(mode: Mode, where: Where): Sample {
    const argv = where === "native"
      ? ["unshare", "--net", "sh", "-c", progCommand(`${SOCKBENCH} ${mode} ${this.sizes[mode]}`)]
      : [where === "tsor" ? TSOR : RUNC, "--root", path.join(this.tmp, `root-${where}`), "run",
        "--bundle", this.bundles.get(mode)!, `sock-${mode}-${++this.seq}`];
    const r = spawnSync(argv[0]!, argv.slice(1), {
      encoding: "utf8", timeout: 300_000, killSignal: "SIGKILL", stdio: ["ignore", "pipe", "pipe"],
    });
    if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.error?.message ?? ""}`);
    return parse(mode, where, r.stdout);
  }

  close(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

export interface SocketResults {
  sizes: Sizes;
  runs: number;
  /** median value per `${where}.${metric}` */
  median: Map<string, number>;
  /** transports reported per where (all runs, all modes) */
  transports: Map<Where, Set<string>>;
  /** the first error of a runtime that failed (its later runs were skipped) */
  failed: Map<Where, string>;
  /** trapfloor's `<mode>.median_us` / `.p90_us` / `.mean_us` per FloorMode, the median of its runs */
  floor: Map<string, number>;
}

/** trapfloor's answers: a socketpair end installed (ADDFD, as the sentry's connect), or a plain SEND. */
type FloorMode = "addfd" | "answer";
const FLOOR_MODES: FloorMode[] = ["addfd", "answer"];

/** One run of trapfloor: its numbers by key. */
function runTrapFloor(n: number, mode: FloorMode): Record<string, number> {
  const r = spawnSync(TRAPFLOOR, [String(n), mode], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${TRAPFLOOR} ${n} ${mode} failed (${r.status ?? r.signal}): ${r.stderr}`);
  const line = r.stdout.split("\n").find((l) => l.startsWith("trapfloor "));
  if (!line) throw new Error(`trapfloor printed no result: ${r.stdout}`);
  return Object.fromEntries(line.split(" ").slice(1).map((kv) => kv.split("=")).map(([k, v]) => [k!, Number(v)]));
}

export function measureSockets(sizes: Sizes, runs: number): SocketResults {
  buildSockbench();
  for (const bin of [TSOR, RUNC]) if (!fs.existsSync(bin)) throw new Error(`${bin} is missing (make setup)`);
  const runner = new Runner(sizes);
  const samples = new Map<string, number[]>();
  const transports = new Map<Where, Set<string>>(WHERE.map((w) => [w, new Set<string>()]));
  const failed = new Map<Where, string>();
  const floorSamples = new Map<string, number[]>();
  try {
    // One warm-up each (page cache), then interleaved measured runs. A container runtime that
    // fails is reported under the table instead of ending the benchmark.
    runner.run("pingpong", "native");
    for (let i = 0; i < runs; i++) {
      for (const mode of MODES) {
        for (const where of WHERE) {
          if (failed.has(where)) continue;
          let s: Sample;
          try {
            s = runner.run(mode, where);
          } catch (e) {
            if (where === "native") throw e;
            failed.set(where, (e as Error).message);
            continue;
          }
          transports.get(where)!.add(s.transport);
          for (const [k, v] of Object.entries(s.values)) {
            const key = `${where}.${k}`;
            samples.set(key, [...(samples.get(key) ?? []), v]);
          }
        }
      }
      for (const mode of FLOOR_MODES) {
        for (const [k, v] of Object.entries(runTrapFloor(sizes.connrate, mode))) {
          if (k !== "n") floorSamples.set(`${mode}.${k}`, [...(floorSamples.get(`${mode}.${k}`) ?? []), v]);
        }
      }
    }
  } finally {
    runner.close();
  }
  const medians = (m: Map<string, number[]>) => new Map([...m].map(([k, v]) => [k, median(v)]));
  return { sizes, runs, median: medians(samples), transports, failed, floor: medians(floorSamples) };
}

interface Row {
  label: string;
  metric: string;
  /** ratio direction: latency rows want small, rate rows want large */
  lowerIsBetter: boolean;
  /** tsor's target as a bound on tsor/native */
  target?: { bound: number; text: string };
}

const ROWS: Row[] = [
  { label: "connect() latency (µs)", metric: "connect_us", lowerIsBetter: true, target: { bound: 2, text: "<= 2x native" } },
  { label: "connections/s", metric: "conn_per_s", lowerIsBetter: false },
  { label: "1-byte RTT (µs)", metric: "rtt_us", lowerIsBetter: true, target: { bound: 1, text: "<= 1x native" } },
  { label: "bulk one-way (MiB/s)", metric: "mib_per_s", lowerIsBetter: false, target: { bound: 1, text: ">= 1x native" } },
];

export function formatSockets(res: SocketResults): string {
  const { sizes, runs, median: m } = res;
  const num = (v: number | undefined) => (v === undefined ? "-" : v >= 1000 ? v.toFixed(0) : v.toFixed(2));
  const lines = [
    `socket benchmark: sockbench (static C; server thread + client in one process; TCP to 127.0.0.1), median of ${runs}`,
    `  connrate ${sizes.connrate} connections, pingpong ${sizes.pingpong} round trips (both threads on one CPU), bulk ${sizes.bulk} MiB`,
    "  native: kernel TCP over lo in a fresh netns (unshare --net), no container",
    `  tsor:   busybox bundle under ${path.relative(process.cwd(), TSOR) || TSOR} run (its default flags), new netns, lo up`,
    "  runc:   the same bundle under runc (kernel TCP in the container's netns), for reference;",
    "          runc/nat is this run's noise for an unchanged kernel path: read tsor's verdicts with it",
    "",
    `${"metric".padEnd(24)}${"native".padStart(10)}${"tsor".padStart(10)}${"tsor/nat".padStart(10)}${"runc".padStart(10)}${"runc/nat".padStart(10)}   target (tsor)`,
  ];
  for (const row of ROWS) {
    const nat = m.get(`native.${row.metric}`);
    const ts = m.get(`tsor.${row.metric}`);
    const rc = m.get(`runc.${row.metric}`);
    const ratio = (v: number | undefined) => (v === undefined || !nat ? "-" : `${(v / nat).toFixed(2)}x`);
    let verdict = "";
    if (row.target && ts !== undefined && nat) {
      const r = ts / nat;
      const met = row.lowerIsBetter ? r <= row.target.bound : r >= row.target.bound;
      verdict = `${row.target.text}: ${met ? "met" : "NOT met"}`;
    }
    lines.push(`${row.label.padEnd(24)}${num(nat).padStart(10)}${num(ts).padStart(10)}${ratio(ts).padStart(10)}${num(rc).padStart(10)}${ratio(rc).padStart(10)}   ${verdict}`);
  }
  lines.push("", `client socket (kernel's protocol name for the fd; else /proc/net/{tcp,tcp6,unix}): ${WHERE.map((w) => `${w} ${[...res.transports.get(w)!].join("/") || "-"}`).join(", ")}`);
  for (const [where, err] of res.failed) lines.push(`${where} FAILED (later ${where} runs skipped): ${err.trim()}`);
  const f = (mode: FloorMode) => ["median", "p90", "mean"].map((k) => `${k} ${res.floor.get(`${mode}.${k}_us`)?.toFixed(1) ?? "-"} µs`).join(", ");
  lines.push(
    `the floor of a trapped connect here (test/bench/trapfloor.c: a C supervisor with synchronous wake-ups, no sentry):`,
    `  a socketpair end installed (ADDFD + SEND, as the sentry does): ${f("addfd")}`,
    `  answered only (SEND): ${f("answer")}`,
    `  (ADDFD wakes the app as an ordinary wake-up, onto an idle vCPU when there is one; the median is low when it stays)`,
  );
  const tsorSeen = res.transports.get("tsor")!;
  if (!res.failed.has("tsor") && tsorSeen.has("kernel-tcp")) {
    lines.push("  note: under tsor the client socket was kernel TCP, so these tsor numbers measure",
      "  kernel TCP in a tsor container, not TSoR's virtual sockets");
  } else if (!res.failed.has("tsor") && tsorSeen.has("unknown")) {
    lines.push("  note: under tsor the client socket's kind could not be told (neither TCP nor AF_UNIX found)");
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.env.BENCH_QUICK === "1";
  const runs = Number(process.env.BENCH_RUNS ?? (quick ? 1 : 3));
  console.log(formatSockets(measureSockets(quick ? QUICK : FULL, runs)));
}
