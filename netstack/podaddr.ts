// A pod's own addresses, read from its network namespace through /proc/<pid>/net (no process runs
// inside the pod): IPv4 from fib_trie's "/32 host LOCAL" leaves, IPv6 from if_inet6's global-scope
// entries. Loopback and link-local addresses are left out: they never identify a pod.
import { readFileSync } from "node:fs";
import { canonicalIp } from "./api.js";

/** if_inet6 scope of global addresses (RT_SCOPE_UNIVERSE); link is 0x20, host 0x10. */
const IPV6_SCOPE_GLOBAL = 0x00;
/** IFA_F_DADFAILED: a duplicate address, not usable. */
const IFA_F_DADFAILED = 0x08;

/** The local IPv4 addresses in /proc/net/fib_trie text (leaves followed by a "/32 host LOCAL" line). */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let leaf: string | undefined;
  for (const line of text.split("\n")) {
    const m = /^\s*\|-- (\S+)\s*$/.exec(line);
    if (m) {
      leaf = m[1];
      continue;
    }
    if (/^\s*\+-- /.test(line) || /^\S/.test(line)) {
      leaf = undefined; // an inner node or a new table ("Main:", "Local:")
      continue;
    }
    if (leaf && /^\s*\/32 host LOCAL\b/.test(line)) {
      const ip = canonicalIp(leaf);
      if (ip && !ip.startsWith("127.")) out.add(ip);
    }
  }
  return [...out];
}

/** The global IPv6 addresses in /proc/net/if_inet6 text (address ifindex plen scope flags name). */
export function parseIfInet6(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0])) continue;
    const scope = parseInt(f[3], 16);
    const flags = parseInt(f[4], 16);
    if (scope !== IPV6_SCOPE_GLOBAL || flags & IFA_F_DADFAILED) continue;
    const ip = canonicalIp(f[0].match(/.{4}/g)!.join(":"));
    if (ip && ip !== "::1") out.add(ip);
  }
  return [...out];
}

/** The addresses of the network namespace `pid` is in: IPv4 first. Missing files count as none. */
export function podAddresses(pid: number, procRoot = "/proc"): string[] {
  const read = (name: string): string => {
    try {
      return readFileSync(`${procRoot}/${pid}/net/${name}`, "utf8");
    } catch {
      return "";
    }
  };
  return [...parseFibTrieLocal(read("fib_trie")), ...parseIfInet6(read("if_inet6"))];
}
