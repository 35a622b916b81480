// Who holds which (address, port) inside one container's socket stack: the bind table with
// Linux's conflict rules (net/ipv4/inet_connection_sock.c inet_bind_conflict), the listener lookup
// for connect() (net/ipv4/inet_hashtables.c __inet_lookup_listener: specific address before
// wildcard, AF_INET before dual-stack AF_INET6, SO_REUSEPORT groups share the load) and the
// ephemeral port allocator.
import { AF_INET, isAny, v4Of, type InetFamily } from "./address.js";

/** /proc/sys/net/ipv4/ip_local_port_range defaults: the ports bind(0) and connect() pick from. */
export const EPHEMERAL_PORT_MIN = 32768;
export const EPHEMERAL_PORT_MAX = 60999;

/** One bound socket, as the table sees it. */
export interface Binding<O> {
  readonly family: InetFamily;
  /** Bound address bytes (all zero: the wildcard). */
  readonly ip: Buffer;
  readonly port: number;
  /** IPV6_V6ONLY at bind time (AF_INET6 only): a wildcard then does not cover IPv4. */
  readonly v6only: boolean;
  /** SO_REUSEADDR / SO_REUSEPORT as set when the conflict is checked (the socket's current values). */
  reuseAddr(): boolean;
  reusePort(): boolean;
  listening: boolean;
  readonly owner: O;
}

/** The IPv4 and IPv6 address sets a binding covers: "all", one address (hex), or none. */
interface Coverage {
  v4: "all" | string | null;
  v6: "all" | string | null;
}

function coverage(b: Pick<Binding<unknown>, "family" | "ip" | "v6only">): Coverage {
  if (b.family === AF_INET) return { v4: isAny(b.ip) ? "all" : b.ip.toString("hex"), v6: null };
  if (isAny(b.ip)) return { v4: b.v6only ? null : "all", v6: "all" };
  const v4 = v4Of(b.ip);
  return v4 ? { v4: v4.toString("hex"), v6: null } : { v4: null, v6: b.ip.toString("hex") };
}

function setsOverlap(a: string | null, b: string | null): boolean {
  return a !== null && b !== null && (a === "all" || b === "all" || a === b);
}

function overlaps(a: Coverage, b: Coverage): boolean {
  return setsOverlap(a.v4, b.v4) || setsOverlap(a.v6, b.v6);
}

/**
 * inet_bind_conflict with relax=true, reuseport_ok=true (what both bind and listen use), one uid
 * per container: `sk` may share the port with `sk2` if both have SO_REUSEADDR and sk2 is not
 * listening, or if both have SO_REUSEPORT.
 */
function compatible<O>(sk: Binding<O>, sk2: Binding<O>): boolean {
  if (sk.reuseAddr() && sk2.reuseAddr() && !sk2.listening) return true;
  return sk.reusePort() && sk2.reusePort();
}

export class ListenerRegistry<O> {
  private readonly byPort = new Map<number, Binding<O>[]>();
  private readonly rr = new Map<string, number>();

  /**
   * The binding `b` would conflict with, or null. Called at bind and again at listen (as
   * inet_csk_listen_start re-runs get_port): by then the other sockets may have started listening.
   */
  conflict(b: Binding<O>): Binding<O> | null {
    const cov = coverage(b);
    for (const other of this.byPort.get(b.port) ?? []) {
      if (other === b) continue;
      if (!overlaps(cov, coverage(other))) continue;
      if (!compatible(b, other)) return other;
    }
    return null;
  }

  /** True if no binding at all uses `port` (for the ephemeral allocator). */
  portFree(port: number): boolean {
    return !this.byPort.get(port)?.length;
  }

  add(b: Binding<O>): void {
    const list = this.byPort.get(b.port) ?? [];
    list.push(b);
    this.byPort.set(b.port, list);
  }

  remove(b: Binding<O>): void {
    const list = this.byPort.get(b.port);
    if (!list) return;
    const i = list.indexOf(b);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(b.port);
  }

  /**
   * The listener a connection to (`ip`, `port`) reaches, or null. `ip` is the destination as the
   * client gave it (4 or 16 bytes; v4-mapped counts as IPv4).
   */
  lookup(ip: Buffer, port: number): Binding<O> | null {
    const v4 = v4Of(ip);
    const want = v4 ? v4.toString("hex") : ip.toString("hex");
    let best: Binding<O>[] = [];
    let bestScore = 0;
    for (const b of this.byPort.get(port) ?? []) {
      if (!b.listening) continue;
      const cov = coverage(b);
      const set = v4 ? cov.v4 : cov.v6;
      if (set === null || (set !== "all" && set !== want)) continue;
      const score = (set === "all" ? 1 : 3) + (b.family === AF_INET ? 1 : 0);
      if (score > bestScore) {
        best = [b];
        bestScore = score;
      } else if (score === bestScore) {
        best.push(b);
      }
    }
    if (best.length <= 1) return best[0] ?? null;
    // Several at the same rank: an SO_REUSEPORT group; spread connections round robin.
    const key = `${port}/${want}/${bestScore}`;
    const n = this.rr.get(key) ?? 0;
    this.rr.set(key, n + 1);
    return best[n % best.length];
  }
}

/** Picks ephemeral ports in [EPHEMERAL_PORT_MIN, EPHEMERAL_PORT_MAX], starting at a random offset. */
export class PortAllocator {
  constructor(
    readonly min = EPHEMERAL_PORT_MIN,
    readonly max = EPHEMERAL_PORT_MAX,
  ) {}

  /** A port for which `free(port)` holds, or null if the range is exhausted. */
  allocate(free: (port: number) => boolean): number | null {
    const span = this.max - this.min + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const port = this.min + ((start + i) % span);
      if (free(port)) return port;
    }
    return null;
  }
}
