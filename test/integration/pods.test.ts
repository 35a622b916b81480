// Test pods (test/lib/pods.ts) as a kubelet makes them: netns + CNI bridge/host-local/loopback.
// Two pods get distinct IPs on the test subnet, a plain process in one reaches a plain TCP server
// in the other over the bridge, and cleanup leaves no netns, veth or bridge behind. All traffic
// stays between the two namespaces this test made.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { CNI_PATH, createPod, inPod, podBundleMutation, podLeases, type TestPod } from "../lib/pods.js";

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? "needs root" : !fs.existsSync(`${CNI_PATH}/bridge`) ? `no CNI plugins in ${CNI_PATH} (containernetworking-plugins)` : false;
const PYTHON = "/usr/bin/python3";
// A bridge and subnet of this file's own, so that it never meets another file's pods.
const OPTS = { bridge: "tsor-ptest0", subnet: "10.88.78.0/24", network: "tsor-ptest" };
const PORT = 7077;
/** Bounds every process of the exchange. */
const EXCHANGE_TIMEOUT_S = 10;

function linkNames(): string[] {
  const out = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout;
  return out.split("\n").map((l) => l.split(": ")[1]?.split("@")[0] ?? "").filter(Boolean);
}

function netnsNames(): string[] {
  const out = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  return out.split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
}

function bridgePorts(bridge: string): string[] {
  try {
    return fs.readdirSync(`/sys/class/net/${bridge}/brif`);
  } catch {
    return [];
  }
}

function collect(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (err += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

/** One short exchange: a python3 server in `server` answers one message from a python3 client in `client`. */
async function exchange(client: TestPod, server: TestPod): Promise<string> {
  const [cmd, ...args] = inPod(server, [PYTHON, "-c", [
    "import socket",
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
    `s.bind(("${server.ip}", ${PORT})); s.listen(1); s.settimeout(${EXCHANGE_TIMEOUT_S})`,
    "print('listening', flush=True)",
    `c, peer = s.accept(); c.settimeout(${EXCHANGE_TIMEOUT_S})`,
    "c.sendall(b'pong ' + c.recv(100) + b' from ' + peer[0].encode()); c.close()",
  ].join("\n")]);
  const srv = spawn(cmd!, args, { stdio: ["ignore", "pipe", "pipe"], timeout: EXCHANGE_TIMEOUT_S * 1000 });
  const srvDone = collect(srv);
  try {
    await new Promise<void>((resolve, reject) => {
      srv.stdout!.on("data", (d) => String(d).includes("listening") && resolve());
      srv.on("close", () => reject(new Error("server exited before listening")));
    });
    const [ccmd, ...cargs] = inPod(client, [PYTHON, "-c", [
      "import socket",
      `c = socket.create_connection(("${server.ip}", ${PORT}), timeout=${EXCHANGE_TIMEOUT_S})`,
      "c.sendall(b'ping'); print(c.recv(100).decode())",
    ].join("\n")]);
    const cli = await collect(spawn(ccmd!, cargs, { stdio: ["ignore", "pipe", "pipe"], timeout: EXCHANGE_TIMEOUT_S * 1000 }));
    const s = await srvDone;
    assert.equal(cli.code, 0, `client failed: ${cli.err}`);
    assert.equal(s.code, 0, `server failed: ${s.err}`);
    return cli.out.trim();
  } finally {
    srv.kill("SIGKILL");
  }
}

describe("test pods over CNI (bridge + host-local + loopback)", { skip }, () => {
  test("two pods: distinct IPs on the subnet, TCP between them, nothing left behind", async (t) => {
    const before = { links: linkNames(), netns: netnsNames() };
    const a = await createPod("tsor-ptest-a", OPTS);
    const b = await createPod("tsor-ptest-b", OPTS).catch(async (e) => {
      await a.cleanup();
      throw e;
    });
    t.after(() => Promise.all([a.cleanup(), b.cleanup()]));

    for (const p of [a, b]) {
      assert.match(p.ip, /^10\.88\.78\.\d+$/);
      assert.equal(p.gateway, "10.88.78.1");
      assert.equal(p.netnsPath, `/var/run/netns/${p.name}`);
      assert.ok(netnsNames().includes(p.name));
      const addrs = spawnSync("ip", ["-n", p.name, "-o", "addr", "show"], { encoding: "utf8" }).stdout;
      assert.match(addrs, new RegExp(`eth0\\s+inet ${p.ip.replace(/\./g, "\\.")}/24`));
      assert.match(addrs, /lo\s+inet 127\.0\.0\.1\/8/, "lo is up with its address");
    }
    assert.notEqual(a.ip, b.ip);
    assert.equal(bridgePorts(OPTS.bridge).length, 2, "one veth per pod on the bridge");

    assert.equal(await exchange(a, b), `pong ping from ${a.ip}`);

    await a.cleanup();
    assert.ok(linkNames().includes(OPTS.bridge), "the bridge stays while pod b uses it");
    assert.equal(bridgePorts(OPTS.bridge).length, 1);
    await b.cleanup();
    await a.cleanup(); // idempotent
    await b.cleanup();
    assert.deepEqual(linkNames().sort(), before.links.sort(), "no veth or bridge left");
    assert.deepEqual(netnsNames().sort(), before.netns.sort(), "no netns left");
    assert.deepEqual(podLeases(OPTS), [], "no lease left");
  });

  test("a leftover pod of the same name (a crashed run) is replaced, its lease released", async () => {
    const other = await createPod("tsor-ptest-d", OPTS); // keeps the bridge and the leases dir alive
    const first = await createPod("tsor-ptest-c", OPTS);
    try {
      assert.deepEqual(podLeases(OPTS).sort(), [first.ip, other.ip].sort());
      const again = await createPod("tsor-ptest-c", OPTS); // no cleanup in between
      assert.equal(podLeases(OPTS).length, 2, "the stale lease was released by CNI DEL, not leaked");
      assert.ok(podLeases(OPTS).includes(again.ip));
      assert.equal(bridgePorts(OPTS.bridge).length, 2, "the stale veth went with its netns");
      await again.cleanup();
    } finally {
      await first.cleanup(); // the stale handle: a no-op on what is already gone
      await other.cleanup();
    }
    assert.deepEqual(podLeases(OPTS), []);
    assert.ok(!linkNames().includes(OPTS.bridge));
    assert.ok(!netnsNames().some((n) => n.startsWith("tsor-ptest-")));
  });

  test("podBundleMutation points the bundle's network namespace at the pod", () => {
    const config: Record<string, any> = { linux: { namespaces: [{ type: "pid" }, { type: "network" }] } };
    podBundleMutation({ netnsPath: "/var/run/netns/x" })(config);
    assert.deepEqual(config.linux.namespaces, [{ type: "pid" }, { type: "network", path: "/var/run/netns/x" }]);
    const bare: Record<string, any> = {};
    podBundleMutation({ netnsPath: "/var/run/netns/y" })(bare);
    assert.deepEqual(bare.linux.namespaces, [{ type: "network", path: "/var/run/netns/y" }]);
  });
});
