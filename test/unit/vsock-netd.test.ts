// sentry/vsock with a tsor-netd session (a fake NetdClient): which listeners are registered,
// how a connect to another pod is handed over (the app's end talks straight to the fd netd got),
// refused / not-local / unavailable answers, and connections netd hands in queued for accept.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { readSync, writeSync } from "node:fs";
import { test } from "node:test";

import { E } from "../../sentry/syscalls/linux.js";
import { parseIp } from "../../sentry/vsock/address.js";
import { dupOwnFd } from "../../sentry/vsock/kernel.js";
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN, type StackNetd } from "../../sentry/vsock/stack.js";
import { NR, errno, harness, n, ok, sin, tick } from "./syscalls-fixtures.js";

class FakeNetd extends EventEmitter {
  available = true;
  listens: string[] = [];
  unlistens: string[] = [];
  reports: string[] = [];
  connects: { dst: string; src: string; fd: number; queuedMark: boolean; hinted?: boolean }[] = [];
  answer: "ok" | "ECONNREFUSED" | "ENOTLOCAL" | "unavailable" = "ok";
  /** Does this daemon take "queued-mark"? */
  queuedMarks = false;
  /** The listeners registered as taking marks. */
  marking: string[] = [];
  constructor(public podIps: string[]) {
    super();
  }
  supports(feature: string) {
    return feature === "queued-mark" && this.queuedMarks;
  }
  async listen(ip: string, port: number, opts: { reuseport?: boolean; queuedMark?: boolean } = {}) {
    this.listens.push(`${ip}:${port}${opts.reuseport ? " reuseport" : ""}`);
    if (opts.queuedMark) this.marking.push(`${ip}:${port}`);
    return "registered" as const;
  }
  async unlisten(ip: string, port: number) {
    this.unlistens.push(`${ip}:${port}`);
  }
  reportFallback(reason: string) {
    this.reports.push(reason);
  }
  /** Destinations ("ip:port") netd said a listener takes: connects there go with connectHinted. */
  hints = new Set<string>();
  /** connectHinted fails as a send to a session that just went down would. */
  hintedSendFails = false;
  hinted(dst: { ip: string; port: number }) {
    return this.available && this.hints.has(`${dst.ip}:${dst.port}`);
  }
  connectHinted(dst: { ip: string; port: number }, src: { ip: string; port: number }, fd: number, opts: { queuedMark?: boolean } = {}) {
    if (this.hintedSendFails) throw Object.assign(new Error("send failed"), { name: "NetdUnavailable" });
    this.connects.push({ dst: `${dst.ip}:${dst.port}`, src: `${src.ip}:${src.port}`, fd: dupOwnFd(fd), queuedMark: Boolean(opts.queuedMark), hinted: true });
  }
  connect(dst: { ip: string; port: number }, src: { ip: string; port: number }, fd: number, opts: { queuedMark?: boolean } = {}) {
    // The real client sends the fd before it returns: keep our own copy now.
    this.connects.push({ dst: `${dst.ip}:${dst.port}`, src: `${src.ip}:${src.port}`, fd: dupOwnFd(fd), queuedMark: Boolean(opts.queuedMark) });
    if (this.answer === "ok") return Promise.resolve({ to: "other", dst });
    if (this.answer === "unavailable") return Promise.reject(Object.assign(new Error("down"), { name: "NetdUnavailable" }));
    return Promise.reject(Object.assign(new Error(this.answer), { code: this.answer }));
  }
}

/** A harness whose stack has a fake netd session with pod IP `podIp`. */
function withNetd(podIp: string) {
  const netd = new FakeNetd([podIp]);
  const h = harness({ netnsPath: "/proc/self/ns/net", netd: netd as unknown as StackNetd });
  return { h, netd };
}

/** A listener on `ip`:0 (IP_FREEBIND: the pod IPs are not this host's); returns its fd and port. */
async function listenOn(h: ReturnType<typeof harness>, ip: string): Promise<{ fd: number; port: number }> {
  const fd = await h.socket();
  n.setsockoptInt(h.task.real(fd), 0, 15 /* IP_FREEBIND */, 1);
  assert.deepEqual(await h.bind(fd, sin(ip, 0)), ok());
  assert.deepEqual(await h.call(NR.listen, fd, 8), ok());
  const { addr } = await h.getsockname(fd);
  return { fd, port: addr.readUInt16BE(2) };
}

