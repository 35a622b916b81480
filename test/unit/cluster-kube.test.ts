// netstack/cluster Kubernetes source against test/fixtures/kube/server.ts — a STAND-IN for the API
// server (list+watch of four resources over HTTP), not a real cluster: initial list, watch events
// reflected, resync after a dropped watch, a failed re-list and an expired resourceVersion.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KubeClusterState, nodeFromK8s, podFromK8s } from "../../netstack/cluster/index.js";
import { FakeKubeApi } from "../fixtures/kube/server.js";

const FAST = { initialMs: 20, maxMs: 200 };

function node(name: string, ip: string) {
  return {
    metadata: { name },
    spec: { podCIDR: "10.88.0.0/24" },
    status: {
      addresses: [{ type: "Hostname", address: name }, { type: "InternalIP", address: ip }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

function pod(name: string, ip: string | undefined, nodeName: string, extra: { runtimeClassName?: string; annotations?: Record<string, string> } = {}) {
  return {
    metadata: { name, namespace: "default", ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { nodeName, containers: [{ name: "c", image: "busybox" }], ...(extra.runtimeClassName ? { runtimeClassName: extra.runtimeClassName } : {}) },
    status: { phase: "Running", ...(ip ? { podIP: ip } : {}) },
  };
}

function service(name: string, clusterIP: string) {
  return { metadata: { name, namespace: "default" }, spec: { clusterIP, ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] } };
}

function slice(name: string, svc: string, endpoints: { ip: string; ready: boolean; node: string }[]) {
  return {
    metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": svc } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready }, nodeName: e.node })),
  };
}

/** Waits until `cond` holds, checking after every "change" (and at least every 50 ms). */
async function until(state: KubeClusterState, cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, 50);
      function done() { clearTimeout(t); state.off("change", done); resolve(); }
      state.on("change", done);
    });
  }
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const api = await FakeKubeApi.start();
  api.apply("nodes", node("node-a", "192.0.2.10"));
  api.apply("nodes", node("node-b", "192.0.2.11"));
  api.apply("pods", pod("web-0", "10.88.0.5", "node-a", { runtimeClassName: "tsor" }));
  api.apply("pods", pod("web-1", "10.88.1.6", "node-b", { annotations: { "tsor.io/enabled": "true" } }));
  api.apply("pods", pod("legacy", "10.88.1.7", "node-b"));
  api.apply("pods", pod("pending", undefined, "node-b"));
  api.apply("services", service("web", "10.96.0.10"));
  api.apply("services", { metadata: { name: "headless", namespace: "default" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } });
  api.apply("endpointslices", slice("web-abc", "web", [
    { ip: "10.88.0.5", ready: true, node: "node-a" },
    { ip: "10.88.1.6", ready: true, node: "node-b" },
  ]));
  const errors: Error[] = [];
  const state = await KubeClusterState.start({ kubeConfig: api.kubeConfig(), backoff: FAST });
  state.on("error", (e) => errors.push(e));
  t.after(async () => {
    await state.close();
    await api.close();
  });
  return { api, state, errors };
}

test("the initial list gives nodes, addressable pods and services with their endpoints", async (t) => {
  const { api, state } = await setup(t);
  assert.deepEqual(state.nodes().map((n) => [n.name, n.addresses, n.podCIDRs, n.ready]), [
    ["node-a", ["192.0.2.10"], ["10.88.0.0/24"], true],
    ["node-b", ["192.0.2.11"], ["10.88.0.0/24"], true],
  ]);
  assert.deepEqual(state.pods().map((p) => [p.name, p.ip, p.node, p.tsor]).sort(), [
    ["legacy", "10.88.1.7", "node-b", false],
    ["web-0", "10.88.0.5", "node-a", true],
    ["web-1", "10.88.1.6", "node-b", true],
  ]);
  assert.equal(state.podByIp("10.88.1.6")?.name, "web-1");
  assert.deepEqual(state.services().map((s) => s.name), ["web"], "headless services have no ClusterIP to resolve");
  const got = [state.resolveService("10.96.0.10", 80), state.resolveService("10.96.0.10", 80)].map((e) => `${e?.ip}:${e?.port}@${e?.node}`);
  assert.deepEqual(got.sort(), ["10.88.0.5:8080@node-a", "10.88.1.6:8080@node-b"]);
  for (const k of ["nodes", "pods", "services", "endpointslices"] as const) {
    assert.equal(api.requests.list[k], 1, `one list of ${k}`);
    assert.equal(api.requests.watch[k], 1, `one watch of ${k}`);
  }
});

