// Benchmark (not a test): redis-server and redis-benchmark inside ONE container (host binaries,
// TCP to 127.0.0.1), under tsor and under runc, rounds interleaved, medians printed as tsor/runc.
// Two client patterns: kept-alive connections (-k 1: after set-up only read/write/epoll, no trap)
// and a new connection per request (-k 0: every request pays connect, accept and the server's
// option calls, each a trap under tsor). Natively, the same redis over TCP loopback and over an
// AF_UNIX socket shows what the socketpair itself costs on this machine, with no runtime at all.
import { spawnSync } from "node:child_process";

import { appBundle, requireHostBinary, runApp } from "../apps/apps.js";
import { Harness } from "../integration/harness.js";
import { RUNC, TSOR } from "../lib/bundle.js";
import { median, num, ratio, runcTsorRows } from "./table.js";

interface Sizes {
  keepalive: number;
  perRequest: number;
  clients: number;
}
const FULL: Sizes = { keepalive: 100_000, perRequest: 10_000, clients: 10 };
const QUICK: Sizes = { keepalive: 20_000, perRequest: 2_000, clients: 10 };

const PORT = 6392;

/** `k=<0|1> <rps>` and `unix <rps>` lines from the script's output. */
function parse(out: string): Map<string, number> {
  const got = new Map<string, number>();
  for (const line of out.split("\n")) {
    const m = /^(\S+) GET: ([\d.]+) requests per second/.exec(line);
    if (m) got.set(m[1]!, Number(m[2]));
  }
  return got;
}

/** The shell lines that run the two client patterns (and, with `unixSocket`, kept-alive over AF_UNIX). */
function clientScript(s: Sizes, unixSocket?: string): string {
  const bench = (tag: string, args: string) =>
    `redis-benchmark ${args} -c ${s.clients} -t get -q | tr '\\r' '\\n' | grep 'requests per second' | tail -n 1 | sed 's/^/${tag} /'`;
  const lines = [bench("k=1", `-h 127.0.0.1 -p ${PORT} -n ${s.keepalive} -k 1`), bench("k=0", `-h 127.0.0.1 -p ${PORT} -n ${s.perRequest} -k 0`)];
  if (unixSocket) lines.push(bench("unix", `-s ${unixSocket} -n ${s.keepalive} -k 1`));
  return lines.join("\n");
}

const SERVER = (unixSocket?: string) =>
  `redis-server --port ${PORT} --bind 127.0.0.1 ${unixSocket ? `--unixsocket ${unixSocket} ` : ""}--save '' --appendonly no --dir /tmp --daemonize yes --logfile /tmp/redis.log`;

/** One round in a container under `runtime` (a Harness is bound to TSOR_RUNTIME when made). */
function containerRound(runtime: string, s: Sizes): Map<string, number> {
  process.env.TSOR_RUNTIME = runtime;
  const h = new Harness("bench-redis1");
  try {
    const script = `${SERVER()}
wait_for "redis PING" sh -c '[ "$(redis-cli -h 127.0.0.1 -p ${PORT} ping)" = PONG ]'
${clientScript(s)}
redis-cli -h 127.0.0.1 -p ${PORT} shutdown nosave >/dev/null 2>&1 || true
`;
    return parse(runApp(h, appBundle(h, script), "redis1").stdout);
  } finally {
    h.cleanup();
  }
}

/** One round natively in a fresh netns: TCP loopback and AF_UNIX. */
function nativeRound(s: Sizes): Map<string, number> {
  const sock = "/tmp/tsor-bench-redis1.sock";
  const script = `set -e; ip link set lo up; ${SERVER(sock)}
for i in $(seq 50); do [ "$(redis-cli -p ${PORT} ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
${clientScript(s, sock)}
redis-cli -p ${PORT} shutdown nosave >/dev/null 2>&1 || true`;
  const r = spawnSync("unshare", ["--net", "sh", "-c", script], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`native redis round failed (${r.status}): ${r.stderr}`);
  return parse(r.stdout);
}

export function measureRedis1(s: Sizes, rounds: number): Map<string, number> {
  for (const bin of ["/usr/bin/redis-server", "/usr/bin/redis-benchmark", "/usr/bin/redis-cli"]) requireHostBinary(bin, "redis");
  const samples = new Map<string, number[]>();
  const add = (prefix: string, got: Map<string, number>) => {
    for (const [k, v] of got) samples.set(`${prefix}.${k}`, [...(samples.get(`${prefix}.${k}`) ?? []), v]);
  };
  for (let i = 0; i < rounds; i++) {
    add("native", nativeRound(s));
    add("runc", containerRound(RUNC, s));
    add("tsor", containerRound(TSOR, s));
  }
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

export function formatRedis1(m: Map<string, number>, s: Sizes, rounds: number): string {
  const lines = [
    `redis in one container (host binaries, TCP to 127.0.0.1), median of ${rounds}; redis-benchmark GET, ${s.clients} clients`,
    `  kept-alive: -k 1 -n ${s.keepalive} (no trap after set-up)   per request: -k 0 -n ${s.perRequest} (connect, accept, options: traps)`,
    "",
    ...runcTsorRows(
      m,
      "metric",
      [
        ["GET kept-alive (req/s)", "k=1"],
        ["GET connection per request", "k=0"],
      ],
      30,
    ),
  ];
  const tcp = m.get("native.k=1");
  const unix = m.get("native.unix");
  lines.push(
    "",
    `natively (no runtime, fresh netns), kept-alive GET: TCP loopback ${num(tcp)}, AF_UNIX ${num(unix)} req/s (AF_UNIX/TCP ${ratio(unix, tcp)}):`,
    "  what a socketpair costs redis on this machine before any runtime is involved",
  );
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
  const rounds = Number(process.env.BENCH_RUNS ?? (quick ? 1 : 3));
  const sizes = quick ? QUICK : FULL;
  console.log(formatRedis1(measureRedis1(sizes, rounds), sizes, rounds));
}
