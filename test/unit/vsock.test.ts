// sentry/vsock: addresses, the listener registry and the port allocator.
import assert from "node:assert/strict";
import { test } from "node:test";

import { E } from "../../sentry/syscalls/linux.js";
import { AF_INET, AF_INET6, ipText, isLoopback, parseIp, v4Of } from "../../sentry/vsock/address.js";
import { ListenerRegistry, PortAllocator, type Binding } from "../../sentry/vsock/registry.js";

test("address: text round trips, v4-mapped, loopback", () => {
  for (const t of ["127.0.0.1", "::1", "fe80::1:2", "::ffff:10.0.0.1", "2001:db8::", "1:2:3:4:5:6:7:8"]) {
    const ip = parseIp(t)!;
    assert.ok(ip, t);
    assert.deepEqual(parseIp(ipText(ip)), ip, t);
  }
  assert.equal(parseIp("1::2::3"), null);
  assert.equal(parseIp("256.1.1.1"), null);
  assert.deepEqual(v4Of(parseIp("::ffff:10.0.0.1")!), Buffer.from([10, 0, 0, 1]));
  assert.ok(isLoopback(parseIp("127.3.4.5")!) && isLoopback(parseIp("::1")!) && isLoopback(parseIp("::ffff:127.0.0.1")!));
  assert.ok(!isLoopback(parseIp("::2")!));
});

function binding(ip: string, port: number, o: Partial<{ v6only: boolean; addr: boolean; portReuse: boolean; listening: boolean; owner: string }> = {}): Binding<string> {
  const raw = parseIp(ip)!;
  return {
    family: raw.length === 4 ? AF_INET : AF_INET6,
    ip: raw,
    port,
    v6only: o.v6only ?? false,
    reuseAddr: () => o.addr ?? false,
    reusePort: () => o.portReuse ?? false,
    listening: o.listening ?? false,
    owner: o.owner ?? ip,
  };
}

test("registry: conflicts like inet_bind_conflict", () => {
  const r = new ListenerRegistry<string>();
  r.add(binding("127.0.0.1", 80));
  assert.ok(r.conflict(binding("127.0.0.1", 80)));
  assert.ok(r.conflict(binding("0.0.0.0", 80)), "wildcard over specific");
  assert.equal(r.conflict(binding("127.0.0.2", 80)), null, "another specific address");
  assert.equal(r.conflict(binding("127.0.0.1", 81)), null);
  assert.ok(r.conflict(binding("::", 80)), "dual-stack :: covers IPv4");
  assert.equal(r.conflict(binding("::", 80, { v6only: true })), null);
  assert.ok(r.conflict(binding("::ffff:127.0.0.1", 80)), "v4-mapped is the IPv4 address");
  assert.equal(r.conflict(binding("::1", 80)), null);
  // SO_REUSEADDR on both: fine unless the other listens.
  const a = binding("10.0.0.1", 90, { addr: true });
  r.add(a);
  assert.equal(r.conflict(binding("10.0.0.1", 90, { addr: true })), null);
  a.listening = true;
  assert.ok(r.conflict(binding("10.0.0.1", 90, { addr: true })));
  assert.equal(r.conflict(binding("10.0.0.1", 90, { portReuse: true })) !== null, true);
  r.remove(a);
  assert.ok(r.portFree(90));
});

test("registry: lookup prefers specific, then AF_INET; SO_REUSEPORT groups round robin", () => {
  const r = new ListenerRegistry<string>();
  r.add(binding("::", 80, { listening: true, owner: "dual" }));
  assert.equal(r.lookup(parseIp("127.0.0.1")!, 80)?.owner, "dual");
  assert.equal(r.lookup(parseIp("::1")!, 80)?.owner, "dual");
  r.add(binding("0.0.0.0", 80, { listening: true, owner: "any4", portReuse: true }));
  assert.equal(r.lookup(parseIp("127.0.0.1")!, 80)?.owner, "any4");
  r.add(binding("127.0.0.1", 80, { listening: true, owner: "lo" }));
  assert.equal(r.lookup(parseIp("127.0.0.1")!, 80)?.owner, "lo");
  assert.equal(r.lookup(parseIp("::ffff:127.0.0.1")!, 80)?.owner, "lo");
  assert.equal(r.lookup(parseIp("10.1.1.1")!, 80)?.owner, "any4");
  r.add(binding("0.0.0.0", 80, { listening: true, owner: "any4b", portReuse: true }));
  const seen = new Set([1, 2, 3, 4].map(() => r.lookup(parseIp("10.1.1.1")!, 80)?.owner));
  assert.deepEqual([...seen].sort(), ["any4", "any4b"]);
  r.add(binding("127.0.0.1", 81, { owner: "bound only" }));
  assert.equal(r.lookup(parseIp("127.0.0.1")!, 81), null);
});

test("ports: the ephemeral range, skipping used ports, null when exhausted", () => {
  const p = new PortAllocator();
  assert.equal(p.min, 32768);
  assert.equal(p.max, 60999);
  const small = new PortAllocator(100, 102);
  assert.equal(small.allocate((x) => x === 101), 101);
  assert.equal(small.allocate(() => false), null);
});
