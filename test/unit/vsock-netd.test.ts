// sentry/vsock with a tsor-netd session (a fake NetdClient): which listeners are registered,
// how a connect to another pod is handed over (the app's end talks straight to the fd netd got),
// refused / not-local / unavailable answers, and connections netd hands in queued for accept.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { readSync, writeSync } from "node:fs";
import { test } from "node:test";

import { loadNative } from "../../native/index.js";
import type { Task } from "../../sentry/platform/platform.js";
import { E } from "../../sentry/syscalls/linux.js";
import { AF_INET, ipText, parseIp } from "../../sentry/vsock/address.js";
import { dupOwnFd } from "../../sentry/vsock/kernel.js";
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN, SocketStack, type StackNetd } from "../../sentry/vsock/stack.js";

const n = loadNative();
const task = { stillPending: () => true } as unknown as Task;

class FakeNetd extends EventEmitter {
  available = true;
  listens: string[] = [];
  unlistens: string[] = [];
  reports: string[] = [];
  connects: { dst: string; src: string; fd: number }[] = [];
  answer: "ok" | "ECONNREFUSED" | "ENOTLOCAL" | "unavailable" = "ok";
  constructor(public podIps: string[]) {
    super();
  }
  async listen(ip: string, port: number, opts: { reuseport?: boolean } = {}) {
    this.listens.push(`${ip}:${port}${opts.reuseport ? " reuseport" : ""}`);
    return "registered" as const;
  }
  async unlisten(ip: string, port: number) {
    this.unlistens.push(`${ip}:${port}`);
  }
  reportFallback(reason: string) {
    this.reports.push(reason);
  }
  connect(dst: { ip: string; port: number }, src: { ip: string; port: number }, fd: number) {
    // The real client sends the fd before it returns: keep our own copy now.
    this.connects.push({ dst: `${dst.ip}:${dst.port}`, src: `${src.ip}:${src.port}`, fd: dupOwnFd(fd) });
    if (this.answer === "ok") return Promise.resolve({ to: "other", dst });
    if (this.answer === "unavailable") return Promise.reject(Object.assign(new Error("down"), { name: "NetdUnavailable" }));
    return Promise.reject(Object.assign(new Error(this.answer), { code: this.answer }));
  }
}

function stackWith(podIp: string): { stack: SocketStack; netd: FakeNetd } {
  const netd = new FakeNetd([podIp]);
  const stack = new SocketStack({ kernel: null, netd: netd as unknown as StackNetd });
  return { stack, netd };
}

function addr(ip: string, port: number) {
  return { family: AF_INET, ip: parseIp(ip)!, port } as const;
}

function pipe(from: number, to: number, text: string): string {
  writeSync(from, text);
  const buf = Buffer.alloc(64);
  return buf.subarray(0, readSync(to, buf, 0, buf.length, null)).toString();
}

test("vsock+netd: wildcard and pod-IP listeners are registered, loopback ones are not; close unregisters", async () => {
  const { stack, netd } = stackWith("10.1.0.1");
  const mk = async (ip: string, port: number) => {
    const { appEnd, vs } = stack.create(AF_INET, false);
    stack.bind(vs, addr(ip, port));
    stack.listen(vs, 8);
    await stack.registerListener(vs);
    return { appEnd, vs };
  };
  const wild = await mk("0.0.0.0", 8080);
  const lo = await mk("127.0.0.1", 8081);
  const pod = await mk("10.1.0.1", 8082);
  assert.deepEqual(netd.listens, ["0.0.0.0:8080", "10.1.0.1:8082"]);
  stack.forget(wild.vs);
  stack.forget(lo.vs);
  assert.deepEqual(netd.unlistens, ["0.0.0.0:8080"]);
  for (const fd of [wild.appEnd, lo.appEnd, pod.appEnd]) n.closeFd(fd);
  stack.dispose();
});

