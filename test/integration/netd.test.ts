// tsor-netd end to end (root): a daemon with its own --name and socket in a temp dir, two
// NetdClients playing two sentries. A connect() hands A's socketpair end to B, and bytes flow
// directly; malformed messages get errors; non-root peers are refused; a killed netd leaves
// established pairs working and clients register again with the next one; status and metrics.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";

import { loadNative } from "../../native/index.js";
import { NetdClient, NetdError, NetdUnavailable, ensureNetd, type IncomingConnection } from "../../netstack/client.js";
import { repoRoot } from "../lib/bundle.js";
import { runtime } from "./harness.js";

const n = loadNative();
const skip = runtime().isRunc ? "tsor netd is tsor's own" : process.getuid?.() !== 0 ? "needs root" : false;
const TSOR = join(repoRoot(), "bin", "tsor");

let dir = "";
let socket = "";
const children: ChildProcess[] = [];
const clients: NetdClient[] = [];

interface Netd {
  child: ChildProcess;
  metrics: string;
}

async function startNetd(...extra: string[]): Promise<Netd> {
  const child = spawn(
    process.execPath,
    [TSOR, "netd", "--name", `test-${process.pid}`, "--socket", socket, "--state-dir", join(dir, "state"), "--log", join(dir, "netd.log"), "--metrics-address", "127.0.0.1:0", ...extra],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  children.push(child);
  let err = "";
  const metrics = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /metrics (http:\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`netd exited ${code}: ${err}`)));
  });
  return { child, metrics };
}

function stopNetd(d: Netd, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return new Promise((resolve) => {
    if (d.child.exitCode !== null || d.child.signalCode !== null) return resolve();
    d.child.once("exit", () => resolve());
    d.child.kill(signal);
  });
}

function client(containerId: string, podIps: string[]): NetdClient {
  const c = new NetdClient({ socket, hello: { containerId, podIps, netns: `/test/${containerId}` }, reconnectMinMs: 50, reconnectMaxMs: 200, requestTimeoutMs: 3000 });
  clients.push(c);
  return c;
}

function nextIncoming(c: NetdClient): Promise<IncomingConnection> {
  return new Promise((resolve) => c.once("incoming", resolve));
}

function once(c: NetdClient, event: "up" | "down"): Promise<void> {
  return new Promise((resolve) => c.once(event, () => resolve()));
}

/** Pods A (10.99.0.1) and B (10.99.0.2) with open sessions; B listens on 0.0.0.0:8080. */
async function twoPods(): Promise<{ a: NetdClient; b: NetdClient }> {
  const a = client("pod-a", ["10.99.0.1"]);
  const b = client("pod-b", ["10.99.0.2"]);
  await a.open();
  await b.open();
  await b.listen("0.0.0.0", 8080);
  return { a, b };
}

/** A connects to `dst` with a fresh socketpair's sentry end; B's incoming connection and A's app end. */
async function handOver(a: NetdClient, b: NetdClient, dst: { ip: string; port: number }) {
  const [appA, sentryA] = n.socketpair();
  const incoming = nextIncoming(b);
  const reply = await a.connect(dst, { ip: "10.99.0.1", port: 40000 }, sentryA);
  n.closeFd(sentryA);
  return { appA, reply, conn: await incoming };
}

/** Writes `text` on one end and reads it on the other (both blocking AF_UNIX stream ends). */
function pipeThrough(from: number, to: number, text: string): string {
  writeSync(from, text);
  const buf = Buffer.alloc(256);
  const got = readSync(to, buf, 0, buf.length, null);
  return buf.subarray(0, got).toString();
}

/** One raw request on a fresh API connection; the reply. */
async function raw(data: Buffer, fds: number[] = []): Promise<Record<string, unknown>> {
  const fd = n.unixConnect(socket);
  try {
    n.sendFds(fd, data, fds);
    const r = await new Promise<{ data: Buffer }>((resolve, reject) => n.recvFds(fd, 65536, 0, (e, res) => (e ? reject(e) : resolve(res))));
    return JSON.parse(r.data.toString()) as Record<string, unknown>;
  } finally {
    n.closeFd(fd);
  }
}

function tsor(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSOR, ...args], { encoding: "utf8", timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "tsor-netd-"));
  chmodSync(dir, 0o755); // the non-root peer must reach the socket to be refused by netd itself
  socket = join(dir, "netd.sock");
});

