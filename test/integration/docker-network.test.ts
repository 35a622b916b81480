// docker networking with --runtime=tsor: a private dockerd (test/lib/dockerd.ts) with bridge
// networking on a bridge this file makes (its own name and subnet, so no other docker on the
// machine is touched; no iptables, no ip_forward, no masquerade), and its own tsor-netd: the
// sentries auto-start it as for a real user, but at a socket under the daemon's temp dir
// (TSOR_NETD_SOCKET in dockerd's environment), so no netd of other tests is involved.
// 1. `-p 127.0.0.1:H:P`: docker's userland proxy connects over the bridge from the host; inside
//    tsor that connection comes from outside the sentry, into the app's own kernel listener.
// 2. Two tsor containers on one user-defined network: the client reaches the server by its IP
//    or its name (docker's embedded DNS), and the connection is a socketpair handed over by netd:
//    nothing crosses the server's veth (a runc client, for contrast, sends it all over the veth).
// 3. `docker network connect` of a running tsor container: netd learns the new address (it
//    re-reads a pod's addresses when a connect finds no listener) and it takes the fast path too.
// Root only; a tsor test (skipped under TSOR_RUNTIME=runc).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import { fetchStatus } from "../../netstack/client.js";
import type { StatusReply } from "../../netstack/api.js";
import { BUSYBOX_IMAGE as IMAGE, PrivateDockerd, dockerSkipReason } from "../lib/dockerd.js";
import { runtime, sleep } from "./harness.js";

const skip = dockerSkipReason(runtime().isRunc);
const tag = process.pid % 10000;
/** Subnets of this run (10.213.0-99 default bridge, 10.213.100-199 user network). */
const k = process.pid % 100;
const DEFAULT_BRIDGE = { name: `tsordk${tag}`, cidr: `10.213.${k}.1/24` };
const USER_NET = { name: `tsordn-${tag}`, bridge: `tsordn${tag}`, subnet: `10.213.${k + 100}.0/24` };
const NETD_SOCKET = "netd/netd.sock";

let d: PrivateDockerd | undefined;
const containers: string[] = [];

function ip(args: string[]): { code: number | null; out: string } {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  return { code: r.status, out: (r.stdout ?? "") + (r.stderr ?? "") };
}

function ipOk(args: string[]): string {
  const r = ip(args);
  assert.equal(r.code, 0, `ip ${args.join(" ")}: ${r.out}`);
  return r.out;
}

/** A docker run -d whose container is removed in `after` even if the test fails. */
function runDetached(args: string[]): string {
  const id = d!.ok(["run", "-d", "--runtime=tsor", ...args]).trim();
  containers.push(id);
  return id;
}

