// Benchmark (not a test): pod to pod on one node (test/bench/podnet.ts) — redis GET/SET at c=1/10/50,
// 1-byte ping-pong RTT, one-way bulk and connection set-up between two CNI pods, under runc (kernel
// TCP over veth + bridge) and under tsor, interleaved round by round, median of BENCH_RUNS. Printed
// as tsor/runc ratios with issue 5's targets, and with the path that was really measured.
// --quick (or BENCH_QUICK=1): small sizes, one run (`make bench-quick`).
import { POD_RUNTIMES, PodNet, TARGETS, TARGETS_NOTE, formatPodNet, type PodNetSample, type PodNetSizes } from "./podnet.js";

export const FULL: PodNetSizes = { requests: 100_000, clients: [1, 10, 50], httpSeconds: 5, pingpong: 50_000, bulkMiB: 1024, connects: 5000 };
export const QUICK: PodNetSizes = { requests: 10_000, clients: [1, 10, 50], httpSeconds: 2, pingpong: 5_000, bulkMiB: 128, connects: 1000 };

const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const sizes = quick ? QUICK : FULL;
const runs = Number(process.env.BENCH_RUNS ?? (quick ? 1 : 5));

const net = await PodNet.open({ prefix: "tsor-bench", bridge: "tsor-bench0", subnet: "10.88.91.0/24" }, sizes);
const samples: PodNetSample[] = [];
try {
  await net.measure("runc"); // warm-up: page cache, redis's first start
  for (let i = 0; i < runs; i++) {
    // Interleaved, the order flipped every round, so both see the same machine state.
    for (const rt of i % 2 ? [...POD_RUNTIMES].reverse() : POD_RUNTIMES) samples.push(await net.measure(rt));
  }
  console.log([
    `pod-to-pod benchmark, median of ${runs}${quick ? " (quick sizes: noisier)" : ""}`,
    ...net.describe(),
    "",
    formatPodNet(samples, sizes, TARGETS),
    TARGETS_NOTE,
  ].join("\n"));
} finally {
  await net.close();
}
