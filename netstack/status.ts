// `tsor netd status`: the daemon's status reply as text tables (pods, listeners, connections).
import type { StatusReply } from "./api.js";

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}

function hostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function formatStatus(s: StatusReply): string {
  const out: string[] = [];
  out.push(`netd ${s.name}  pid ${s.pid}  socket ${s.socket}  up ${s.uptimeSeconds}s`);
  out.push("");
  out.push(
    table([
      ["CONTAINER", "POD IPS", "POD", "LISTENERS", "OUT", "IN"],
      ...s.pods.map((p) => [
        p.containerId,
        p.podIps.join(",") || "-",
        p.pod ?? "-",
        String(p.listeners),
        String(p.connections.outgoing),
        String(p.connections.incoming),
      ]),
    ]),
  );
  out.push("");
  out.push(
    table([
      ["LISTENER", "CONTAINER", "REUSEPORT", "ACCEPTED"],
      ...s.listeners.map((l) => [hostPort(l.ip, l.port), l.containerId, l.reuseport ? "yes" : "no", String(l.accepted)]),
    ]),
  );
  out.push("");
  const c = s.connections;
  out.push(table([["CONNECTIONS", "LOCAL", "KERNEL", "REFUSED", "FAILED"], ["total", String(c.local), String(c.kernel), String(c.refused), String(c.failed)]]));
  return out.join("\n") + "\n";
}