// A failed test must not leave its netd behind for the next one.
afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => stopNetd({ child, metrics: "" }, "SIGKILL")));
});

after(async () => {
  for (const c of clients) c.close();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("netd: a connect() in pod A reaches B's listener as a direct socketpair; refused and not-local answers", { skip }, async () => {
  const netd = await startNetd();
  const a = client("pod-a", ["10.99.0.1"]);
  const b = client("pod-b", ["10.99.0.2"]);
  await a.open();
  await b.open();
  assert.equal(await b.listen("10.99.0.2", 8080), "registered");
  await assert.rejects(b.listen("10.99.0.2", 8080), (e) => e instanceof NetdError && e.code === "EADDRINUSE");
  assert.equal(await a.listen("0.0.0.0", 8080), "registered"); // another pod, same port: fine

  const [appA, sentryA] = n.socketpair();
  const incoming = nextIncoming(b);
  const reply = await a.connect({ ip: "10.99.0.2", port: 8080 }, { ip: "10.99.0.1", port: 40000 }, sentryA);
  n.closeFd(sentryA);
  assert.equal(reply.to, "pod-b");
  const conn = await incoming;
  assert.deepEqual(conn.listener, { ip: "10.99.0.2", port: 8080 });
  assert.deepEqual(conn.peer, { ip: "10.99.0.1", port: 40000 });
  assert.equal(conn.from, "pod-a");
  assert.equal(pipeThrough(appA, conn.fd, "hello from A"), "hello from A");
  assert.equal(pipeThrough(conn.fd, appA, "hello from B"), "hello from B");

  const [x1, x2] = n.socketpair();
  await assert.rejects(a.connect({ ip: "10.99.0.2", port: 8081 }, { ip: "10.99.0.1", port: 40001 }, x2), (e) => e instanceof NetdError && e.code === "ECONNREFUSED");
  await assert.rejects(a.connect({ ip: "192.0.2.77", port: 80 }, { ip: "10.99.0.1", port: 40002 }, x2), (e) => e instanceof NetdError && e.code === "ENOTLOCAL");
  a.reportFallback("netd_unavailable");

  const st = tsor("netd", "status", "--socket", socket);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /^pod-a\s+10\.99\.0\.1\s+-\s+1\s+1\s+0$/m);
  assert.match(st.stdout, /^pod-b\s+10\.99\.0\.2\s+-\s+1\s+0\s+1$/m);
  assert.match(st.stdout, /^10\.99\.0\.2:8080\s+pod-b\s+no\s+1$/m);
  assert.match(st.stdout, /^0\.0\.0\.0:8080\s+pod-a\s+no\s+0$/m);
  assert.match(st.stdout, /^total\s+1\s+2\s+1\s+0$/m); // local 1; kernel: ENOTLOCAL + the report

  const text = await (await fetch(`${netd.metrics}`)).text();
  assert.match(text, /^tsor_netd_connections_total\{transport="local"\} 1$/m);
  assert.match(text, /^tsor_netd_connections_total\{transport="kernel"\} 2$/m);
  assert.match(text, /^tsor_netd_fallbacks_total\{reason="not_local"\} 1$/m);
  assert.match(text, /^tsor_netd_fallbacks_total\{reason="netd_unavailable"\} 1$/m);
  assert.match(text, /^tsor_netd_listeners 2$/m);
  assert.match(text, /^tsor_netd_connect_seconds_count 1$/m);

  // A session that ends takes its listeners along.
  const gone = client("pod-c", ["10.99.0.3"]);
  await gone.open();
  await gone.listen("10.99.0.3", 9000);
  gone.close();
  for (let i = 0; i < 50 && (await a.status()).listeners.some((l) => l.containerId === "pod-c"); i++) await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(a.connect({ ip: "10.99.0.3", port: 9000 }, { ip: "10.99.0.1", port: 40003 }, x2), (e) => e instanceof NetdError && e.code === "ENOTLOCAL");

  for (const fd of [appA, conn.fd, x1, x2]) n.closeFd(fd);
  a.close();
  b.close();
  await stopNetd(netd);
  assert.ok(!existsSync(socket), "the socket file is removed at exit");
});

test("netd: malformed messages get errors naming the problem; the daemon survives", { skip }, async () => {
  const netd = await startNetd();
  let r = await raw(Buffer.from("{nope"));
  assert.equal(r.error, "EINVAL");
  assert.match(String(r.message), /^not JSON/);
  r = await raw(Buffer.from(JSON.stringify({ op: "listen", id: 5, ip: "10.0.0.1", port: 99999 })));
  assert.deepEqual([r.id, r.error], [5, "EINVAL"]);
  assert.match(String(r.message), /^port: /);
  r = await raw(Buffer.from(JSON.stringify({ op: "listen", id: 6, ip: "10.0.0.1", port: 80 })));
  assert.deepEqual([r.id, r.error], [6, "EPROTO"]);
  const [p1, p2] = n.socketpair();
  r = await raw(Buffer.from(JSON.stringify({ op: "status", id: 7 })), [p1, p2]);
  assert.equal(r.error, "EINVAL");
  assert.match(String(r.message), /truncated|fds/);
  r = await raw(Buffer.from(JSON.stringify({ op: "hello", id: 8, containerId: "x", podIps: ["not-an-ip"], netns: "" })));
  assert.match(String(r.message), /^podIps\.0: not an IP address/);
  n.closeFd(p1);
  n.closeFd(p2);
  // Several bad messages on one session, then a good one: still answered.
  const c = client("survivor", ["10.99.1.1"]);
  await c.open();
  assert.equal((await c.status()).pods.length, 1);
  const text = await (await fetch(netd.metrics)).text();
  assert.match(text, /^tsor_netd_errors_total\{kind="bad_message"\} [5-9]$/m);
  c.close();
  await stopNetd(netd);
});

test("netd: a peer that is not root is refused", { skip }, async () => {
  const netd = await startNetd();
  const script = `
    import { loadNative } from ${JSON.stringify(join(repoRoot(), "dist", "native", "index.js"))};
    const n = loadNative();
    const fd = n.unixConnect(${JSON.stringify(socket)});
    n.recvFds(fd, 65536, 0, (e, r) => { process.stdout.write(e ? "ERR " + e.message : r.data.toString()); });
  `;
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  const reply = JSON.parse(r.stdout) as { ok: boolean; error: string; message: string };
  assert.equal(reply.ok, false);
  assert.equal(reply.error, "EPERM");
  assert.match(reply.message, /uid 65534/);
  const text = await (await fetch(netd.metrics)).text();
  assert.match(text, /^tsor_netd_errors_total\{kind="peer_refused"\} 1$/m);
  await stopNetd(netd);
});

test("netd: queued-mark: a marked end reaches a listener that takes marks as is, and one that does not without its mark", { skip }, async () => {
  const netd = await startNetd();
  const a = client("pod-a", ["10.99.0.1"]);
  const b = client("pod-b", ["10.99.0.2"]);
  await a.open();
  await b.open();
  assert.equal(a.supports("queued-mark"), true, "named in the hello reply");
  await b.listen("10.99.0.2", 8080, { queuedMark: true });
  await b.listen("10.99.0.2", 8081); // a sentry that does not know marks

  /** A marked end (QUEUED_MARK, then "hi") handed to `port`: what B's sentry gets. */
  const markedTo = async (port: number) => {
    const [app, end] = n.socketpair();
    writeSync(app, Buffer.from([0]));
    writeSync(app, "hi");
    const incoming = nextIncoming(b);
    await a.connect({ ip: "10.99.0.2", port }, { ip: "10.99.0.1", port: 40000 + port }, end, { queuedMark: true });
    n.closeFd(end);
    const conn = await incoming;
    const buf = Buffer.alloc(8);
    const bytes = [...buf.subarray(0, readSync(conn.fd, buf, 0, buf.length, null))];
    for (const fd of [app, conn.fd]) n.closeFd(fd);
    return { queuedMark: conn.queuedMark, bytes };
  };
  assert.deepEqual(await markedTo(8080), { queuedMark: true, bytes: [0, 104, 105] });
  assert.deepEqual(await markedTo(8081), { queuedMark: false, bytes: [104, 105] }, "netd took the mark off");

  // An unmarked end says so; one that claims a mark it does not hold is refused.
  const [app, end] = n.socketpair();
  const incoming = nextIncoming(b);
  await a.connect({ ip: "10.99.0.2", port: 8080 }, { ip: "10.99.0.1", port: 40100 }, end);
  const unmarked = await incoming;
  assert.equal(unmarked.queuedMark, false);
  await assert.rejects(a.connect({ ip: "10.99.0.2", port: 8081 }, { ip: "10.99.0.1", port: 40101 }, end, { queuedMark: true }), (e) => e instanceof NetdError && e.code === "EINVAL");
  for (const fd of [app, end, unmarked.fd]) n.closeFd(fd);
  a.close();
  b.close();
  await stopNetd(netd);
});

/** Waits (up to 2 s) until `cond` holds; false if it never did. */
async function until(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

test("netd: listener-hints: a connect netd answered makes a hint, the next goes without waiting; a listener that goes ends the hints, and a stale one resets its client", { skip }, async () => {
  const netd = await startNetd();
  const { a, b } = await twoPods();
  const dst = { ip: "10.99.0.2", port: 8080 };
  assert.equal(a.supports("listener-hints"), true, "named in the hello reply");
  assert.equal(a.hinted(dst), false, "no hint before netd answered a connect there");
  const first = await handOver(a, b, dst);
  assert.equal(first.reply.hinted, true);
  assert.equal(a.hinted(dst), true);

  // Hinted: sent without a reply; B's sentry still gets the end, and the bytes flow.
  const [appA, sentryA] = n.socketpair();
  const incoming = nextIncoming(b);
  a.connectHinted(dst, { ip: "10.99.0.1", port: 40001 }, sentryA);
  n.closeFd(sentryA);
  const conn = await incoming;
  assert.deepEqual(conn.dst, dst);
  assert.equal(pipeThrough(appA, conn.fd, "hinted"), "hinted");
  assert.equal(a.hinted(dst), true, "a hand-over keeps the hint");
  let text = await (await fetch(netd.metrics)).text();
  assert.match(text, /^tsor_netd_connections_total\{transport="local"\} 2$/m, "netd counts it as any other");

  // The listener goes: A is told, and asks netd again next time.
  await b.unlisten("0.0.0.0", 8080);
  assert.ok(await until(() => !a.hinted(dst)), "listeners-changed reached A");

  // A stale hint (sent anyway): netd closes the end, whose client reads a reset, and says so.
  await b.listen("0.0.0.0", 8081);
  const other = await handOver(a, b, { ip: "10.99.0.2", port: 8081 });
  assert.equal(a.hinted({ ip: "10.99.0.2", port: 8081 }), true);
  const [appS, sentryS] = n.socketpair();
  writeSync(appS, Buffer.from([0])); // a queued mark: unread when netd closes the end
  a.connectHinted(dst, { ip: "10.99.0.1", port: 40002 }, sentryS);
  n.closeFd(sentryS);
  assert.throws(() => readSync(appS, Buffer.alloc(8), 0, 8, null), /ECONNRESET/);
  assert.ok(await until(() => !a.hinted({ ip: "10.99.0.2", port: 8081 })), "the failure reached A as listeners-changed");
  text = await (await fetch(netd.metrics)).text();
  assert.match(text, /^tsor_netd_errors_total\{kind="stale_hint"\} 1$/m);

  // A session that ends takes its listeners with it: hints on them end too.
  await handOver(a, b, { ip: "10.99.0.2", port: 8081 }).then((h) => [h.appA, h.conn.fd].forEach((fd) => n.closeFd(fd)));
  assert.equal(a.hinted({ ip: "10.99.0.2", port: 8081 }), true);
  b.close();
  assert.ok(await until(() => !a.hinted({ ip: "10.99.0.2", port: 8081 })), "B's session end reached A");
  for (const fd of [first.appA, first.conn.fd, appA, conn.fd, other.appA, other.conn.fd, appS]) n.closeFd(fd);
  a.close();
  await stopNetd(netd);
});

test("netd: killed and restarted, established pairs keep working and clients register again", { skip }, async () => {
  let netd = await startNetd();
  const { a, b } = await twoPods();
  const { appA, conn } = await handOver(a, b, { ip: "10.99.0.2", port: 8080 });

  const downA = once(a, "down");
  const downB = once(b, "down");
  await stopNetd(netd, "SIGKILL");
  await Promise.all([downA, downB]);
  assert.equal(a.available, false);
  assert.equal(pipeThrough(appA, conn.fd, "still here"), "still here");
  const [y1, y2] = n.socketpair();
  await assert.rejects(a.connect({ ip: "10.99.0.2", port: 8080 }, { ip: "10.99.0.1", port: 40001 }, y2), NetdUnavailable);
  assert.equal(await b.listen("10.99.0.2", 9090), "deferred"); // registered when netd is back

  const upA = once(a, "up");
  const upB = once(b, "up");
  netd = await startNetd(); // the stale socket file is replaced; the lock died with the old one
  await Promise.all([upA, upB]);
  const st = await a.status();
  assert.deepEqual(
    st.listeners.map((l) => `${l.ip}:${l.port} ${l.containerId}`),
    ["0.0.0.0:8080 pod-b", "10.99.0.2:9090 pod-b"],
  );
  const again = nextIncoming(b);
  await a.connect({ ip: "10.99.0.2", port: 8080 }, { ip: "10.99.0.1", port: 40002 }, y2);
  const conn2 = await again;
  assert.equal(pipeThrough(y1, conn2.fd, "after restart"), "after restart");
  assert.equal(pipeThrough(appA, conn.fd, "old pair too"), "old pair too");
  for (const fd of [appA, conn.fd, y1, y2, conn2.fd]) n.closeFd(fd);
  a.close();
  b.close();
  await stopNetd(netd);
});

test("netd --cluster: a Service ClusterIP reaches a ready endpoint's listener; status names the pod", { skip }, async () => {
  const file = join(dir, "cluster.yaml");
  writeFileSync(
    file,
    [
      "pods:",
      "  - {name: web-0, ip: 10.99.0.2, tsor: true}",
      "services:",
      "  - name: web",
      "    clusterIP: 10.96.0.10",
      "    ports: [{port: 80, targetPort: 8080}]",
      "    endpoints: [{ip: 10.99.0.2}]",
      "",
    ].join("\n"),
  );
  const netd = await startNetd("--cluster", file);
  const { a, b } = await twoPods();
  const { appA, reply, conn } = await handOver(a, b, { ip: "10.96.0.10", port: 80 });
  assert.deepEqual(reply.dst, { ip: "10.99.0.2", port: 8080 });
  assert.deepEqual(conn.dst, { ip: "10.99.0.2", port: 8080 });
  assert.equal(reply.hinted, false, "a Service's backends move: no hint");
  assert.equal(a.hinted({ ip: "10.96.0.10", port: 80 }), false);
  assert.equal(pipeThrough(appA, conn.fd, "via service"), "via service");
  const st = tsor("netd", "status", "--socket", socket);
  assert.match(st.stdout, /^pod-b\s+10\.99\.0\.2\s+default\/web-0\s+1\s+0\s+1$/m);
  for (const fd of [appA, conn.fd]) n.closeFd(fd);
  a.close();
  b.close();
  await stopNetd(netd);
});

test("ensureNetd: starts a netd in the background when none runs, reuses it, and it exits when idle", { skip }, async () => {
  const name = `ensure-${process.pid}`;
  const sock = join(dir, "ensure.sock");
  const stateDir = join(dir, "ensure");
  const opts = { name, socket: sock, stateDir, idleExitSeconds: 1, hello: { containerId: "c1", podIps: ["10.99.2.1"], netns: "/test/c1" } };
  const c1 = await ensureNetd(opts);
  assert.ok(c1, "a client");
  clients.push(c1);
  const pid = (await c1.status()).pid;
  const c2 = await ensureNetd({ ...opts, hello: { containerId: "c2", podIps: [], netns: "/test/c2", pid: process.pid } });
  assert.ok(c2);
  clients.push(c2);
  const st = await c2.status();
  assert.equal(st.pid, pid, "the second sentry reuses the running netd");
  assert.equal(st.pods.length, 2);
  assert.ok(existsSync(join(stateDir, "netd.log")));
  c1.close();
  c2.close();
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(!existsSync(`/proc/${pid}`) || /zombie|\bZ\b/.test(String(spawnSync("ps", ["-o", "stat=", "-p", String(pid)]).stdout)), "idle netd exited");
  assert.ok(!existsSync(sock));
  // Without spawning and with nobody serving: undefined, quickly.
  assert.equal(await ensureNetd({ ...opts, spawn: false }), undefined);
});
