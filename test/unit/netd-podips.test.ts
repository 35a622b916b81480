// tsor-netd when a pod's addresses change after its hello (docker network connect/disconnect of a
// running container): an in-process NetDaemon whose podAddresses reads a table the test edits,
// and two or three NetdClient sessions. Root only (netd serves uid 0 alone).
import assert from "node:assert/strict";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";

import { native } from "../../native/index.js";
import { NetdClient } from "../../netstack/client.js";
import { NetDaemon } from "../../netstack/daemon.js";

const skip = process.getuid?.() !== 0 ? "needs root (netd serves uid 0 only)" : false;
/** Pids no process has: netd reads their addresses from `addrs` only. */
const PID = { a: 0x7ffff001, b: 0x7ffff002, c: 0x7ffff003 };
const addrs = new Map<number, string[]>([
  [PID.a, ["10.9.0.1"]],
  [PID.b, ["10.9.0.2"]],
]);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-netd-podips-"));
const socket = path.join(dir, "netd.sock");
const daemon = new NetDaemon({ name: "podips", socket, podAddresses: (pid) => addrs.get(pid) ?? [], podIpsRefreshMs: 0 });
const clients: NetdClient[] = [];

async function session(id: keyof typeof PID): Promise<NetdClient> {
  const c = new NetdClient({ socket, hello: { containerId: id, netns: `/test/${id}`, pid: PID[id] } });
  await c.open(false);
  clients.push(c);
  return c;
}

/** b connects to ip:port; resolves to the container netd handed the connection to (or rejects). */
async function connectFromB(b: NetdClient, ip: string, port: number): Promise<string> {
  const [mine, theirs] = native.socketpair();
  try {
    return (await b.connect({ ip, port }, { ip: "10.9.0.2", port: 40000 }, theirs)).to;
  } finally {
    native.closeFd(mine);
    native.closeFd(theirs);
  }
}

before(async () => {
  if (!skip) await daemon.start();
});

after(async () => {
  for (const c of clients) c.close();
  if (!skip) await daemon.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("netd: an address a pod got after its hello reaches its wildcard listener; a listen on it is accepted", { skip }, async () => {
  const a = await session("a");
  const b = await session("b");
  a.on("incoming", (c) => native.closeFd(c.fd));
  await a.listen("0.0.0.0", 80);
  await assert.rejects(connectFromB(b, "10.9.1.1", 80), { code: "ENOTLOCAL" });
  addrs.set(PID.a, ["10.9.0.1", "10.9.1.1"]); // docker network connect
  const handed = once(a, "incoming");
  assert.equal(await connectFromB(b, "10.9.1.1", 80), "a");
  await handed;
  await assert.rejects(a.listen("10.9.1.2", 81), { code: "EADDRNOTAVAIL" });
  addrs.set(PID.a, ["10.9.0.1", "10.9.1.1", "10.9.1.2"]);
  assert.equal(await a.listen("10.9.1.2", 81), "registered");
  assert.equal(await connectFromB(b, "10.9.1.2", 81), "a");
  const st = await b.status();
  assert.deepEqual(st.pods.find((p) => p.containerId === "a")?.podIps, ["10.9.0.1", "10.9.1.1", "10.9.1.2"]);
});

test("netd: an address handed to a new pod is no longer the old pod's (disconnected, then reused)", { skip }, async () => {
  const [a, b] = clients as [NetdClient, NetdClient];
  addrs.set(PID.a, ["10.9.0.1", "10.9.1.2"]); // docker network disconnect: 10.9.1.1 is free again ...
  addrs.set(PID.c, ["10.9.1.1"]); // ... and the next container gets it
  const c = await session("c");
  c.on("incoming", (conn) => native.closeFd(conn.fd));
  await c.listen("0.0.0.0", 80);
  assert.equal(await connectFromB(b, "10.9.1.1", 80), "c");
  const st = await a.status();
  assert.deepEqual(st.pods.find((p) => p.containerId === "a")?.podIps, ["10.9.0.1", "10.9.1.2"]);
});
