// Internet socket addresses as the sentry keeps them: the raw address bytes (4 for IPv4, 16 for
// IPv6) and the port, independent of the app's wire format (sentry/syscalls/sockaddr.ts parses
// and formats struct sockaddr_in/in6). Also text forms, for netd and logs.

/** The socket families TSoR virtualizes (x86_64 / asm-generic values). */
export const AF_INET = 2;
export const AF_INET6 = 10;
export type InetFamily = typeof AF_INET | typeof AF_INET6;

export interface InetAddr {
  /** AF_INET: 4 address bytes; AF_INET6: 16 (a v4-mapped ::ffff:a.b.c.d stays 16 bytes). */
  readonly family: InetFamily;
  readonly ip: Buffer;
  readonly port: number;
  /** sin6_flowinfo and sin6_scope_id, kept for getsockname round trips (0 for AF_INET). */
  readonly flowinfo?: number;
  readonly scopeId?: number;
}

const V4_MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

export function inetAddr(family: InetFamily, ip: Buffer, port: number): InetAddr {
  return { family, ip, port };
}

export function withPort(a: InetAddr, port: number): InetAddr {
  return { ...a, port };
}

export function isAny(ip: Buffer): boolean {
  return ip.every((b) => b === 0);
}

export function isV4Mapped(ip: Buffer): boolean {
  return ip.length === 16 && ip.subarray(0, 12).equals(V4_MAPPED_PREFIX);
}

/** The IPv4 address behind `a` (plain IPv4 or v4-mapped IPv6), else null. */
export function v4Of(ip: Buffer): Buffer | null {
  if (ip.length === 4) return ip;
  return isV4Mapped(ip) ? ip.subarray(12) : null;
}

export function v4Mapped(ip4: Buffer): Buffer {
  return Buffer.concat([V4_MAPPED_PREFIX, ip4]);
}

/** 127.0.0.0/8, ::1, and their v4-mapped forms. */
export function isLoopback(ip: Buffer): boolean {
  const v4 = v4Of(ip);
  if (v4) return v4[0] === 127;
  return ip.subarray(0, 15).every((b) => b === 0) && ip[15] === 1;
}

export const IPV4_ANY = Buffer.alloc(4);
export const IPV6_ANY = Buffer.alloc(16);
/** The wildcard address of `family` (do not modify: shared). */
export function anyOf(family: InetFamily): Buffer {
  return family === AF_INET ? IPV4_ANY : IPV6_ANY;
}
export const IPV4_LOOPBACK = Buffer.from([127, 0, 0, 1]);
export const IPV6_LOOPBACK = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/** Text form: dotted quad, or eight hex groups (no :: compression; inet_pton accepts it). */
export function ipText(ip: Buffer): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(ip.readUInt16BE(i).toString(16));
  return groups.join(":");
}

export function addrText(a: InetAddr): string {
  return a.family === AF_INET ? `${ipText(a.ip)}:${a.port}` : `[${ipText(a.ip)}]:${a.port}`;
}

/** Parses an IPv4 or IPv6 text address (as Node reports them); null if it is neither. */
export function parseIp(text: string): Buffer | null {
  const v4 = parseIpv4(text);
  if (v4) return v4;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const q = parseIpv4(p);
        if (!q) return null;
        out.push(q.readUInt16BE(0), q.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

function parseIpv4(text: string): Buffer | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? Buffer.from(bytes) : null;
}