function pipe(from: number, to: number, text: string): string {
  writeSync(from, text);
  const buf = Buffer.alloc(64);
  return buf.subarray(0, readSync(to, buf, 0, buf.length, null)).toString();
}

test("vsock+netd: wildcard and pod-IP listeners are registered, loopback ones are not; shutdown unregisters", async () => {
  const { h, netd } = withNetd("10.1.0.1");
  const wild = await listenOn(h, "0.0.0.0");
  const lo = await listenOn(h, "127.0.0.1");
  const pod = await listenOn(h, "10.1.0.1");
  assert.deepEqual(netd.listens, [`0.0.0.0:${wild.port}`, `10.1.0.1:${pod.port}`]);
  assert.deepEqual(await h.call(NR.shutdown, wild.fd, 2), ok());
  assert.deepEqual(await h.call(NR.shutdown, lo.fd, 2), ok());
  assert.deepEqual(netd.unlistens, [`0.0.0.0:${wild.port}`]);
  h.cleanup();
});

test("vsock+netd: a connect to another pod hands the server's end over; the apps share the socketpair", async () => {
  const { h, netd } = withNetd("10.1.0.2");
  const s = await h.socket();
  assert.deepEqual(await h.connect(s, sin("10.1.0.1", 8080)), ok());
  assert.equal(netd.connects.length, 1);
  const c = netd.connects[0]!;
  assert.equal(c.dst, "10.1.0.1:8080");
  const { addr: local } = await h.getsockname(s);
  const port = local.readUInt16BE(2);
  assert.equal([...local.subarray(4, 8)].join("."), "10.1.0.2", "getsockname: the pod IP");
  assert.ok(port >= EPHEMERAL_PORT_MIN && port <= EPHEMERAL_PORT_MAX);
  assert.equal(c.src, `10.1.0.2:${port}`);
  const { addr: peer } = await h.getsockname(s, NR.getpeername);
  assert.equal(`${[...peer.subarray(4, 8)].join(".")}:${peer.readUInt16BE(2)}`, "10.1.0.1:8080");
  assert.equal(pipe(h.task.real(s), c.fd, "to the server"), "to the server");
  assert.equal(pipe(c.fd, h.task.real(s), "to the client"), "to the client");

  // Non-blocking: EINPROGRESS, already connected underneath.
  const nb = await h.socket(2, 1 | 0o4000);
  assert.deepEqual(await h.connect(nb, sin("10.1.0.1", 8080)), errno(E.EINPROGRESS));
  for (const x of netd.connects) n.closeFd(x.fd);
  h.cleanup();
});

test("vsock+netd: refused, not local, unavailable, own pod IP, loopback", async () => {
  const { h, netd } = withNetd("10.1.0.2");
  const s = await h.socket();
  netd.answer = "ECONNREFUSED";
  assert.deepEqual(await h.connect(s, sin("10.1.0.1", 9)), errno(E.ECONNREFUSED));
  // Not a TSoR pod (ENOTLOCAL), netd failing or down: the kernel connects (here: TEST-NET, no
  // route or a non-blocking attempt; what matters is that the sentry let the kernel do it).
  const stack = h.stack;
  const before = stack.size;
  netd.answer = "ENOTLOCAL";
  const kernelAnswered = async (ip: string) => {
    const x = await h.socket(2, 1 | 0o4000);
    const out = await h.connect(x, sin(ip, 80));
    assert.ok(out.kind === "errno" || out.kind === "return", JSON.stringify(out));
    assert.equal(stack.size, before, `${ip}: no vsocket made`);
  };
  await kernelAnswered("192.0.2.1");
  netd.answer = "unavailable";
  await kernelAnswered("192.0.2.2");
  netd.available = false;
  await kernelAnswered("192.0.2.3");
  assert.deepEqual(netd.reports, ["netd_unavailable", "netd_unavailable"]);
  const asked = netd.connects.length;
  netd.available = true;
  await kernelAnswered("10.1.0.2"); // own pod IP: stays in the pod
  await kernelAnswered("127.0.0.1"); // loopback: stays in the pod
  assert.equal(netd.connects.length, asked, "netd not asked for the pod's own addresses");
  assert.ok(stack.isLocal(parseIp("10.1.0.2")!), "the pod IP from netd's hello is local");
  for (const c of netd.connects) n.closeFd(c.fd);
  h.cleanup();
});

