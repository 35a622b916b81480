// netstack/cluster YAML source: the schema, errors that name the file and the path of the culprit,
// the last good state kept on a bad reload, reloads on write and on an editor's rename-replace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ClusterFileError, parseClusterYaml, YamlClusterState } from "../../netstack/cluster/index.js";

const GOOD = `
nodes:
  - name: node-a
    addresses: [192.0.2.10]
    podCIDRs: [10.88.0.0/24]
  - name: node-b
pods:
  - name: redis-0
    ip: 10.88.0.5
    node: node-a
    tsor: true
  - name: web-0
    namespace: shop
    ip: 10.88.1.7
    node: node-b
    runtimeClassName: tsor
  - name: legacy
    ip: 10.88.1.8
    node: node-b
services:
  - name: redis
    clusterIP: 10.96.0.10
    ports: [{ port: 6379 }]
    endpoints:
      - ip: 10.88.0.5
  - name: web
    namespace: shop
    clusterIP: 10.96.0.20
    ports:
      - { name: http, port: 80, targetPort: 8080 }
      - { name: admin, port: 81, targetPort: 9000 }
    endpoints:
      - { ip: 10.88.1.7, portName: http }
      - { ip: 10.88.1.8, portName: http, ready: false, node: node-b }
      - { ip: 10.88.1.7, portName: admin, port: 9001 }
`;

function tempFile(t: { after: (fn: () => void) => void }, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-cluster-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "cluster.yaml");
  fs.writeFileSync(file, text);
  return file;
}

function errorOf(text: string): string {
  try {
    parseClusterYaml(text, "cluster.yaml");
  } catch (err) {
    assert.ok(err instanceof ClusterFileError);
    return err.message;
  }
  assert.fail("expected a ClusterFileError");
}

test("a good file: defaults filled in, endpoints get port and node from the schema's rules", () => {
  const s = parseClusterYaml(GOOD, "cluster.yaml");
  assert.deepEqual(s.nodes[1], { name: "node-b", addresses: [], podCIDRs: [], ready: true });
  assert.deepEqual(s.pods.map((p) => [p.namespace, p.name, p.tsor]), [
    ["default", "redis-0", true], ["shop", "web-0", true], ["default", "legacy", false],
  ]);
  const [redis, web] = s.services;
  assert.deepEqual(redis!.ports, [{ name: "", port: 6379, targetPort: 6379, protocol: "TCP" }]);
  assert.deepEqual(redis!.endpoints, [{ ip: "10.88.0.5", port: 6379, ready: true, node: "node-a", portName: "" }]);
  assert.deepEqual(web!.endpoints.map((e) => [e.ip, e.port, e.ready, e.node, e.portName]), [
    ["10.88.1.7", 8080, true, "node-b", "http"],
    ["10.88.1.8", 8080, false, "node-b", "http"],
    ["10.88.1.7", 9001, true, "node-b", "admin"],
  ]);
  assert.deepEqual(parseClusterYaml("", "empty.yaml"), { nodes: [], pods: [], services: [] });
});

