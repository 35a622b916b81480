// Pod-to-pod TCP between TSoR containers on one node (root, tsor only): CNI pods as a kubelet
// makes them, busybox containers joined to their netns, and a private tsor-netd (--cluster file)
// started here. A connect() from one pod to another's listener becomes a direct socketpair between
// the two apps: bytes do not cross the pods' veths and no kernel TCP connection exists. Service
// ClusterIPs resolve in netd; plain (non-TSoR) peers keep the kernel path; a netd restart leaves
// established connections alone and the sentries register again.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import { fetchStatus } from "../../netstack/client.js";
import type { StatusReply } from "../../netstack/api.js";
import { repoRoot, TSOR } from "../lib/bundle.js";
import { createPod, inPod, podBundleMutation, type TestPod } from "../lib/pods.js";
import { Harness, sleep, waitFor, type RunResult } from "./harness.js";

const h = new Harness("p2p");
const skip = h.rtm.isRunc ? "pod-to-pod socketpairs are tsor's own" : process.getuid?.() !== 0 ? "needs root" : false;
const NET = { bridge: "tsor-p2p0", subnet: "10.88.79.0/24", network: "tsor-p2p" };
const CLUSTER_IP = "10.96.0.10";
const tag = String(process.pid % 100000);

const pods: Record<string, TestPod> = {};
const background: ChildProcess[] = [];
let netdDir = "";
let socket = "";
let netd: ChildProcess | undefined;

/** tsor netd --cluster with its own name and socket; resolves once it answers status. */
async function startNetd(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [TSOR, "netd", "--name", `p2p-${tag}`, "--socket", socket, "--state-dir", path.join(netdDir, "state"), "--log", path.join(netdDir, "netd.log"), "--cluster", path.join(netdDir, "cluster.yaml")],
    { stdio: ["ignore", "ignore", fs.openSync(path.join(netdDir, "netd.err"), "a")] },
  );
  background.push(child);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`netd exited ${child.exitCode}: ${fs.readFileSync(path.join(netdDir, "netd.err"), "utf8")}`);
    try {
      await fetchStatus(socket, 1000);
      return child;
    } catch {
      if (Date.now() > deadline) throw new Error("netd did not come up");
      await sleep(50);
    }
  }
}

function status(): Promise<StatusReply> {
  return fetchStatus(socket, 3000);
}

