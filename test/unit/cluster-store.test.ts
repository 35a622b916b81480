// netstack/cluster store: socket-level Service load balancing (round robin over ready endpoints
// at call time), pod lookup by IP, and "change" on replace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterStore, type ClusterSnapshot, type Endpoint } from "../../netstack/cluster/index.js";

function ep(ip: string, ready = true, portName = ""): Endpoint {
  return { ip, port: 8080, ready, node: "n1", portName };
}

function snapshot(endpoints: Endpoint[]): ClusterSnapshot {
  return {
    nodes: [{ name: "n1", addresses: ["192.0.2.10"], podCIDRs: ["10.88.0.0/24"], ready: true }],
    pods: [
      { name: "web-0", namespace: "default", ip: "10.88.0.5", node: "n1", tsor: true },
      { name: "web-1", namespace: "default", ip: "10.88.0.6", node: "n1", tsor: false },
    ],
    services: [{
      name: "web", namespace: "default", clusterIP: "10.96.0.10",
      ports: [{ name: "", port: 80, targetPort: 8080, protocol: "TCP" }],
      endpoints,
    }],
  };
}

test("round robin across three ready endpoints, in order, again and again", () => {
  const s = new ClusterStore();
  s.replace(snapshot([ep("10.88.0.5"), ep("10.88.0.6"), ep("10.88.0.7")]));
  const got = Array.from({ length: 7 }, () => s.resolveService("10.96.0.10", 80)?.ip);
  assert.deepEqual(got, ["10.88.0.5", "10.88.0.6", "10.88.0.7", "10.88.0.5", "10.88.0.6", "10.88.0.7", "10.88.0.5"]);
  assert.equal(s.resolveService("10.96.0.10", 80)?.port, 8080);
});

test("not-ready endpoints are skipped; none ready gives undefined", () => {
  const s = new ClusterStore();
  s.replace(snapshot([ep("10.88.0.5"), ep("10.88.0.6", false), ep("10.88.0.7")]));
  const got = Array.from({ length: 4 }, () => s.resolveService("10.96.0.10", 80)?.ip);
  assert.deepEqual(got, ["10.88.0.5", "10.88.0.7", "10.88.0.5", "10.88.0.7"]);
  s.replace(snapshot([ep("10.88.0.5", false)]));
  assert.equal(s.resolveService("10.96.0.10", 80), undefined);
});

test("readiness is read at call time: an endpoint that turns ready joins the rotation", () => {
  const s = new ClusterStore();
  s.replace(snapshot([ep("10.88.0.5"), ep("10.88.0.6", false)]));
  assert.equal(s.resolveService("10.96.0.10", 80)?.ip, "10.88.0.5");
  assert.equal(s.resolveService("10.96.0.10", 80)?.ip, "10.88.0.5");
  s.replace(snapshot([ep("10.88.0.5"), ep("10.88.0.6")]));
  const got = new Set(Array.from({ length: 4 }, () => s.resolveService("10.96.0.10", 80)?.ip));
  assert.deepEqual([...got].sort(), ["10.88.0.5", "10.88.0.6"]);
});

test("unknown ClusterIP, unknown port or other protocol: undefined", () => {
  const s = new ClusterStore();
  s.replace(snapshot([ep("10.88.0.5")]));
  assert.equal(s.resolveService("10.96.0.99", 80), undefined);
  assert.equal(s.resolveService("10.96.0.10", 81), undefined);
  assert.equal(s.resolveService("10.96.0.10", 80, "UDP"), undefined);
  assert.equal(s.resolveService("10.88.0.5", 8080), undefined, "a pod IP is not a ClusterIP");
});

test("a multi-port service sends each port to the endpoints of that port", () => {
  const s = new ClusterStore();
  const snap = snapshot([]);
  snap.services[0]!.ports = [
    { name: "http", port: 80, targetPort: 8080, protocol: "TCP" },
    { name: "metrics", port: 9090, targetPort: 9090, protocol: "TCP" },
  ];
  snap.services[0]!.endpoints = [ep("10.88.0.5", true, "http"), { ...ep("10.88.0.5", true, "metrics"), port: 9100 }];
  s.replace(snap);
  assert.equal(s.resolveService("10.96.0.10", 80)?.port, 8080);
  assert.equal(s.resolveService("10.96.0.10", 9090)?.port, 9100);
});

test("podByIp finds pods, with their node and whether TSoR runs them; replace emits change", () => {
  const s = new ClusterStore();
  let changes = 0;
  s.on("change", () => changes++);
  s.replace(snapshot([]));
  assert.equal(changes, 1);
  assert.deepEqual(s.podByIp("10.88.0.5"), { name: "web-0", namespace: "default", ip: "10.88.0.5", node: "n1", tsor: true });
  assert.equal(s.podByIp("10.88.0.6")?.tsor, false);
  assert.equal(s.podByIp("10.88.0.9"), undefined);
  assert.equal(s.nodes()[0]?.name, "n1");
  assert.equal(s.services().length, 1);
});