test("vsock+netd: a connect to a destination netd hinted goes without waiting for netd; a send that fails takes the kernel path", async () => {
  const { h, netd } = withNetd("10.1.0.2");
  netd.hints.add("10.1.0.1:8080");
  // Were netd asked and waited for, this answer would send the connection to the kernel.
  netd.answer = "unavailable";
  const s = await h.socket();
  assert.deepEqual(await h.connect(s, sin("10.1.0.1", 8080)), ok());
  assert.equal(netd.connects.length, 1);
  const c = netd.connects[0]!;
  assert.equal(c.hinted, true, "sent with connectHinted");
  assert.equal(c.dst, "10.1.0.1:8080");
  const { addr: local } = await h.getsockname(s);
  assert.equal(c.src, `10.1.0.2:${local.readUInt16BE(2)}`);
  assert.equal(pipe(h.task.real(s), c.fd, "to the server"), "to the server");
  assert.equal(pipe(c.fd, h.task.real(s), "to the client"), "to the client");

  // Another port of that pod is not hinted: netd is asked (and, unavailable here, the kernel connects).
  const before = h.stack.size;
  const other = await h.socket(2, 1 | 0o4000);
  const out = await h.connect(other, sin("10.1.0.1", 8081));
  assert.ok(out.kind === "errno" || out.kind === "return", JSON.stringify(out));
  assert.equal(h.stack.size, before, "no vsocket for the unhinted port");
  assert.equal(netd.connects.at(-1)!.hinted, undefined);

  // The session went down under the hint: nothing was handed over, the kernel connects.
  netd.hintedSendFails = true;
  const third = await h.socket(2, 1 | 0o4000);
  const r = await h.connect(third, sin("10.1.0.1", 8080));
  assert.ok(r.kind === "errno" || r.kind === "return", JSON.stringify(r));
  assert.equal(h.stack.size, before, "no vsocket when the hinted send failed");
  assert.deepEqual(netd.reports, ["netd_unavailable", "netd_unavailable"]);
  for (const x of netd.connects) n.closeFd(x.fd);
  h.cleanup();
});

test("vsock+netd: a connection netd hands in is queued for the listener (doorbell) with the client's address", async () => {
  const { h, netd } = withNetd("10.1.0.1");
  const l = await listenOn(h, "0.0.0.0");
  const [client, server] = n.socketpair();
  netd.emit("incoming", { op: "incoming", listener: { ip: "0.0.0.0", port: l.port }, dst: { ip: "10.1.0.1", port: l.port }, peer: { ip: "10.1.0.2", port: 41000 }, from: "b", fd: server });
  await tick(); // the doorbell rings after the event loop's turn
  assert.equal(n.pollNow(h.task.real(l.fd), 1) & 1, 1, "the listener is readable for the app");
  const peer = h.task.alloc(16);
  const out = await h.call(NR.accept, l.fd, peer, h.task.putInt(16));
  assert.equal(out.kind, "return");
  const s = Number((out as { value: number }).value);
  assert.equal(n.pollNow(h.task.real(l.fd), 1), 0, "the doorbell was taken with it");
  const got = h.task.readMemory(peer, 8);
  assert.equal(`${[...got.subarray(4, 8)].join(".")}:${got.readUInt16BE(2)}`, "10.1.0.2:41000");
  assert.equal(pipe(client, h.task.real(s), "hi"), "hi");

  // A full queue (backlog 8: 9 connections wait) takes more only as accepts make room.
  const clients: number[] = [];
  for (let i = 0; i < 11; i++) {
    const [ci, si] = n.socketpair();
    clients.push(ci);
    netd.emit("incoming", { op: "incoming", listener: { ip: "0.0.0.0", port: l.port }, dst: { ip: "10.1.0.1", port: l.port }, peer: { ip: "10.1.0.2", port: 42000 + i }, from: "b", fd: si });
  }
  await tick();
  const queue = h.stack.registry.lookup(parseIp("10.1.0.1")!, l.port)!.owner.queue!;
  assert.equal(queue.pending.length, 9, "backlog 8: the accept queue is full at 9, two wait for room");
  n.setNonblock(h.task.real(l.fd), true);
  const accepted: number[] = [];
  for (;;) {
    const r = await h.call(NR.accept, l.fd, 0, 0);
    if (r.kind !== "return") break;
    accepted.push(Number((r as { value: number }).value));
    await tick();
  }
  assert.equal(accepted.length, 11, "all 11 are accepted in the end, each accept letting one more in");
  for (const fd of accepted) h.task.close(fd);
  for (const fd of clients) n.closeFd(fd);

  // No listener on the port: the fd is closed (the client sees EOF).
  const [c2, s2] = n.socketpair();
  netd.emit("incoming", { op: "incoming", listener: { ip: "0.0.0.0", port: 9 }, dst: { ip: "10.1.0.1", port: 9 }, peer: { ip: "10.1.0.2", port: 41001 }, from: "b", fd: s2 });
  assert.equal(readSync(c2, Buffer.alloc(8), 0, 8, null), 0);
  for (const fd of [client, c2]) n.closeFd(fd);
  h.cleanup();
});