function killNetd(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/**
 * A busybox container in `pod` running `script` in the foreground (`tsor run`); resolves when it
 * exits. `bins`: more executables for its /bin (name -> host path).
 */
function runIn(pod: TestPod, script: string, hint: string, bins: Record<string, string> = {}): { id: string; done: Promise<RunResult> } {
  const b = h.bundle({ args: ["sh", "-c", script], mutate: podBundleMutation(pod) });
  for (const [name, from] of Object.entries(bins)) fs.copyFileSync(from, path.join(b.rootfs, "bin", name));
  const id = h.id(hint);
  return { id, done: h.rtAsync(["run", "--netd-socket", socket, "--bundle", b.dir, id], { timeoutMs: 40_000 }) };
}

async function runOk(pod: TestPod, script: string, hint: string, bins: Record<string, string> = {}): Promise<string> {
  const r = await runIn(pod, script, hint, bins).done;
  assert.equal(r.code, 0, `${hint} exited ${r.code} ${r.signal ?? ""}: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/**
 * test/integration/fixtures/NAME.c (static) run as `NAME server PORT` in pod srv and `NAME client
 * SRV_IP PORT` in pod cli twice: as plain processes in the pods' netns (kernel TCP over the
 * bridge), then as containers under tsor on PORT+100. What each side printed, per run.
 */
async function kernelAndTsor(name: string, port: number): Promise<Record<"kernel" | "tsor", { client: string; server: string }>> {
  const bin = path.join(h.dir(name), name);
  execFileSync("cc", ["-O1", "-static", "-o", bin, path.join(repoRoot(), "test", "integration", "fixtures", `${name}.c`)], { stdio: ["ignore", "inherit", "inherit"] });
  const plainServer = spawn("ip", ["netns", "exec", pods.srv!.name, bin, "server", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  background.push(plainServer);
  let server = "";
  plainServer.stdout!.on("data", (d: Buffer) => (server += d.toString()));
  const plainExit = new Promise((r) => plainServer.once("exit", r));
  const client = execFileSync("ip", ["netns", "exec", pods.cli!.name, bin, "client", pods.srv!.ip, String(port)], { encoding: "utf8", timeout: 40_000 });
  await plainExit;

  const tsorServer = runIn(pods.srv!, `${name} server ${port + 100}`, `${name}-srv`, { [name]: bin });
  const tsorClient = await runOk(pods.cli!, `${name} client ${pods.srv!.ip} ${port + 100}`, `${name}-cli`, { [name]: bin });
  const r = await tsorServer.done;
  assert.equal(r.code, 0, `${name} server under tsor: ${r.stderr}${r.stdout}`);
  return { kernel: { client, server }, tsor: { client: tsorClient, server: r.stdout } };
}

/** Stops a long-running container started with runIn. */
async function stop(c: { id: string; done: Promise<RunResult> }): Promise<void> {
  h.rt(["kill", c.id, "KILL"]);
  await c.done;
}

function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? r.stdout : "";
}

/** Bytes through the pod's eth0 (rx + tx), read inside its netns. */
function vethBytes(pod: TestPod): number {
  const read = (f: string) => Number(sh(inPod(pod, ["cat", `/sys/class/net/eth0/statistics/${f}`])).trim());
  return read("rx_bytes") + read("tx_bytes");
}

/** Kernel TCP sockets of the pod's netns touching `port`: [state hex, line]. */
function tcpRows(pod: TestPod, port: number): { state: string; line: string }[] {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const text = sh(inPod(pod, ["cat", "/proc/net/tcp", "/proc/net/tcp6"]));
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => /^[0-9A-F]{2}$/.test(f[3] ?? "") && (f[1]!.endsWith(`:${hex}`) || f[2]!.endsWith(`:${hex}`)))
    .map((f) => ({ state: f[3]!, line: f.join(" ") }));
}

const ESTABLISHED = "01";
const LISTEN = "0A";

/** A shell loop that retries `cmd` until it succeeds (a server may not be listening yet). */
function retry(cmd: string, tries = 100): string {
  return `n=0; until ${cmd}; do n=$((n+1)); [ $n -ge ${tries} ] && exit 9; sleep 0.1; done`;
}

before(async () => {
  if (skip) return;
  process.env.TSOR_NETD_SPAWN = "0"; // only the netd of this file, never an auto-started one
  netdDir = h.dir("netd");
  socket = path.join(netdDir, "netd.sock");
  const names = ["srv", "cli", "ep1", "ep2", "ep3", "plain"];
  for (const n of names) pods[n] = await createPod(`p2p-${n}-${tag}`, NET);
  const yaml = [
    "pods:",
    ...names.filter((n) => n !== "plain").map((n) => `  - {name: ${n}, ip: ${pods[n]!.ip}, tsor: true}`),
    `  - {name: plain, ip: ${pods.plain!.ip}}`,
    "services:",
    "  - name: names",
    `    clusterIP: ${CLUSTER_IP}`,
    "    ports: [{port: 80, targetPort: 8080}]",
    `    endpoints: [${["ep1", "ep2", "ep3"].map((n) => `{ip: ${pods[n]!.ip}}`).join(", ")}]`,
    "",
  ].join("\n");
  fs.writeFileSync(path.join(netdDir, "cluster.yaml"), yaml);
  netd = await startNetd();
});

after(async () => {
  h.cleanup();
  for (const c of background) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const p of Object.values(pods)) await p.cleanup().catch(() => {});
  delete process.env.TSOR_NETD_SPAWN;
});

describe("pod-to-pod through tsor-netd", { skip }, () => {
  test("64 MiB between two pods: checksum intact, nothing on the veths, no kernel TCP connection", async () => {
    const srv = pods.srv!;
    const cli = pods.cli!;
    const before = { srv: vethBytes(srv), cli: vethBytes(cli) };
    // md5sum reads the connection itself and answers the sum on it (nc -e).
    const server = runIn(srv, "nc -l -p 9000 -e md5sum", "sink");
    const client = await runOk(
      cli,
      `dd if=/dev/urandom of=/tmp/d bs=1M count=64 2>/dev/null && md5sum < /tmp/d && ${retry(`nc ${srv.ip} 9000 < /tmp/d`)}`,
      "source",
    );
    const r = await server.done;
    assert.equal(r.code, 0, r.stderr);
    const [sent, got] = client.trim().split("\n").map((l) => l.split(/\s+/)[0]);
    assert.match(sent ?? "", /^[0-9a-f]{32}$/);
    assert.equal(got, sent, "the server read what the client sent");
    const moved = vethBytes(srv) - before.srv + (vethBytes(cli) - before.cli);
    assert.ok(moved < 1024 * 1024, `${moved} bytes crossed the pods' veths`);
    for (const pod of [srv, cli]) {
      const rows = tcpRows(pod, 9000).filter((x) => x.state !== LISTEN);
      assert.deepEqual(rows, [], `kernel TCP sockets for port 9000 in ${pod.name}`);
    }
  });

  test("50 concurrent connections between two pods all succeed", async () => {
    const server = runIn(pods.srv!, "nc -ll -p 9100 -e cat", "echo");
    try {
      const out = await runOk(
        pods.cli!,
        `${retry(`echo ping | nc ${pods.srv!.ip} 9100 | grep -q ping`)}; ` +
          `for i in $(seq 50); do (echo hello$i | nc ${pods.srv!.ip} 9100 > /tmp/o$i) & done; wait; ` +
          `for i in $(seq 50); do grep -qx hello$i /tmp/o$i || echo MISSING $i; done; echo DONE`,
        "many",
      );
      assert.equal(out.trim(), "DONE");
      assert.deepEqual(tcpRows(pods.cli!, 9100), [], "no kernel TCP socket in the client pod");
    } finally {
      await stop(server);
    }
  });

  test("a client pod killed mid-stream: the server reads EOF, and its sentry serves the next client", async () => {
    // wc counts what each connection sent until EOF and answers the count on it.
    const server = runIn(pods.srv!, "nc -ll -p 9300 -e wc -c", "counter");
    try {
      await runOk(pods.cli!, retry(`echo ping | nc ${pods.srv!.ip} 9300 | grep -q 5`), "warm");
      const streamer = runIn(pods.cli!, `cat /dev/zero | nc ${pods.srv!.ip} 9300`, "streamer");
      await sleep(500);
      h.rt(["kill", streamer.id, "KILL"]);
      const killed = await streamer.done;
      assert.notEqual(killed.code, 0, "the streaming client was killed");
      const out = await runOk(pods.cli!, `echo hello | nc ${pods.srv!.ip} 9300`, "after");
      assert.equal(out.trim(), "6", "the next client is served");
      const ended = await Promise.race([server.done.then(() => true), sleep(200).then(() => false)]);
      assert.equal(ended, false, "the server container is still running");
    } finally {
      await stop(server);
    }
  });

  test("the server's getpeername shows the client pod's IP and an ephemeral port (httpd's REMOTE_ADDR)", async () => {
    // busybox httpd puts getpeername(2) of the accepted connection into a CGI's environment.
    const cgi = "#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR $REMOTE_PORT\\n";
    const server = runIn(pods.srv!, `mkdir -p /www/cgi-bin && printf '${cgi}' > /www/cgi-bin/peer && chmod 755 /www/cgi-bin/peer && httpd -f -p 9400 -h /www`, "peer");
    try {
      const out = await runOk(pods.cli!, retry(`wget -q -O - http://${pods.srv!.ip}:9400/cgi-bin/peer`), "peercli");
      const [addr, port] = out.trim().split(" ");
      // httpd listens on a dual-stack [::] socket, so Linux reports an IPv4 peer v4-mapped.
      assert.equal(addr, `[::ffff:${pods.cli!.ip}]`, `the peer is the client pod, v4-mapped: ${out}`);
      assert.ok(Number(port) >= 32768 && Number(port) <= 60999, `an ephemeral port (ip_local_port_range): ${out}`);
      assert.deepEqual(tcpRows(pods.cli!, 9400), [], "and it was the fast path: no kernel TCP socket in the client pod");
    } finally {
      await stop(server);
    }
  });

  test("TCP_MAXSEG, TCP_INFO and buffer sizes of a connection between pods are the veth path's, as over kernel TCP", async () => {
    const { kernel, tsor } = await kernelAndTsor("tcp_info", 9500);
    assert.match(kernel.client, /^client maxseg=\d+ .*pmtu=1500 /, "the pods' veths have MTU 1500");
    assert.deepEqual(tsor, kernel);
  });

  test("socket behaviours between two pods read as over kernel TCP (names, half-close, resets, refused, non-blocking connect)", async () => {
    const { kernel, tsor } = await kernelAndTsor("pod_pair", 9700);
    assert.doesNotMatch(kernel.client + kernel.server, /FAIL/, "the kernel run itself");
    assert.equal(tsor.client, kernel.client, "the client's view");
    assert.equal(tsor.server, kernel.server, "the server's view");
    assert.deepEqual(tcpRows(pods.cli!, 9801), [], "and it was the fast path: no kernel TCP socket in the client pod");
  });

  test("a Service ClusterIP spreads 6 connects over its 3 endpoint pods round robin", async () => {
    const eps = ["ep1", "ep2", "ep3"].map((n) => runIn(pods[n]!, `nc -ll -p 8080 -e echo ${n}`, n));
    try {
      const ready = ["ep1", "ep2", "ep3"].map((n) => retry(`nc ${pods[n]!.ip} 8080 </dev/null | grep -q ${n}`)).join("; ");
      const out = await runOk(pods.cli!, `${ready}; for i in 1 2 3 4 5 6; do nc ${CLUSTER_IP} 80 </dev/null; done`, "svc");
      const names = out.trim().split("\n").sort();
      assert.deepEqual(names, ["ep1", "ep1", "ep2", "ep2", "ep3", "ep3"], out);
    } finally {
      await Promise.all(eps.map(stop));
    }
  });

  test("plain client -> TSoR server and TSoR client -> plain server take the kernel path", async () => {
    const server = runIn(pods.srv!, "nc -ll -p 9200 -e echo tsor-server", "tsrv");
    const plainServer = spawn("ip", ["netns", "exec", pods.plain!.name, "busybox", "nc", "-ll", "-p", "9300", "-e", "echo", "plain-server"], { stdio: "ignore" });
    background.push(plainServer);
    try {
      const got = await waitFor("the TSoR server to answer a plain client", () => {
        const out = sh(inPod(pods.plain!, ["busybox", "nc", pods.srv!.ip, "9200"]));
        return out.includes("tsor-server") ? out : undefined;
      });
      assert.equal(got.trim(), "tsor-server");
      const out = await runOk(pods.cli!, retry(`nc ${pods.plain!.ip} 9300 </dev/null | grep plain-server`), "toplain");
      assert.equal(out.trim(), "plain-server");
    } finally {
      plainServer.kill("SIGKILL");
      await stop(server);
    }
  });

  test("netd killed: established connections go on, new ones take the kernel path; restarted: fast path again", async () => {
    const srv = pods.srv!;
    const cli = pods.cli!;
    const server = runIn(srv, "nc -ll -p 9400 -e cat", "echo2");
    try {
      await runOk(cli, retry(`echo ping | nc ${srv.ip} 9400 | grep -q ping`), "warm");
      // A long-lived connection: 30 lines, one every 0.3 s, each echoed back.
      const long = runIn(cli, `i=0; while [ $i -lt 30 ]; do echo line$i; sleep 0.3; i=$((i+1)); done | nc ${srv.ip} 9400`, "long");
      await sleep(1000);
      assert.deepEqual(tcpRows(cli, 9400).filter((x) => x.state === ESTABLISHED), [], "the long connection is a socketpair");

      await killNetd(netd!);
      const down = await runOk(cli, `echo while-down | nc ${srv.ip} 9400`, "down");
      assert.equal(down.trim(), "while-down");

      netd = await startNetd();
      const deadline = Date.now() + 15_000;
      for (;;) {
        const st = await status().catch(() => undefined);
        if (st?.listeners.some((l) => l.port === 9400) && st.pods.some((p) => p.podIps.includes(cli.ip))) break;
        assert.ok(Date.now() < deadline, `sentries did not register again: ${JSON.stringify(st)}`);
        await sleep(100);
      }
      const again = runIn(cli, `(echo after-restart; sleep 2) | nc ${srv.ip} 9400`, "again");
      await sleep(1200);
      assert.deepEqual(tcpRows(cli, 9400).filter((x) => x.state === ESTABLISHED), [], "after the restart: a socketpair again");
      const r = await again.done;
      assert.equal(r.stdout.trim(), "after-restart", r.stderr);
      const l = await long.done;
      assert.equal(l.code, 0, l.stderr);
      assert.deepEqual(l.stdout.trim().split("\n"), Array.from({ length: 30 }, (_, i) => `line${i}`));
      const st = await status();
      assert.ok(st.connections.local >= 1, `netd saw no local connection: ${JSON.stringify(st.connections)}`);
    } finally {
      await stop(server);
    }
  });
});
