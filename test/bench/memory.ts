// Benchmark (not a test): what tsor keeps in memory per container, against runc, which keeps no
// process per container (runc exits after `start`; the container's own processes are the same
// under both). Measured from /proc: each sentry's RSS and PSS (smaps_rollup; PSS shares the node
// binary's pages among the processes that map them, so it is what a node pays per container),
// idle with several containers up; then one sentry while 20k connections come and go through it
// (redis-benchmark -k 0 against redis-server in the same container), and after: its RSS must
// stay bounded and its fds come back (no vsocket, watch or doorbell left behind).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { TSOR, makeBusyboxBundle } from "../lib/bundle.js";
import { appBundle, requireHostBinary } from "../apps/apps.js";
import { Harness } from "../integration/harness.js";
import { median } from "./table.js";

interface Mem {
  rssKiB: number;
  pssKiB: number;
}

/** RSS and PSS of `pid` (KiB), or null if it is gone. */
function memOf(pid: number): Mem | null {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN);
    return { rssKiB: field("Rss"), pssKiB: field("Pss") };
  } catch {
    return null;
  }
}

function fdCount(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/**
 * `tsor --root root args...`. Its stdio goes to a file, not a pipe: a created container keeps the
 * caller's stdio (as under runc), and a pipe would stay open as long as the container runs.
 */
function tsor(root: string, args: string[]): void {
  const log = path.join(root, "..", "tsor.log");
  const fd = fs.openSync(log, "w");
  try {
    const r = spawnSync(TSOR, ["--root", root, ...args], { stdio: ["ignore", fd, fd] });
    if (r.status !== 0) throw new Error(`tsor ${args.join(" ")} failed (${r.status}): ${fs.readFileSync(log, "utf8")}`);
  } finally {
    fs.closeSync(fd);
  }
}

function sentryPid(root: string, id: string): number {
  const state = JSON.parse(fs.readFileSync(path.join(root, id, "state.json"), "utf8"));
  return Number(state.tsor.sentryPid);
}

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export interface MemoryResult {
  containers: number;
  idle: Mem;
  churn: { connections: number; baseline: Mem; peakRssKiB: number; after: Mem; fdsBefore: number; fdsAfter: number };
}

/** Idle: `n` busybox `sleep` containers, each sentry measured once they all run. */
function measureIdle(n: number): Mem {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-bench-mem-"));
  const root = path.join(tmp, "root");
  const ids: string[] = [];
  try {
    const bundle = makeBusyboxBundle(path.join(tmp, "bundle"), ["sleep", "120"]);
    for (let i = 0; i < n; i++) {
      const id = `mem${i}`;
      tsor(root, ["create", "--bundle", bundle, id]);
      ids.push(id);
      tsor(root, ["start", id]);
    }
    sleepMs(1500); // start-up garbage collected, the loops idle
    const mems = ids.map((id) => memOf(sentryPid(root, id))).filter((m): m is Mem => m !== null);
    if (mems.length !== n) throw new Error(`only ${mems.length} of ${n} sentries found`);
    return { rssKiB: median(mems.map((m) => m.rssKiB)), pssKiB: median(mems.map((m) => m.pssKiB)) };
  } finally {
    for (const id of ids) spawnSync(TSOR, ["--root", root, "delete", "--force", id], { stdio: "ignore" });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** One container: redis-server, then `rounds` x redis-benchmark -k 0; the sentry sampled throughout. */
function measureChurn(perRound: number, rounds: number): MemoryResult["churn"] {
  for (const bin of ["/usr/bin/redis-server", "/usr/bin/redis-benchmark", "/usr/bin/redis-cli"]) requireHostBinary(bin, "redis");
  process.env.TSOR_RUNTIME = TSOR;
  const h = new Harness("bench-mem");
  const id = h.id("churn");
  try {
    const b = appBundle(
      h,
      `redis-server --port 6394 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --logfile /tmp/redis.log
wait_for "redis PING" sh -c '[ "$(redis-cli -p 6394 ping)" = PONG ]'
: > /tmp/ready
while [ ! -e /tmp/go ]; do sleep 0.05; done
for i in $(seq ${rounds}); do redis-benchmark -p 6394 -n ${perRound} -k 0 -c 10 -t get -q > /dev/null 2>&1; done
: > /tmp/done
while [ ! -e /tmp/stop ]; do sleep 0.05; done
redis-cli -p 6394 shutdown nosave >/dev/null 2>&1 || true
`,
    );
    const created = h.rt(["create", "--bundle", b.dir, id]);
    if (created.code !== 0) throw new Error(`create failed: ${created.stderr}`);
    h.rt(["start", id]);
    const pid = sentryPid(h.root, id);
    // The script's flag files, in the container's own /tmp (seen through its init's root).
    const appPid = JSON.parse(fs.readFileSync(path.join(h.root, id, "state.json"), "utf8")).pid;
    const inRootfs = (f: string) => `/proc/${appPid}/root/tmp/${f}`;
    const until = (f: string, ms: number, sample?: () => void) => {
      const end = Date.now() + ms;
      while (!fs.existsSync(inRootfs(f))) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${f}`);
        sample?.();
        sleepMs(100);
      }
    };
    until("ready", 20_000);
    sleepMs(1000);
    const baseline = memOf(pid)!;
    const fdsBefore = fdCount(pid);
    let peakRssKiB = baseline.rssKiB;
    fs.writeFileSync(inRootfs("go"), "");
    until("done", 300_000, () => {
      peakRssKiB = Math.max(peakRssKiB, memOf(pid)?.rssKiB ?? 0);
    });
    sleepMs(6000); // closes seen (close watches), the sentry's timers and a GC or two
    const after = memOf(pid)!;
    const fdsAfter = fdCount(pid);
    fs.writeFileSync(inRootfs("stop"), "");
    return { connections: perRound * rounds, baseline, peakRssKiB, after, fdsBefore, fdsAfter };
  } finally {
    h.rt(["delete", "--force", id]);
    h.cleanup();
  }
}

export function measureMemory(containers: number, perRound: number, rounds: number): MemoryResult {
  return { containers, idle: measureIdle(containers), churn: measureChurn(perRound, rounds) };
}

export function formatMemory(m: MemoryResult): string {
  const mib = (k: number) => `${(k / 1024).toFixed(1)} MiB`;
  const c = m.churn;
  return [
    `memory per container (tsor's sentry; runc keeps no process per container: 0 MiB)`,
    `  idle, ${m.containers} containers up (median sentry): PSS ${mib(m.idle.pssKiB)}, RSS ${mib(m.idle.rssKiB)}`,
    `  ${c.connections} connections through one sentry (redis-benchmark -k 0): RSS ${mib(c.baseline.rssKiB)} before, ${mib(c.peakRssKiB)} at peak, ${mib(c.after.rssKiB)} after; fds ${c.fdsBefore} before, ${c.fdsAfter} after`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
  console.log(formatMemory(quick ? measureMemory(3, 2000, 2) : measureMemory(8, 10_000, 2)));
}