test("vsock+netd: with netd's queued-mark, a connect marks the end it hands over, and a marked end netd hands in is unmarked at accept or reset with its listener", async () => {
  const { h, netd } = withNetd("10.1.0.1");
  netd.queuedMarks = true;
  const l = await listenOn(h, "0.0.0.0");
  assert.deepEqual(netd.marking, [`0.0.0.0:${l.port}`], "the listener says it takes marks");

  // Outgoing: the server's end holds the mark, ahead of the client's bytes.
  const s = await h.socket();
  assert.deepEqual(await h.connect(s, sin("10.1.0.2", 8080)), ok());
  const out = netd.connects.at(-1)!;
  assert.equal(out.queuedMark, true);
  writeSync(h.task.real(s), "GET");
  const first = Buffer.alloc(8);
  assert.deepEqual([...first.subarray(0, readSync(out.fd, first, 0, 8, null))], [0, ...Buffer.from("GET")]);

  // Incoming, accepted: the app reads the client's bytes only.
  const incoming = (peerPort: number, fd: number) =>
    netd.emit("incoming", { op: "incoming", listener: { ip: "0.0.0.0", port: l.port }, dst: { ip: "10.1.0.1", port: l.port }, peer: { ip: "10.1.0.2", port: peerPort }, from: "b", queuedMark: true, fd });
  const [c1, s1] = n.socketpair();
  writeSync(c1, Buffer.from([0]));
  writeSync(c1, "hi");
  incoming(41000, s1);
  await tick();
  const r = await h.call(NR.accept, l.fd, 0, 0);
  assert.equal(r.kind, "return");
  const got = Buffer.alloc(8);
  assert.equal(got.subarray(0, readSync(h.task.real(Number((r as { value: number }).value)), got, 0, 8, null)).toString(), "hi");

  // Incoming, still queued when the listener goes: the client sees a reset, not EOF.
  const [c2, s2] = n.socketpair();
  writeSync(c2, Buffer.from([0]));
  incoming(41001, s2);
  await tick();
  assert.deepEqual(await h.call(NR.shutdown, l.fd, 0), ok());
  assert.throws(() => readSync(c2, Buffer.alloc(8), 0, 8, null), (e: NodeJS.ErrnoException) => e.code === "ECONNRESET");

  // A daemon without the feature: nothing is marked.
  netd.queuedMarks = false;
  const s3 = await h.socket();
  assert.deepEqual(await h.connect(s3, sin("10.1.0.2", 8080)), ok());
  const plain = netd.connects.at(-1)!;
  assert.equal(plain.queuedMark, false);
  writeSync(h.task.real(s3), "x");
  assert.equal(readSync(plain.fd, got, 0, 8, null), 1);
  for (const x of netd.connects) n.closeFd(x.fd);
  for (const fd of [c1, c2]) n.closeFd(fd);
  h.cleanup();
});
