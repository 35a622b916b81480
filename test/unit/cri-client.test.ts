// test/cri/client.ts against a fake CRI server whose handlers see and answer raw protobuf bytes,
// encoded here by hand: the wire tags check test/cri/api.proto's field numbers against the
// public k8s.io/cri-api runtime/v1 ones (RunPodSandboxRequest{config=1, runtime_handler=2},
// PodSandboxMetadata{name=1, uid=2, namespace=3}, ExecSyncRequest{container_id=1, cmd=2,
// timeout=3}, ExecSyncResponse{stdout=1, stderr=2, exit_code=3},
// PodSandboxStatusResponse{status=1}, PodSandboxStatus{network=5}, PodSandboxNetworkStatus{ip=1}),
// independently of the proto the client loads.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CriClient } from "../cri/client.js";

/** A length-delimited field. */
function ld(field: number, body: Buffer | string): Buffer {
  const b = typeof body === "string" ? Buffer.from(body) : body;
  assert.ok(b.length < 128);
  return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
}
/** A small varint field. */
function vi(field: number, v: number): Buffer {
  assert.ok(v >= 0 && v < 128);
  return Buffer.from([(field << 3) | 0, v]);
}

const seen: Record<string, Buffer> = {};
const answers: Record<string, Buffer> = {
  RunPodSandbox: ld(1, "pod-1"),
  ExecSync: Buffer.concat([ld(1, "out\n"), ld(2, "err\n"), vi(3, 7)]),
  PodSandboxStatus: ld(1, Buffer.concat([ld(1, "pod-1"), vi(3, 0), ld(5, ld(1, "10.88.95.7")), ld(9, "tsor")])),
};

let server: grpc.Server;
let dir = "";
let client: CriClient;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-cri-unit-"));
  server = new grpc.Server();
  const raw = (b: Buffer) => b;
  const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  const impl: grpc.UntypedServiceImplementation = {};
  for (const m of Object.keys(answers)) {
    def[m] = { path: `/runtime.v1.RuntimeService/${m}`, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };
    impl[m] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen[m] = call.request;
      cb(null, answers[m]!);
    };
  }
  server.addService(def as grpc.ServiceDefinition, impl);
  const sock = path.join(dir, "cri.sock");
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  client = new CriClient(sock, 5000);
});

after(() => {
  client?.close();
  server?.forceShutdown();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("RunPodSandbox: config=1 (metadata=1: name=1, uid=2, namespace=3), runtime_handler=2; the id is field 1", async () => {
  const id = await client.runPodSandbox({ metadata: { name: "a", uid: "u", namespace: "ns" } }, "tsor");
  assert.equal(id, "pod-1");
  assert.deepEqual(seen.RunPodSandbox, Buffer.concat([ld(1, ld(1, Buffer.concat([ld(1, "a"), ld(2, "u"), ld(3, "ns")]))), ld(2, "tsor")]));
});

test("ExecSync: container_id=1, cmd=2 (repeated), timeout=3; stdout=1, stderr=2, exit_code=3", async () => {
  const r = await client.execSync("c1", ["sh", "-c"], 5);
  assert.deepEqual(r, { stdout: "out\n", stderr: "err\n", exit_code: 7 });
  assert.deepEqual(seen.ExecSync, Buffer.concat([ld(1, "c1"), ld(2, "sh"), ld(2, "-c"), vi(3, 5)]));
});

test("PodSandboxStatus: the pod IP is status=1 . network=5 . ip=1", async () => {
  const s = await client.podSandboxStatus("pod-1");
  assert.equal(s.network?.ip, "10.88.95.7");
  assert.equal(s.state, "SANDBOX_READY");
  assert.equal(s.runtime_handler, "tsor");
  assert.deepEqual(seen.PodSandboxStatus, ld(1, "pod-1"));
});

test("a call with no answer fails at its deadline", async () => {
  const dead = new CriClient(path.join(dir, "nobody.sock"), 300);
  try {
    await assert.rejects(dead.version(), /CRI Version: .*(DEADLINE_EXCEEDED|UNAVAILABLE)/);
  } finally {
    dead.close();
  }
});
