// `tsor netd --kubeconfig` takes its cluster state from the Kubernetes API. There is no API server
// on these machines: test/fixtures/kube/server.ts is a STAND-IN that serves list+watch of Pods,
// Nodes, Services and EndpointSlices. The daemon must list and watch all four and say how many
// Services and pods it learnt.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FakeKubeApi } from "../fixtures/kube/server.js";
import { TSOR } from "../lib/bundle.js";
import { waitFor } from "./harness.js";

test("tsor netd --kubeconfig lists and watches the cluster and learns its Services", async (t) => {
  const api = await FakeKubeApi.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-netd-kube-"));
  t.after(async () => {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  api.apply("services", { metadata: { name: "web", namespace: "default" }, spec: { clusterIP: "10.96.0.10", ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] } });
  api.apply("pods", {
    metadata: { name: "web-0", namespace: "default" },
    spec: { nodeName: "node-a", runtimeClassName: "tsor", containers: [{ name: "c", image: "busybox" }] },
    status: { phase: "Running", podIP: "10.88.0.5" },
  });
  const kubeconfig = path.join(dir, "kubeconfig");
  fs.writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
  const log = path.join(dir, "netd.log");
  const netd = spawn(TSOR, ["--log-format", "json", "netd", "--name", `kube-${process.pid}`, "--socket", path.join(dir, "netd.sock"), "--state-dir", path.join(dir, "state"), "--log", log, "--kubeconfig", kubeconfig], { stdio: "ignore" });
  t.after(() => {
    netd.kill("SIGKILL");
  });
  const listed = await waitFor("netd to list the cluster", () => {
    const line = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").find((l) => l.includes("Kubernetes cluster state listed")) : undefined;
    return line ? (JSON.parse(line) as { services: number; pods: number }) : undefined;
  });
  assert.deepEqual({ services: listed.services, pods: listed.pods }, { services: 1, pods: 1 });
  for (const kind of ["nodes", "pods", "services", "endpointslices"] as const) {
    assert.ok(api.requests.list[kind] >= 1, `netd listed ${kind}`);
  }
  await waitFor("netd to watch every resource", () => (Object.values(api.requests.watch).every((n) => n >= 1) ? true : undefined));
});
