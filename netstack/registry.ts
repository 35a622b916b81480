// The node's listener registry: which sentry session owns (pod IP or wildcard, port). Each pod has
// its own IPs, so two pods listening on 0.0.0.0:8080 do not conflict: a wildcard listener means
// "any address of *this* pod". Within one pod (containers of a pod share its netns and IPs) the
// Linux rules for listening sockets apply: overlapping listeners on one port are EADDRINUSE unless
// both set SO_REUSEPORT (SO_REUSEADDR never lets two *listening* sockets share, see
// inet_bind_conflict). Lookup for connect() is the kernel's: a specific address before a wildcard.
import { isLoopbackIp, isWildcard, type ErrorCode } from "./api.js";

/** What the registry needs to know about a session (a sentry = one container). */
export interface Owner {
  readonly containerId: string;
  /** Canonical IPs (api.ts canonicalIp). */
  readonly podIps: readonly string[];
  /** The pod's network namespace; containers of one pod share it. */
  readonly netns: string;
}

export interface ListenerEntry<O extends Owner> {
  /** Canonical IP; "0.0.0.0" and "::" both mean every address of the owner's pod. */
  readonly ip: string;
  readonly port: number;
  readonly reuseport: boolean;
  /** Its sentry takes QUEUED_MARK off each connection at accept (api.ts FEATURES). */
  readonly queuedMark: boolean;
  readonly owner: O;
  /** listen() calls of the owner for the same address (SO_REUSEPORT sockets of one container). */
  refs: number;
  /** Connections handed to it. */
  accepted: number;
}

export type ListenResult = { ok: true } | { ok: false; error: ErrorCode; message: string };

function samePod(a: Owner, b: Owner): boolean {
  if (a === b) return true;
  if (a.netns !== "" && a.netns === b.netns) return true;
  return a.podIps.some((ip) => b.podIps.includes(ip));
}

/** The addresses a listener on `ip` of `owner` takes: a wildcard takes the pod's. */
function covered(owner: Owner, ip: string): readonly string[] {
  return isWildcard(ip) ? owner.podIps : [ip];
}

export class NetRegistry<O extends Owner> {
  private readonly byPort = new Map<number, ListenerEntry<O>[]>();
  private readonly rr = new Map<string, number>();

  /** Registers a listener of `owner` on (`ip`, `port`); `ip` canonical. */
  listen(owner: O, ip: string, port: number, reuseport: boolean, queuedMark = false): ListenResult {
    if (isLoopbackIp(ip)) {
      return { ok: false, error: "EADDRNOTAVAIL", message: `${ip}:${port}: loopback listeners stay inside their pod` };
    }
    if (!isWildcard(ip) && owner.podIps.length > 0 && !owner.podIps.includes(ip)) {
      return { ok: false, error: "EADDRNOTAVAIL", message: `${ip}:${port}: not an address of ${owner.containerId} (${owner.podIps.join(", ")})` };
    }
    const list = this.byPort.get(port) ?? [];
    for (const e of list) {
      if (e.owner === owner && e.ip === ip && e.reuseport && reuseport) {
        e.refs++;
        return { ok: true };
      }
    }
    for (const e of list) {
      if (!samePod(owner, e.owner)) {
        // Wildcards are per pod: two pods collide only on an address both claim.
        const mine = covered(owner, ip);
        if (!covered(e.owner, e.ip).some((a) => mine.includes(a))) continue;
        return { ok: false, error: "EADDRINUSE", message: `${ip}:${port}: address claimed by ${e.owner.containerId}, another pod` };
      }
      if (e.ip !== ip && !isWildcard(e.ip) && !isWildcard(ip)) continue;
      if (!(e.reuseport && reuseport)) {
        return { ok: false, error: "EADDRINUSE", message: `${ip}:${port}: ${e.ip}:${port} is in use by ${e.owner.containerId}` };
      }
    }
    list.push({ ip, port, reuseport, queuedMark, owner, refs: 1, accepted: 0 });
    this.byPort.set(port, list);
    return { ok: true };
  }

  /** Drops one listen() of `owner` on (`ip`, `port`); false if it had none. */
  unlisten(owner: O, ip: string, port: number): boolean {
    const list = this.byPort.get(port);
    const i = list?.findIndex((e) => e.owner === owner && e.ip === ip) ?? -1;
    if (!list || i < 0) return false;
    if (--list[i].refs === 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(port);
    return true;
  }

  /** Drops everything `owner` registered (its session ended); returns how many entries. */
  dropOwner(owner: O): number {
    let n = 0;
    for (const [port, list] of this.byPort) {
      const keep = list.filter((e) => e.owner !== owner);
      n += list.length - keep.length;
      if (keep.length) this.byPort.set(port, keep);
      else this.byPort.delete(port);
    }
    return n;
  }

  /**
   * The listener a connection to (`ip`, `port`) reaches: a listener on exactly `ip`, else a
   * wildcard one of a session whose pod has `ip`. Several (SO_REUSEPORT across containers of a
   * pod): round robin.
   */
  lookup(ip: string, port: number): ListenerEntry<O> | undefined {
    const list = this.byPort.get(port) ?? [];
    let found = list.filter((e) => e.ip === ip);
    if (found.length === 0) found = list.filter((e) => isWildcard(e.ip) && e.owner.podIps.includes(ip));
    if (found.length <= 1) return found[0];
    const key = `${ip}|${port}`;
    const n = this.rr.get(key) ?? 0;
    this.rr.set(key, n + 1);
    return found[n % found.length];
  }

  /** Every entry, by port then address. */
  entries(): ListenerEntry<O>[] {
    return [...this.byPort.values()].flat().sort((a, b) => a.port - b.port || a.ip.localeCompare(b.ip));
  }

  get size(): number {
    let n = 0;
    for (const list of this.byPort.values()) n += list.length;
    return n;
  }
}
