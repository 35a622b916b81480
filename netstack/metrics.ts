// tsor-netd's Prometheus metrics (prom-client), on their own registry so that several daemons in
// one process (tests) do not collide. Served on --metrics-address as text at /metrics.
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class NetdMetrics {
  readonly registry = new Registry();
  /** Connections by transport: "local" (fd handed to a listener on this node) or "kernel". */
  readonly connections = new Counter({
    name: "tsor_netd_connections_total",
    help: "Connections set up, by transport",
    labelNames: ["transport"] as const,
    registers: [this.registry],
  });
  /** Connections that took the kernel path, by reason (not_local, netd_unavailable, ...). */
  readonly fallbacks = new Counter({
    name: "tsor_netd_fallbacks_total",
    help: "Connections sent to the kernel path instead of a local transport, by reason",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: "tsor_netd_connect_refused_total",
    help: "connect() to a TSoR pod on this node with nothing listening (ECONNREFUSED)",
    registers: [this.registry],
  });
  readonly listeners = new Gauge({ name: "tsor_netd_listeners", help: "Registered listeners", registers: [this.registry] });
  readonly sessions = new Gauge({ name: "tsor_netd_sessions", help: "Connected sentries (containers)", registers: [this.registry] });
  readonly connectSeconds = new Histogram({
    name: "tsor_netd_connect_seconds",
    help: "From a connect request to the hand-off of its fd to the listener's sentry",
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [this.registry],
  });
  /** Errors by kind: bad_message, peer_refused, delivery, internal, stale_hint (a connect sent on a hint found no listener). */
  readonly errors = new Counter({
    name: "tsor_netd_errors_total",
    help: "Errors, by kind",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  constructor() {
    // Every series exists from the start (a scrape sees 0, not nothing).
    for (const t of ["local", "kernel"]) this.connections.inc({ transport: t }, 0);
    for (const k of ["bad_message", "peer_refused", "delivery", "internal", "stale_hint"]) this.errors.inc({ kind: k }, 0);
  }

  /** Serves GET /metrics on host:port (port 0: any); resolves to the bound server. */
  serve(address: string): Promise<Server> {
    const { host, port } = parseHostPort(address);
    const server = createServer((req, res) => {
      if (req.method !== "GET" || (req.url !== "/metrics" && req.url !== "/")) {
        res.writeHead(404).end("not found: GET /metrics\n");
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(`${err.message}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve(server);
      });
    });
  }
}

/** "host:port", "[v6]:port" or ":port" (all addresses). */
export function parseHostPort(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid address ${JSON.stringify(text)}: want host:port`);
  return { host: m[1] ?? (m[2] || undefined), port };
}