test("bad files: the error names the file and the path of the culprit", () => {
  const bad = (s: string) => GOOD.replace("clusterIP: 10.96.0.10", s);
  assert.match(errorOf(bad("clusterIP: 10.96.0.300")), /^cluster\.yaml: services\[0\]\.clusterIP: invalid IP$/);
  assert.match(errorOf(bad("clusterIp: 10.96.0.10")), /^cluster\.yaml: services\[0\].*clusterI/);
  assert.match(errorOf(GOOD.replace("port: 6379", "port: 70000")), /cluster\.yaml: services\[0\]\.ports\[0\]\.port: /);
  assert.match(errorOf(GOOD.replace("ip: 10.88.1.7\n", "ip: 10.88.0.5\n")), /cluster\.yaml: pods\[1\]\.ip: duplicate pod IP 10\.88\.0\.5 \(also pods\[0\]\)/);
  assert.match(errorOf(GOOD.replace("node: node-a\n    tsor", "node: node-z\n    tsor")), /pods\[0\]\.node: unknown node "node-z"/);
  assert.match(errorOf(GOOD.replace("portName: admin", "portName: metrics")), /services\[1\]\.endpoints\[2\]\.portName: no port named "metrics"/);
  assert.match(errorOf(GOOD.replace("{ ip: 10.88.1.7, portName: http }", "{ ip: 10.88.1.7 }")), /services\[1\]\.endpoints\[0\]\.portName: required when the service has several ports/);
  assert.match(errorOf(GOOD.replace("clusterIP: 10.96.0.20", "clusterIP: 10.96.0.10").replace("port: 80,", "port: 6379,")), /services\[1\]\.ports\[0\]\.port: duplicate 10\.96\.0\.10:6379\/TCP \(also services\[0\]\.ports\[0\]\)/);
  assert.match(errorOf("nodes: [\n"), /^cluster\.yaml: line \d+, column \d+: /);
  assert.match(errorOf("- just a list"), /^cluster\.yaml: /);
  assert.match(errorOf("pods:\n  - name: x\n"), /^cluster\.yaml: pods\[0\]\.ip: /);
});

test("a missing file at start is a ClusterFileError naming it", () => {
  assert.throws(() => new YamlClusterState("/nonexistent/cluster.yaml"), /\/nonexistent\/cluster\.yaml: no such file/);
});

test("reloads on change; a bad edit is reported and the last good state stays", async (t) => {
  const file = tempFile(t, GOOD);
  const state = new YamlClusterState(file, { debounceMs: 20 });
  t.after(() => state.close());
  assert.equal(state.podByIp("10.88.0.5")?.name, "redis-0");

  const errored = once(state, "error");
  fs.writeFileSync(file, GOOD.replace("clusterIP: 10.96.0.10", "clusterIP: nope"));
  const [err] = await errored;
  assert.ok(err instanceof ClusterFileError);
  assert.equal(err.message, `${file}: services[0].clusterIP: invalid IP`);
  assert.equal(state.resolveService("10.96.0.10", 6379)?.ip, "10.88.0.5", "last good state kept");

  const changed = once(state, "change");
  fs.writeFileSync(file, GOOD.replace("ip: 10.88.0.5\n    node", "ip: 10.88.0.50\n    node").replace("- ip: 10.88.0.5\n", "- ip: 10.88.0.50\n"));
  await changed;
  assert.equal(state.podByIp("10.88.0.5"), undefined);
  assert.equal(state.podByIp("10.88.0.50")?.name, "redis-0");
  assert.equal(state.resolveService("10.96.0.10", 6379)?.ip, "10.88.0.50");
});

test("survives an editor's rename-replace, more than once", async (t) => {
  const file = tempFile(t, GOOD);
  const state = new YamlClusterState(file, { debounceMs: 20 });
  t.after(() => state.close());
  for (const ip of ["10.96.1.1", "10.96.1.2"]) {
    const changed = once(state, "change");
    const tmp = `${file}.swp`;
    fs.writeFileSync(tmp, GOOD.replace("clusterIP: 10.96.0.10", `clusterIP: ${ip}`));
    fs.renameSync(tmp, file);
    await changed;
    assert.equal(state.resolveService(ip, 6379)?.ip, "10.88.0.5");
  }
});

test("a burst of writes is debounced into one reload", async (t) => {
  const file = tempFile(t, GOOD);
  const state = new YamlClusterState(file, { debounceMs: 50 });
  t.after(() => state.close());
  let changes = 0;
  state.on("change", () => changes++);
  for (let i = 1; i <= 5; i++) fs.writeFileSync(file, GOOD.replace("clusterIP: 10.96.0.10", `clusterIP: 10.96.2.${i}`));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(changes, 1);
  assert.ok(state.resolveService("10.96.2.5", 6379));
});