test("ADDED, MODIFIED and DELETED events are reflected", async (t) => {
  const { api, state } = await setup(t);
  api.apply("pods", pod("web-2", "10.88.0.8", "node-a", { runtimeClassName: "tsor" }));
  await until(state, () => state.podByIp("10.88.0.8") !== undefined, "ADDED pod");
  assert.equal(state.podByIp("10.88.0.8")?.tsor, true);

  api.apply("pods", pod("pending", "10.88.1.9", "node-b"));
  await until(state, () => state.podByIp("10.88.1.9")?.name === "pending", "MODIFIED pod (got its IP)");

  api.apply("endpointslices", slice("web-abc", "web", [
    { ip: "10.88.0.5", ready: false, node: "node-a" },
    { ip: "10.88.1.6", ready: true, node: "node-b" },
  ]));
  await until(state, () => state.services()[0]?.endpoints[0]?.ready === false, "MODIFIED slice");
  assert.deepEqual([1, 2, 3].map(() => state.resolveService("10.96.0.10", 80)?.ip), ["10.88.1.6", "10.88.1.6", "10.88.1.6"]);

  api.remove("pods", "legacy", "default");
  api.remove("services", "web", "default");
  await until(state, () => state.podByIp("10.88.1.7") === undefined && state.services().length === 0, "DELETED pod and service");
  assert.equal(state.resolveService("10.96.0.10", 80), undefined);
});

test("a dropped watch connection is resynced: changes made meanwhile arrive", async (t) => {
  const { api, state } = await setup(t);
  const lists = api.requests.list.pods;
  // The connections die and the server refuses the next requests: the client must back off and
  // re-list, not give up; a pod deleted while it was away must be gone afterwards.
  api.failNext(3);
  assert.equal(api.dropWatches(), 4);
  api.remove("pods", "web-0", "default");
  api.apply("pods", pod("web-3", "10.88.0.9", "node-a"));
  await until(state, () => state.podByIp("10.88.0.5") === undefined && state.podByIp("10.88.0.9") !== undefined, "resync after drop");
  assert.ok(api.requests.list.pods + api.requests.watch.pods > lists + 1, "the client came back");
  // And the new watch is live.
  api.apply("pods", pod("web-4", "10.88.0.10", "node-a"));
  await until(state, () => state.podByIp("10.88.0.10") !== undefined, "event after resync");
});

test("an unreachable API server: errors reported with backoff, last state kept, then recovery by re-list", async (t) => {
  const { api, state, errors } = await setup(t);
  const before = api.requests.list.pods;
  api.failNext(1000);
  api.dropWatches();
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(errors.length > 0, "errors reported");
  assert.match(errors[0]!.message, /^kube \/api\/v1\/\w+: .*re-listing in \d+ ms$/);
  assert.equal(state.podByIp("10.88.0.5")?.name, "web-0", "last known state still served");
  api.failNext(0);
  api.apply("pods", pod("late", "10.88.0.11", "node-a"));
  await until(state, () => state.podByIp("10.88.0.11") !== undefined, "recovery");
  assert.ok(api.requests.list.pods > before, "recovered by a re-list");
});

test("an expired resourceVersion (410 Gone) makes the client re-list", async (t) => {
  const { api, state } = await setup(t);
  const before = api.requests.list.pods;
  api.apply("pods", pod("web-5", "10.88.0.12", "node-a"));
  await until(state, () => state.podByIp("10.88.0.12") !== undefined, "pod before compaction");
  // The watch ends cleanly (as at a server's watch timeout); before the client is back, a change
  // happens and the history is compacted past the client's resourceVersion: the re-watch gets
  // 410 Gone and only a re-list can bring the change.
  api.endWatches();
  api.apply("pods", pod("web-6", "10.88.0.13", "node-a"));
  api.compact();
  await until(state, () => state.podByIp("10.88.0.13") !== undefined, "pod after 410");
  assert.ok(api.requests.list.pods > before, "re-listed after 410");
});

test("converters: node addresses InternalIP first; finished and host-network pods are not addressable", () => {
  const n = nodeFromK8s({ metadata: { name: "x" }, status: { addresses: [{ type: "ExternalIP", address: "198.51.100.1" }, { type: "InternalIP", address: "192.0.2.1" }] } });
  assert.deepEqual(n, { name: "x", addresses: ["192.0.2.1", "198.51.100.1"], podCIDRs: [], ready: false });
  assert.equal(podFromK8s({ metadata: { name: "h" }, spec: { hostNetwork: true, containers: [] }, status: { podIP: "192.0.2.1" } }), undefined);
  assert.equal(podFromK8s({ metadata: { name: "d" }, spec: { containers: [] }, status: { podIP: "10.0.0.1", phase: "Succeeded" } }), undefined);
});
