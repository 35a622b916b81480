// tsor-netd's listener registry: pod-scoped wildcards, specific before wildcard, EADDRINUSE only
// within one pod, SO_REUSEPORT, sessions that end.
import assert from "node:assert/strict";
import { test } from "node:test";

import { NetRegistry, type Owner } from "../../netstack/registry.js";

function pod(containerId: string, podIps: string[], netns = `/proc/${containerId}/ns/net`): Owner {
  return { containerId, podIps, netns };
}

test("registry: two pods listen on the same wildcard port; each address reaches its own pod", () => {
  const r = new NetRegistry<Owner>();
  const a = pod("a", ["10.99.0.1"]);
  const b = pod("b", ["10.99.0.2"]);
  assert.deepEqual(r.listen(a, "0.0.0.0", 8080, false), { ok: true });
  assert.deepEqual(r.listen(b, "0.0.0.0", 8080, false), { ok: true });
  assert.equal(r.lookup("10.99.0.1", 8080)?.owner, a);
  assert.equal(r.lookup("10.99.0.2", 8080)?.owner, b);
  assert.equal(r.lookup("10.99.0.3", 8080), undefined);
  assert.equal(r.lookup("10.99.0.1", 8081), undefined);
  assert.equal(r.size, 2);
});

test("registry: a specific address wins over a wildcard of the same pod (with SO_REUSEPORT)", () => {
  const r = new NetRegistry<Owner>();
  const a = pod("a", ["10.99.0.1", "fd00::1"]);
  assert.equal(r.listen(a, "::", 80, true).ok, true);
  assert.equal(r.listen(a, "10.99.0.1", 80, true).ok, true);
  assert.equal(r.lookup("10.99.0.1", 80)?.ip, "10.99.0.1");
  assert.equal(r.lookup("fd00::1", 80)?.ip, "::");
});

test("registry: same pod, same port is EADDRINUSE (also across containers sharing the netns)", () => {
  const r = new NetRegistry<Owner>();
  const a = pod("a", ["10.99.0.1"], "/run/netns/p1");
  const sidecar = pod("sidecar", ["10.99.0.1"], "/run/netns/p1");
  assert.equal(r.listen(a, "0.0.0.0", 80, false).ok, true);
  const again = r.listen(a, "0.0.0.0", 80, false);
  assert.equal(again.ok, false);
  assert.equal(!again.ok && again.error, "EADDRINUSE");
  const specific = r.listen(a, "10.99.0.1", 80, false);
  assert.equal(!specific.ok && specific.error, "EADDRINUSE");
  const other = r.listen(sidecar, "0.0.0.0", 80, false);
  assert.equal(!other.ok && other.error, "EADDRINUSE");
  assert.match(!other.ok ? other.message : "", /in use by a/);
  // Another pod claiming the same specific IP is a conflict too.
  const thief = r.listen(pod("x", []), "10.99.0.1", 80, false);
  assert.equal(!thief.ok && thief.error, "EADDRINUSE");
});

test("registry: SO_REUSEPORT on both sides shares the port; listens of one container count", () => {
  const r = new NetRegistry<Owner>();
  const a = pod("a", ["10.99.0.1"], "/run/netns/p1");
  const b = pod("b", ["10.99.0.1"], "/run/netns/p1");
  assert.equal(r.listen(a, "0.0.0.0", 80, true).ok, true);
  assert.equal(r.listen(a, "0.0.0.0", 80, true).ok, true); // a second socket of a's SO_REUSEPORT group
  assert.equal(r.listen(b, "0.0.0.0", 80, true).ok, true);
  assert.equal(r.size, 2);
  const seen = new Set([0, 1, 2, 3].map(() => r.lookup("10.99.0.1", 80)?.owner.containerId));
  assert.deepEqual([...seen].sort(), ["a", "b"]); // round robin
  assert.equal(r.unlisten(a, "0.0.0.0", 80), true);
  assert.equal(r.size, 2); // one listen of a remains
  assert.equal(r.unlisten(a, "0.0.0.0", 80), true);
  assert.equal(r.size, 1);
  assert.equal(r.unlisten(a, "0.0.0.0", 80), false);
  // Without SO_REUSEPORT on the new one: in use.
  assert.equal(r.listen(a, "0.0.0.0", 80, false).ok, false);
});

test("registry: addresses not of the pod and loopback are EADDRNOTAVAIL", () => {
  const r = new NetRegistry<Owner>();
  const a = pod("a", ["10.99.0.1"]);
  const foreign = r.listen(a, "10.99.0.2", 80, false);
  assert.equal(!foreign.ok && foreign.error, "EADDRNOTAVAIL");
  const lo = r.listen(a, "127.0.0.1", 80, false);
  assert.equal(!lo.ok && lo.error, "EADDRNOTAVAIL");
  // A pod whose addresses are not known may name any.
  assert.equal(r.listen(pod("u", []), "10.99.0.9", 80, false).ok, true);
});

test("registry: entries vanish with their session", () => {
  const r = new NetRegistry<Owner>();
  const a = pod("a", ["10.99.0.1"]);
  const b = pod("b", ["10.99.0.2"]);
  r.listen(a, "0.0.0.0", 80, false);
  r.listen(a, "10.99.0.1", 81, false);
  r.listen(b, "0.0.0.0", 80, false);
  assert.equal(r.dropOwner(a), 2);
  assert.equal(r.lookup("10.99.0.1", 80), undefined);
  assert.deepEqual(r.entries().map((e) => e.owner.containerId), ["b"]);
  assert.equal(r.listen(pod("a2", ["10.99.0.1"]), "0.0.0.0", 80, false).ok, true);
});
