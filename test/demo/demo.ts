// `make demo`: issue 5's pod-to-pod demo. Two pods on one node made as a kubelet makes them (netns +
// CNI bridge/host-local on a bridge of the demo's own), redis-server, a Node.js http server and a
// sockbench server in pod A, redis-benchmark, wrk and sockbench clients in pod B: first both
// containers under runc (kernel TCP over veth + bridge), then both under tsor. A side-by-side table with tsor/runc ratios and the path that
// was really measured, then the container start-up comparison against runc. Everything it made
// (containers, netns, veth, bridge, leases, temp dirs) is removed at the end, also on Ctrl-C.
import { formatStartup, measureStartup } from "../bench/startup.js";
import { POD_RUNTIMES, PodNet, TARGETS, TARGETS_NOTE, formatPodNet, type PodNetSample, type PodNetSizes } from "../bench/podnet.js";

const SIZES: PodNetSizes = { requests: 50_000, clients: [1, 10, 50], httpSeconds: 3, pingpong: 100_000, bulkMiB: 1024, connects: 2000 };
const STARTUP_RUNS = 5;

console.log("== TSoR demo: pod to pod on one node, runc+bridge vs tsor ==");
const t0 = Date.now();
const net = await PodNet.open({ prefix: "tsor-demo", bridge: "tsor-demo0", subnet: "10.88.90.0/24" }, SIZES);
try {
  console.log(net.describe().join("\n"));
  const samples: PodNetSample[] = [];
  for (const rt of POD_RUNTIMES) {
    const t = Date.now();
    process.stdout.write(`\nmeasuring under ${rt} ... `);
    const s = await net.measure(rt);
    samples.push(s);
    console.log(`done in ${((Date.now() - t) / 1000).toFixed(1)} s (redis GET c=1 ${s.redis.get("GET c=1")?.toFixed(0)} req/s, RTT ${s.rttUs.toFixed(2)} µs, bulk ${s.bulkMiBps.toFixed(0)} MiB/s)`);
  }
  console.log(`\n${formatPodNet(samples, SIZES, TARGETS)}\n${TARGETS_NOTE}`);
  console.log("  one run each: `make bench` repeats it with larger sizes and prints medians");
} finally {
  await net.close();
}
console.log(`\n== container start-up, measured now against Debian's runc ==`);
console.log(formatStartup(measureStartup(STARTUP_RUNS), STARTUP_RUNS));
console.log(`\ndemo done in ${((Date.now() - t0) / 1000).toFixed(0)} s; pods, containers and temp dirs removed`);