/** A free TCP port on 127.0.0.1 (bound and released; docker-proxy takes it next). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** One HTTP GET over a fresh connection; rejects on error or after 3 s. */
function httpGet(port: number, pathname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    sock.setTimeout(3000, () => sock.destroy(new Error("timeout")));
    sock.on("connect", () => sock.write(`GET ${pathname} HTTP/1.0\r\nHost: x\r\n\r\n`));
    sock.on("data", (c) => chunks.push(c));
    sock.on("error", reject);
    sock.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** rx + tx bytes of every port of our bridges (the host ends of the containers' veths). */
function bridgePortBytes(): Map<string, number> {
  const out = new Map<string, number>();
  for (const br of [DEFAULT_BRIDGE.name, USER_NET.bridge]) {
    if (!fs.existsSync(`/sys/class/net/${br}/brif`)) continue;
    for (const port of fs.readdirSync(`/sys/class/net/${br}/brif`)) {
      const read = (f: string) => Number(fs.readFileSync(`/sys/class/net/${port}/statistics/${f}`, "utf8"));
      out.set(port, read("rx_bytes") + read("tx_bytes"));
    }
  }
  return out;
}

/** Bytes that crossed the ports present in both snapshots (a long-running server's veth is one). */
function bytesSince(before: Map<string, number>): number {
  let moved = 0;
  for (const [port, n] of bridgePortBytes()) if (before.has(port)) moved += n - before.get(port)!;
  return moved;
}

function containerIp(id: string, network: string): string {
  const out = d!.ok(["inspect", "--format", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, id]).trim();
  assert.match(out, /^\d+\.\d+\.\d+\.\d+$/, `the IPv4 address of ${id} on ${network}: ${out}`);
  return out;
}

function netdStatus(): Promise<StatusReply> {
  return fetchStatus(path.join(d!.tmp, NETD_SOCKET), 3000);
}

/** A shell loop that retries `cmd` until it succeeds (the server may not listen yet). */
function retry(cmd: string, tries = 100): string {
  return `n=0; until ${cmd}; do n=$((n+1)); [ $n -ge ${tries} ] && exit 9; sleep 0.1; done`;
}

/**
 * A client container (`runtime`) on the user network sends 4 MiB to `host:port`, a server that
 * answers the md5 of what it read; the sums must match. Returns the bytes that crossed the veths
 * of containers that outlive the client (the server's) and how many connections netd handed over.
 */
async function send(host: string, port: number, runtime = "tsor"): Promise<{ moved: number; handedOver: number; netd: StatusReply }> {
  const before = bridgePortBytes();
  const local0 = (await netdStatus()).connections.local;
  const script = `dd if=/dev/urandom of=/tmp/d bs=1M count=4 2>/dev/null && md5sum < /tmp/d && ${retry(`nc ${host} ${port} < /tmp/d`)}`;
  const cli = d!.docker(["run", "--rm", `--runtime=${runtime}`, "--network", USER_NET.name, IMAGE, "sh", "-c", script], 40_000);
  assert.equal(cli.code, 0, cli.stderr);
  const [sent, got] = cli.stdout.trim().split("\n").map((l) => l.split(/\s+/)[0]);
  assert.match(sent ?? "", /^[0-9a-f]{32}$/);
  assert.equal(got, sent, `the server read what the client sent: ${cli.stdout}`);
  const moved = bytesSince(before);
  const st = await netdStatus();
  return { moved, handedOver: st.connections.local - local0, netd: st };
}

/** send() from a tsor client: through netd, not over the bridge. */
async function sendThroughNetd(host: string, port: number): Promise<void> {
  const r = await send(host, port);
  assert.ok(r.moved < 256 * 1024, `${r.moved} bytes crossed the server's veth (kernel TCP, not the fast path); netd: ${JSON.stringify(r.netd)}`);
  assert.equal(r.handedOver, 1, `netd handed the connection over: ${JSON.stringify(r.netd.connections)}`);
}

describe("docker --runtime=tsor with bridge networking (a private dockerd on its own bridge)", { skip }, () => {
  before(async () => {
    for (const cidr of [DEFAULT_BRIDGE.cidr, USER_NET.subnet]) {
      assert.equal(ip(["route", "show", "match", cidr.replace(/\.1\//, ".0/")]).out.includes("10.213."), false, `${cidr} is in use here`);
    }
    ipOk(["link", "add", DEFAULT_BRIDGE.name, "type", "bridge"]);
    ipOk(["addr", "add", DEFAULT_BRIDGE.cidr, "dev", DEFAULT_BRIDGE.name]);
    ipOk(["link", "set", DEFAULT_BRIDGE.name, "up"]);
    d = new PrivateDockerd(
      // Our bridge as docker's default network; the host's iptables and sysctls stay as they are.
      { bridge: DEFAULT_BRIDGE.name, iptables: false, "ip-forward": false, "ip-masq": false, "userland-proxy": true },
      { env: (tmp) => ({ TSOR_NETD_NAME: `dk-${tag}`, TSOR_NETD_SOCKET: path.join(tmp, NETD_SOCKET), TSOR_NETD_STATE_DIR: path.join(tmp, "netd") }) },
    );
    await d.start();
    d.ok(["network", "create", "--subnet", USER_NET.subnet, "-o", `com.docker.network.bridge.name=${USER_NET.bridge}`, USER_NET.name]);
  });

  after(async () => {
    if (d) {
      for (const id of containers) d.docker(["rm", "-f", id]);
      d.docker(["network", "rm", USER_NET.name]);
      await d.stop();
    }
    for (const br of [USER_NET.bridge, DEFAULT_BRIDGE.name]) if (fs.existsSync(`/sys/class/net/${br}`)) ip(["link", "del", br]);
  });

  test("-p 127.0.0.1:H:P on the default bridge: the host reaches a tsor container's httpd", async () => {
    const port = await freePort();
    const id = runDetached(["-p", `127.0.0.1:${port}:8080`, IMAGE, "sh", "-c", "mkdir /www && echo hello-from-tsor > /www/index.html && exec httpd -f -p 8080 -h /www"]);
    assert.equal(d!.ok(["inspect", "--format", "{{.HostConfig.Runtime}}", id]).trim(), "tsor");
    let last = "";
    for (let i = 0; i < 50; i++) {
      last = await httpGet(port, "/index.html").catch((e: Error) => e.message);
      if (last.includes("hello-from-tsor")) break;
      await sleep(200);
    }
    assert.match(last, /^HTTP\/1\.[01] 200/);
    assert.match(last, /hello-from-tsor/);
    // With iptables off only docker-proxy serves 127.0.0.1:H; it connected over the bridge to a
    // listener the sentry owns (registered with netd), into that listener's kernel queue.
    const st = await netdStatus();
    assert.ok(
      st.listeners.some((l) => l.port === 8080 && l.containerId === id),
      `httpd's listen went through the sentry: ${JSON.stringify(st.listeners)}`,
    );
  });

  test("two tsor containers on a user-defined network: 4 MiB through tsor-netd, not over the bridge", async () => {
    const srv = runDetached(["--network", USER_NET.name, "--name", `srv-${tag}`, IMAGE, "nc", "-ll", "-p", "9000", "-e", "md5sum"]);
    await sendThroughNetd(containerIp(srv, USER_NET.name), 9000);
    await sendThroughNetd(`srv-${tag}`, 9000);
    // The same transfer from a runc client is kernel TCP into the server's kernel listener: the
    // byte count above would have seen it.
    const plain = await send(`srv-${tag}`, 9000, "runc");
    assert.ok(plain.moved > 4 * 1024 * 1024, `a runc client's 4 MiB crossed the server's veth (${plain.moved} bytes)`);
    assert.equal(plain.handedOver, 0);
  });

  test("docker network connect of a running container: its new address takes the fast path too", async () => {
    const srv = runDetached([IMAGE, "nc", "-ll", "-p", "9100", "-e", "md5sum"]);
    d!.ok(["network", "connect", USER_NET.name, srv]);
    await sendThroughNetd(containerIp(srv, USER_NET.name), 9100);
  });
});
