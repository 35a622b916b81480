// tsor-netd's messages: validation errors name the field; framing rules (fds per op); canonical IPs;
// pod addresses from /proc/<pid>/net texts; the status table.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ProtocolError, canonicalIp, decodeRequest, encode } from "../../netstack/api.js";
import { parseFibTrieLocal, parseIfInet6, podAddresses } from "../../netstack/podaddr.js";
import { formatStatus } from "../../netstack/status.js";
import { parseHostPort } from "../../netstack/metrics.js";
import { netdPaths, lockName } from "../../netstack/paths.js";

function bad(msg: unknown, fds = 0): ProtocolError {
  const data = typeof msg === "string" ? Buffer.from(msg) : encode(msg as object);
  try {
    decodeRequest(data, fds);
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e;
  }
  assert.fail(`accepted ${JSON.stringify(msg)}`);
}

test("api: valid requests parse, IPs come out canonical, defaults filled", () => {
  const l = decodeRequest(encode({ op: "listen", id: 1, ip: "::ffff:10.99.0.2", port: 8080 }), 0);
  assert.deepEqual(l, { op: "listen", id: 1, ip: "10.99.0.2", port: 8080, reuseport: false, queuedMark: false });
  const c = decodeRequest(encode({ op: "connect", id: 2, dst: { ip: "FD00:0::1", port: 80 }, src: { ip: "10.0.0.1", port: 40000 } }), 1);
  assert.deepEqual(c, { op: "connect", id: 2, dst: { ip: "fd00::1", port: 80 }, src: { ip: "10.0.0.1", port: 40000 }, queuedMark: false, hint: false, noreply: false });
  const h = decodeRequest(encode({ op: "hello", id: 3, containerId: "web-1", podIps: [], netns: "/proc/1/ns/net", pid: 1 }), 0);
  assert.equal(h.op, "hello");
});

test("api: malformed messages get EINVAL naming the problem and the request id", () => {
  assert.match(bad("{not json").message, /^not JSON/);
  assert.match(bad([1, 2]).message, /^message: .*expected object/);
  assert.match(bad({ op: "dance", id: 1 }).message, /op/);
  const port = bad({ op: "listen", id: 7, ip: "10.0.0.1", port: 70000 });
  assert.equal(port.code, "EINVAL");
  assert.equal(port.id, 7);
  assert.match(port.message, /^port: /);
  assert.match(bad({ op: "listen", id: 8, ip: "10.0.0.300", port: 80 }).message, /^ip: not an IP address/);
  assert.match(bad({ op: "listen", id: 9, ip: "10.0.0.1", port: 80, extra: 1 }).message, /extra/);
  assert.match(bad({ op: "hello", id: 1, containerId: "a/b", podIps: [], netns: "" }).message, /^containerId: /);
  assert.match(bad({ op: "connect", id: 1, dst: { ip: "10.0.0.1", port: 1 }, src: { ip: "10.0.0.2", port: 2 } }, 0).message, /carries 0 fds, expected 1/);
  assert.match(bad({ op: "status", id: 1 }, 1).message, /carries 1 fds, expected 0/);
  assert.equal(bad({ op: "status", id: -1 }).id, undefined);
});

test("api: canonicalIp", () => {
  assert.equal(canonicalIp("010.1.2.3"), undefined);
  assert.equal(canonicalIp("10.1.2.3"), "10.1.2.3");
  assert.equal(canonicalIp("::FFFF:10.1.2.3"), "10.1.2.3");
  assert.equal(canonicalIp("2001:db8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(canonicalIp("0:0:0:0:0:0:0:0"), "::");
  assert.equal(canonicalIp("localhost"), undefined);
});

const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.99.0.0/24 2 0 2
        +-- 10.99.0.0/30 2 0 2
           |-- 10.99.0.0
              /24 link UNICAST
           |-- 10.99.0.2
              /32 host LOCAL
        |-- 10.99.0.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 192.168.7.9
        /24 link UNICAST
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
           |-- 10.99.0.2
              /32 host LOCAL
`;
const IF_INET6 = `00000000000000000000000000000001 01 80 10 80       lo
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
fd000000000000000000000000000002 04 40 00 82     eth0
fd000000000000000000000000000003 04 40 00 08     eth0
`;

test("podAddresses: LOCAL /32 leaves of fib_trie and global if_inet6 entries, no loopback or link-local", () => {
  assert.deepEqual(parseFibTrieLocal(FIB_TRIE), ["10.99.0.2", "192.168.7.9"]);
  assert.deepEqual(parseIfInet6(IF_INET6), ["fd00::2"]);
  assert.deepEqual(parseFibTrieLocal(""), []);
  assert.deepEqual(podAddresses(0x7ffffff0), []); // no such process: none
  // Our own netns: whatever it has, never loopback.
  for (const ip of podAddresses(process.pid)) assert.ok(!ip.startsWith("127.") && ip !== "::1");
});

test("status: tables of pods, listeners and connection counts", () => {
  const text = formatStatus({
    name: "default",
    pid: 42,
    socket: "/run/tsor/netd/default.sock",
    uptimeSeconds: 3,
    pods: [{ containerId: "web", podIps: ["10.99.0.2"], netns: "/proc/9/ns/net", listeners: 1, connections: { outgoing: 0, incoming: 2 } }],
    listeners: [{ ip: "fd00::2", port: 8080, containerId: "web", reuseport: false, accepted: 2 }],
    connections: { local: 2, kernel: 1, refused: 0, failed: 0 },
  });
  assert.match(text, /^CONTAINER\s+POD IPS\s+POD\s+LISTENERS\s+OUT\s+IN$/m);
  assert.match(text, /^web\s+10\.99\.0\.2\s+-\s+1\s+0\s+2$/m);
  assert.match(text, /^\[fd00::2\]:8080\s+web\s+no\s+2$/m);
  assert.match(text, /^total\s+2\s+1\s+0\s+0$/m);
});

test("paths and addresses: per-name defaults, lock names, host:port", () => {
  const p = netdPaths({ name: "n1" });
  assert.equal(p.socket, "/run/tsor/netd/n1.sock");
  assert.equal(p.stateDir, "/run/tsor/netd/n1");
  assert.equal(p.log, "/run/tsor/netd/n1/netd.log");
  assert.throws(() => netdPaths({ name: "../x" }), /invalid netd name/);
  assert.notEqual(lockName("/a.sock"), lockName("/b.sock"));
  assert.ok(lockName("/a.sock").length < 100);
  assert.deepEqual(parseHostPort("127.0.0.1:9100"), { host: "127.0.0.1", port: 9100 });
  assert.deepEqual(parseHostPort("[::1]:0"), { host: "::1", port: 0 });
  assert.deepEqual(parseHostPort(":9100"), { host: undefined, port: 9100 });
  assert.throws(() => parseHostPort("9100"), /host:port/);
});
