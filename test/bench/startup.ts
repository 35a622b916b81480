// Benchmark (not a test): time to `run` a busybox `true` under tsor and under runc, median of N
// runs each, interleaved so both see the same machine state. Printed as a ratio against runc
// (issue 3's target: tsor <= 2x runc).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RUNC, TSOR, makeBusyboxBundle } from "../lib/bundle.js";
import { median } from "./table.js";

export interface StartupResult {
  runtime: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/** One timed `run` of the bundle; throws if the runtime fails. */
function timeRun(bin: string, root: string, bundle: string, id: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, ["--root", root, "run", "--bundle", bundle, id], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${bin} run failed (${r.status}): ${r.stderr}`);
  return ms;
}

export function measureStartup(runs: number): StartupResult[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-bench-start-"));
  try {
    const bundle = makeBusyboxBundle(path.join(tmp, "bundle"), ["true"]);
    const runtimes = [
      { name: "runc", bin: RUNC },
      { name: "tsor", bin: TSOR },
    ];
    const times = new Map<string, number[]>(runtimes.map((r) => [r.name, []]));
    // One warm-up each (page cache, node's compile cache), then interleaved measured runs.
    for (const r of runtimes) timeRun(r.bin, path.join(tmp, `root-${r.name}`), bundle, "warmup");
    for (let i = 0; i < runs; i++) {
      for (const r of runtimes) times.get(r.name)!.push(timeRun(r.bin, path.join(tmp, `root-${r.name}`), bundle, `b${i}`));
    }
    return runtimes.map((r) => {
      const t = times.get(r.name)!;
      return { runtime: r.name, medianMs: median(t), minMs: Math.min(...t), maxMs: Math.max(...t) };
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatStartup(results: StartupResult[], runs: number): string {
  const runc = results.find((r) => r.runtime === "runc")!;
  const lines = [`container start-up: \`run\` of busybox true, median of ${runs} (ms)`, "runtime   median      min      max   vs runc"];
  for (const r of results) {
    lines.push(
      `${r.runtime.padEnd(8)}${r.medianMs.toFixed(1).padStart(8)}${r.minMs.toFixed(1).padStart(9)}${r.maxMs.toFixed(1).padStart(9)}${(r.medianMs / runc.medianMs).toFixed(2).padStart(9)}x`,
    );
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.env.BENCH_RUNS ?? 15);
  console.log(formatStartup(measureStartup(runs), runs));
}
