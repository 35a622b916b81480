// Benchmark (not a test): nginx as a reverse proxy in front of an nginx upstream, both in ONE
// container (host binaries), wrk against the proxy with kept-alive client connections, under
// tsor and under runc, rounds interleaved, medians printed as tsor/runc. Two upstream patterns:
// nginx's default (HTTP/1.0 to the upstream: a new upstream connection per request, so every
// request pays connect, accept and their traps under tsor) and upstream keep-alive
// (`keepalive` + HTTP/1.1: connections reused, no trap per request); and, for reference, the
// proxy serving the file itself with sendfile + tcp_nopush (Debian's default nginx.conf: TCP_CORK
// set and cleared around every response, which the trap filter answers without a trap).
import { NGINX_FILES, appBundle, nginxConfig, requireHostBinary, runApp } from "../apps/apps.js";
import { Harness } from "../integration/harness.js";
import { RUNC, TSOR } from "../lib/bundle.js";
import { median, runcTsorRows } from "./table.js";

const CONF = nginxConfig(`  upstream reused { server 127.0.0.1:8091; keepalive 32; }
  server { listen 127.0.0.1:8091; location / { root /srv/www; } }
  server {
    listen 127.0.0.1:8090;
    location /new/ { proxy_pass http://127.0.0.1:8091/; }
    location /kept/ { proxy_pass http://reused/; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /static/ { alias /srv/www/; sendfile on; tcp_nopush on; }
  }`);

/** One round under `runtime`: req/s for each upstream pattern. */
function round(runtime: string, seconds: number): Map<string, number> {
  process.env.TSOR_RUNTIME = runtime;
  const h = new Harness("bench-proxy");
  try {
    const wrk = (tag: string, path: string) =>
      `echo "${tag} $(wrk -t1 -c16 -d${seconds}s http://127.0.0.1:8090${path} | grep Requests/sec | tr -s ' ' | cut -d' ' -f2)"`; // no awk: its /etc/alternatives link is not in the container
    const script = `nginx -c /etc/nginx-bench.conf
wait_for "nginx" curl -sf -o /dev/null http://127.0.0.1:8090/new/index.html
${wrk("new", "/new/index.html")}
${wrk("kept", "/kept/index.html")}
${wrk("static", "/static/index.html")}
kill $(cat /tmp/nginx.pid)
`;
    const b = appBundle(h, script, {
      files: { "etc/nginx-bench.conf": CONF, ...NGINX_FILES, "srv/www/index.html": "hello\n" },
    });
    const got = new Map<string, number>();
    for (const line of runApp(h, b, "proxy").stdout.split("\n")) {
      const m = /^(new|kept|static) ([\d.]+)$/.exec(line.trim());
      if (m) got.set(m[1]!, Number(m[2]));
    }
    return got;
  } finally {
    h.cleanup();
  }
}

export function measureProxy(seconds: number, rounds: number): Map<string, number> {
  requireHostBinary("/usr/sbin/nginx", "nginx-light");
  requireHostBinary("/usr/bin/wrk", "wrk");
  const samples = new Map<string, number[]>();
  for (let i = 0; i < rounds; i++) {
    for (const [name, rt] of [
      ["runc", RUNC],
      ["tsor", TSOR],
    ] as const) {
      for (const [k, v] of round(rt, seconds)) samples.set(`${name}.${k}`, [...(samples.get(`${name}.${k}`) ?? []), v]);
    }
  }
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

export function formatProxy(m: Map<string, number>, seconds: number, rounds: number): string {
  return [
    `nginx reverse proxy -> nginx upstream in one container (host binaries), wrk -c16 ${seconds}s, median of ${rounds}`,
    "",
    ...runcTsorRows(
      m,
      "upstream connections",
      [
        ["new per request (nginx default), req/s", "new"],
        ["kept alive (keepalive 32, HTTP/1.1), req/s", "kept"],
        ["proxy serves the file itself, req/s", "static"],
      ],
      40,
    ),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
  const seconds = quick ? 2 : 4;
  const rounds = Number(process.env.BENCH_RUNS ?? (quick ? 1 : 3));
  console.log(formatProxy(measureProxy(seconds, rounds), seconds, rounds));
}