test("vsock+netd: a connect to another pod hands the sentry end over; the apps share the socketpair", async () => {
  const { stack, netd } = stackWith("10.1.0.2");
  const { appEnd, vs } = stack.create(AF_INET, false);
  assert.equal(await stack.connectRemote(task, vs, addr("10.1.0.1", 8080), false), 0);
  assert.equal(netd.connects.length, 1);
  const c = netd.connects[0]!;
  assert.equal(c.dst, "10.1.0.1:8080");
  assert.equal(vs.state, "connected");
  assert.equal(ipText(vs.local!.ip), "10.1.0.2", "getsockname: the pod IP");
  assert.ok(vs.local!.port >= EPHEMERAL_PORT_MIN && vs.local!.port <= EPHEMERAL_PORT_MAX);
  assert.equal(c.src, `10.1.0.2:${vs.local!.port}`);
  assert.equal(`${ipText(vs.peer!.ip)}:${vs.peer!.port}`, "10.1.0.1:8080");
  assert.equal(pipe(appEnd, c.fd, "to the server"), "to the server");
  assert.equal(pipe(c.fd, appEnd, "to the client"), "to the client");

  // Non-blocking: EINPROGRESS, already connected underneath.
  const nb = stack.create(AF_INET, true);
  assert.equal(await stack.connectRemote(task, nb.vs, addr("10.1.0.1", 8080), true), E.EINPROGRESS);
  for (const fd of [appEnd, c.fd, nb.appEnd, netd.connects[1]!.fd]) n.closeFd(fd);
  stack.dispose();
});

test("vsock+netd: refused, not local, unavailable, own pod IP, loopback", async () => {
  const { stack, netd } = stackWith("10.1.0.2");
  const { appEnd, vs } = stack.create(AF_INET, false);
  netd.answer = "ECONNREFUSED";
  await assert.rejects(stack.connectRemote(task, vs, addr("10.1.0.1", 9), false), (e: { errno?: number }) => e.errno === E.ECONNREFUSED);
  assert.ok(vs.end?.open, "the vsocket keeps its end after a refusal");
  netd.answer = "ENOTLOCAL";
  assert.equal(await stack.connectRemote(task, vs, addr("192.0.2.1", 80), false), null);
  assert.ok(vs.end?.open);
  netd.answer = "unavailable";
  assert.equal(await stack.connectRemote(task, vs, addr("10.1.0.1", 80), false), null);
  netd.available = false;
  assert.equal(await stack.connectRemote(task, vs, addr("10.1.0.1", 80), false), null);
  assert.deepEqual(netd.reports, ["netd_unavailable", "netd_unavailable"]);
  const asked = netd.connects.length;
  netd.available = true;
  assert.equal(await stack.connectRemote(task, vs, addr("10.1.0.2", 80), false), null, "own pod IP: stays in the pod");
  assert.equal(await stack.connectRemote(task, vs, addr("127.0.0.1", 80), false), null, "loopback: stays in the pod");
  assert.equal(netd.connects.length, asked, "netd not asked for the pod's own addresses");
  assert.ok(stack.isLocal(parseIp("10.1.0.2")!), "the pod IP from netd's hello is local");
  for (const c of netd.connects) n.closeFd(c.fd);
  n.closeFd(appEnd);
  stack.dispose();
});

test("vsock+netd: a connection netd hands in is queued for the listener with the client's address", async () => {
  const { stack, netd } = stackWith("10.1.0.1");
  const { appEnd, vs } = stack.create(AF_INET, false);
  stack.bind(vs, addr("0.0.0.0", 8080));
  stack.listen(vs, 8);
  const [client, server] = n.socketpair();
  netd.emit("incoming", { op: "incoming", listener: { ip: "0.0.0.0", port: 8080 }, dst: { ip: "10.1.0.1", port: 8080 }, peer: { ip: "10.1.0.2", port: 41000 }, from: "b", fd: server });
  const taken = stack.takePending(vs);
  assert.ok(taken);
  assert.equal(taken.conn.kind, "remote");
  assert.equal(taken.conn.fd, server);
  assert.equal(`${ipText(taken.conn.peer!.ip)}:${taken.conn.peer!.port}`, "10.1.0.2:41000");
  assert.equal(pipe(client, taken.conn.fd, "hi"), "hi");

  // No listener on the port: the fd is closed (the client sees EOF).
  const [c2, s2] = n.socketpair();
  netd.emit("incoming", { op: "incoming", listener: { ip: "0.0.0.0", port: 9999 }, dst: { ip: "10.1.0.1", port: 9999 }, peer: { ip: "10.1.0.2", port: 41001 }, from: "b", fd: s2 });
  assert.equal(readSync(c2, Buffer.alloc(8), 0, 8, null), 0);
  for (const fd of [client, server, c2, appEnd]) n.closeFd(fd);
  stack.dispose();
});
