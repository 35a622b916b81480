// The socket handlers against a fake task: socket, bind, listen, connect, accept, names.
import assert from "node:assert/strict";
import { test } from "node:test";

import { E } from "../../sentry/syscalls/linux.js";
import {
  AF_INET,
  AF_INET6,
  NR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  V6_ANY,
  FakeTask,
  V6_LOOPBACK,
  errno,
  harness,
  mapped,
  n,
  ok,
  sin,
  sin6,
  tick,
  within,
} from "./syscalls-fixtures.js";
import { fdFlags } from "./native-fixtures.js";
import { dupOwnFd } from "../../sentry/vsock/kernel.js";

const O_NONBLOCK = 0o4000;

test("socket: a socketpair end, O_NONBLOCK/cloexec from the type; other domains and types go to the kernel", async () => {
  const h = harness();
  const out = await h.call(NR.socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert.equal(out.kind, "installFd");
  assert.equal(out.kind === "installFd" && out.cloexec, true);
  const fd = h.task.install(out);
  assert.ok(fdFlags(h.task.real(fd)) & O_NONBLOCK);
  assert.equal(h.stack.size, 1);
  assert.deepEqual(await h.call(NR.socket, 1 /* AF_UNIX */, SOCK_STREAM, 0), { kind: "continue" });
  assert.deepEqual(await h.call(NR.socket, AF_INET, 2 /* SOCK_DGRAM */, 0), { kind: "continue" });
  assert.deepEqual(await h.call(NR.socket, AF_INET, SOCK_STREAM, 17 /* UDP */), { kind: "continue" });
  const blocking = await h.socket(AF_INET6, SOCK_STREAM);
  assert.equal(fdFlags(h.task.real(blocking)) & O_NONBLOCK, 0);
  h.cleanup();
});

test("calls on a bad fd answer EBADF; on a non-vsocket fd they go to the kernel", async () => {
  const h = harness();
  assert.deepEqual(await h.bind(99, sin("127.0.0.1", 80)), errno(E.EBADF));
  assert.deepEqual(await h.call(NR.listen, -1, 1), errno(E.EBADF));
  const [a, b] = n.socketpair();
  const unix = h.task.adopt(a);
  for (const nr of [NR.bind, NR.listen, NR.connect, NR.accept, NR.getsockname, NR.getpeername, NR.getsockopt, NR.setsockopt]) {
    assert.deepEqual(await h.call(nr, unix, 0, 0, 0, 0), { kind: "continue" }, `nr ${nr}`);
  }
  n.closeFd(b);
  h.cleanup();
});

test("bind: Linux's argument checks (inet_bind / inet6_bind)", async () => {
  const h = harness();
  const s4 = await h.socket();
  assert.deepEqual(await h.call(NR.bind, s4, h.task.put(sin("127.0.0.1", 1)), 15), errno(E.EINVAL));
  assert.deepEqual(await h.call(NR.bind, s4, h.task.put(sin("127.0.0.1", 1)), 129), errno(E.EINVAL));
  assert.deepEqual(await h.call(NR.bind, s4, h.task.put(sin("127.0.0.1", 1)), -1), errno(E.EINVAL));
  assert.deepEqual(await h.call(NR.bind, s4, 0x10n, 16), errno(E.EFAULT));
  assert.deepEqual(await h.bind(s4, sin("127.0.0.1", 1, AF_INET6)), errno(E.EAFNOSUPPORT));
  assert.deepEqual(await h.bind(s4, sin("127.0.0.1", 1, 0 /* AF_UNSPEC, not any */)), errno(E.EAFNOSUPPORT));
  assert.deepEqual(await h.bind(s4, sin("10.9.9.9", 1)), errno(E.EADDRNOTAVAIL));
  assert.deepEqual(await h.bind(s4, sin("0.0.0.0", 4000, 0 /* AF_UNSPEC + INADDR_ANY: accepted */)), ok());
  assert.deepEqual(await h.bind(s4, sin("127.0.0.1", 4001)), errno(E.EINVAL), "already bound");

  const s6 = await h.socket(AF_INET6);
  assert.deepEqual(await h.call(NR.bind, s6, h.task.put(sin6(V6_LOOPBACK, 1)), 23), errno(E.EINVAL));
  assert.deepEqual(await h.bind(s6, sin("127.0.0.1", 1)), errno(E.EINVAL), "length first");
  const wrongFamily = sin6(V6_LOOPBACK, 1);
  wrongFamily.writeUInt16LE(AF_INET, 0);
  assert.deepEqual(await h.bind(s6, wrongFamily), errno(E.EAFNOSUPPORT));
  const linkLocal = Buffer.from("fe800000000000000000000000000001", "hex");
  assert.deepEqual(await h.bind(s6, sin6(linkLocal, 1)), errno(E.EINVAL));
  // IPV6_V6ONLY then a v4-mapped address: EINVAL.
  const one = h.task.putInt(1);
  assert.deepEqual(await h.call(NR.setsockopt, s6, 41, 26, one, 4), ok());
  assert.deepEqual(await h.bind(s6, sin6(mapped("127.0.0.1"), 5)), errno(E.EINVAL));
  // A 24-byte sockaddr_in6 (RFC 2133, no scope id) is enough.
  assert.deepEqual(await h.call(NR.bind, s6, h.task.put(sin6(V6_LOOPBACK, 4002)), 24), ok());
  const { addr } = await h.getsockname(s6);
  assert.equal(addr.length, 28);
  assert.equal(addr.readUInt16BE(2), 4002);
  h.cleanup();
});

test("bind: EADDRINUSE, SO_REUSEADDR, wildcard vs specific, dual stack, port 0", async () => {
  const h = harness();
  const a = await h.socket();
  const b = await h.socket();
  assert.deepEqual(await h.bind(a, sin("0.0.0.0", 5000)), ok());
  assert.deepEqual(await h.bind(b, sin("127.0.0.1", 5000)), errno(E.EADDRINUSE), "specific under a wildcard");
  const v6 = await h.socket(AF_INET6);
  assert.deepEqual(await h.bind(v6, sin6(V6_ANY, 5000)), errno(E.EADDRINUSE), "dual-stack :: covers 0.0.0.0");
  const v6only = await h.socket(AF_INET6);
  await h.call(NR.setsockopt, v6only, 41, 26, h.task.putInt(1), 4);
  assert.deepEqual(await h.bind(v6only, sin6(V6_ANY, 5000)), ok(), "V6ONLY :: does not");
  assert.deepEqual(await h.bind(b, sin("127.0.0.1", 5001)), ok(), "another port");

  // Both SO_REUSEADDR and neither listening: shared; once one listens, the other cannot listen.
  const one = h.task.putInt(1);
  const r1 = await h.socket();
  const r2 = await h.socket();
  for (const s of [r1, r2]) assert.deepEqual(await h.call(NR.setsockopt, s, 1, 2, one, 4), ok());
  assert.deepEqual(await h.bind(r1, sin("127.0.0.1", 6000)), ok());
  assert.deepEqual(await h.bind(r2, sin("127.0.0.1", 6000)), ok());
  assert.deepEqual(await h.call(NR.listen, r1, 10), ok());
  assert.deepEqual(await h.call(NR.listen, r2, 10), errno(E.EADDRINUSE));
  const r3 = await h.socket();
  await h.call(NR.setsockopt, r3, 1, 2, one, 4);
  assert.deepEqual(await h.bind(r3, sin("127.0.0.1", 6000)), errno(E.EADDRINUSE), "REUSEADDR does not share with a listener");

  // SO_REUSEPORT on both: even two listeners.
  const p1 = await h.socket();
  const p2 = await h.socket();
  for (const s of [p1, p2]) await h.call(NR.setsockopt, s, 1, 15, one, 4);
  for (const s of [p1, p2]) {
    assert.deepEqual(await h.bind(s, sin("127.0.0.1", 7000)), ok());
    assert.deepEqual(await h.call(NR.listen, s, 10), ok());
  }

  // Port 0: an ephemeral port, visible in getsockname.
  const e = await h.socket();
  assert.deepEqual(await h.bind(e, sin("127.0.0.1", 0)), ok());
  const port = (await h.getsockname(e)).addr.readUInt16BE(2);
  assert.ok(port >= 32768 && port <= 60999, `port ${port}`);
  h.cleanup();
});

test("getsockname/getpeername: formats, truncation, ENOTCONN, EFAULT, EINVAL", async () => {
  const h = harness();
  const s = await h.socket();
  let r = await h.getsockname(s);
  assert.deepEqual(r.out, ok());
  assert.deepEqual(r.addr, sin("0.0.0.0", 0), "unbound: AF_INET, 0.0.0.0:0");
  assert.deepEqual((await h.getsockname(s, NR.getpeername)).out, errno(E.ENOTCONN));
  await h.bind(s, sin("127.0.0.1", 8080));
  // Truncated to the given length, full length written back.
  const buf = h.task.alloc(16);
  const len = h.task.putInt(6);
  assert.deepEqual(await h.call(NR.getsockname, s, buf, len), ok());
  assert.equal(h.task.int(len), 16);
  assert.deepEqual(h.task.readMemory(buf, 16), Buffer.concat([sin("127.0.0.1", 8080).subarray(0, 6), Buffer.alloc(10)]));
  assert.deepEqual(await h.call(NR.getsockname, s, buf, 0x10n), errno(E.EFAULT), "bad length pointer");
  assert.deepEqual(await h.call(NR.getsockname, s, 0x10n, h.task.putInt(16)), errno(E.EFAULT), "bad buffer");
  assert.deepEqual(await h.call(NR.getsockname, s, buf, h.task.putInt(-1)), errno(E.EINVAL));
  const s6 = await h.socket(AF_INET6);
  r = await h.getsockname(s6);
  assert.deepEqual(r.addr, sin6(V6_ANY, 0));
  h.cleanup();
});

test("listen: autobind, backlog update, EINVAL when connected", async () => {
  const h = harness();
  const s = await h.socket(AF_INET6);
  assert.deepEqual(await h.call(NR.listen, s, -1), ok(), "negative backlog: somaxconn");
  const { addr } = await h.getsockname(s);
  assert.ok(addr.readUInt16BE(2) >= 32768);
  assert.deepEqual(addr.subarray(8, 24), V6_ANY);
  assert.deepEqual(await h.call(NR.listen, s, 5), ok(), "again: new backlog");
  // An IPv4 client reaches the dual-stack listener; it sees ::ffff:127.0.0.1 as the peer.
  const c = await h.socket();
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", addr.readUInt16BE(2))), ok());
  assert.deepEqual(await h.call(NR.listen, c, 5), errno(E.EINVAL));
  const peer = h.task.alloc(28);
  const plen = h.task.putInt(28);
  const acc = await h.call(NR.accept, s, peer, plen);
  const sfd = h.task.install(acc);
  assert.equal(h.task.int(plen), 28);
  const p = h.task.readMemory(peer, 28);
  assert.deepEqual(p.subarray(8, 24), mapped("127.0.0.1"));
  const cport = (await h.getsockname(c)).addr.readUInt16BE(2);
  assert.equal(p.readUInt16BE(2), cport);
  const local = (await h.getsockname(sfd)).addr;
  assert.deepEqual(local.subarray(8, 24), mapped("127.0.0.1"), "accepted socket's name is the destination");
  h.cleanup();
});

test("connect + accept: blocking connect returns 0, data flows over the socketpair, names match", async () => {
  const h = harness();
  const l = await h.socket();
  await h.bind(l, sin("0.0.0.0", 9000));
  assert.deepEqual(await h.call(NR.listen, l, 16), ok());
  const c = await h.socket();
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", 9000)), ok());
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", 9000)), errno(E.EISCONN));
  const cname = (await h.getsockname(c)).addr;
  const cpeer = (await h.getsockname(c, NR.getpeername)).addr;
  assert.deepEqual(cpeer, sin("127.0.0.1", 9000));
  assert.deepEqual(cname.subarray(4, 8), Buffer.from([127, 0, 0, 1]));

  const peer = h.task.alloc(16);
  const plen = h.task.putInt(16);
  const out = await h.call(NR.accept4, l, peer, plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
  assert.equal(out.kind === "installFd" && out.cloexec, true);
  const s = h.task.install(out);
  assert.ok(fdFlags(h.task.real(s)) & O_NONBLOCK);
  assert.deepEqual(h.task.readMemory(peer, 16), cname);
  assert.deepEqual((await h.getsockname(s)).addr, sin("127.0.0.1", 9000));
  assert.deepEqual((await h.getsockname(s, NR.getpeername)).addr, cname);

  // The bytes go through the kernel socketpair: client end <-> accepted end.
  n.sendFds(h.task.real(c), Buffer.from("ping"), []);
  const got = await new Promise<Buffer>((res, rej) =>
    n.recvFds(h.task.real(s), 16, 0, (err, r) => (err ? rej(err) : res(r.data))),
  );
  assert.equal(got.toString(), "ping");
  h.cleanup();
});

test("connect: argument and state errors", async () => {
  const h = harness();
  const c = await h.socket();
  assert.deepEqual(await h.call(NR.connect, c, h.task.put(sin("127.0.0.1", 1)), 1), errno(E.EINVAL));
  assert.deepEqual(await h.call(NR.connect, c, h.task.put(sin("127.0.0.1", 1)), 15), errno(E.EINVAL));
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", 1, AF_INET6)), errno(E.EAFNOSUPPORT));
  assert.deepEqual(await h.call(NR.connect, c, 0x10n, 16), errno(E.EFAULT));
  assert.deepEqual(await h.connect(c, sin("0.0.0.0", 0, 0 /* AF_UNSPEC */)), ok(), "disconnect of an unconnected socket");
  // Nothing listens and this stack has no kernel side: ENETUNREACH (with one, the kernel decides).
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", 1)), errno(E.ENETUNREACH));
  const l = await h.socket();
  await h.call(NR.listen, l, 1);
  assert.deepEqual(await h.connect(l, sin("127.0.0.1", 1)), errno(E.EINVAL), "listening");
  const v6 = await h.socket(AF_INET6);
  await h.call(NR.setsockopt, v6, 41, 26, h.task.putInt(1), 4);
  assert.deepEqual(await h.connect(v6, sin6(mapped("127.0.0.1"), 1)), errno(E.ENETUNREACH), "v4-mapped on V6ONLY");
  h.cleanup();
});

test("non-blocking connect: EINPROGRESS, SO_ERROR 0, then 0, then EISCONN; IPv6 loopback and ::", async () => {
  const h = harness();
  const l = await h.socket(AF_INET6);
  await h.bind(l, sin6(V6_LOOPBACK, 9100));
  await h.call(NR.listen, l, 4);
  const c = await h.socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK);
  assert.deepEqual(await h.connect(c, sin6(V6_ANY, 9100)), errno(E.EINPROGRESS), ":: means ::1");
  const val = h.task.putInt(-1);
  const len = h.task.putInt(4);
  assert.deepEqual(await h.call(NR.getsockopt, c, 1, 4 /* SO_ERROR */, val, len), ok());
  assert.equal(h.task.int(val), 0);
  assert.deepEqual((await h.getsockname(c, NR.getpeername)).addr, sin6(V6_LOOPBACK, 9100));
  assert.deepEqual(await h.connect(c, sin6(V6_LOOPBACK, 9100)), ok());
  assert.deepEqual(await h.connect(c, sin6(V6_LOOPBACK, 9100)), errno(E.EISCONN));
  // The listener has one pending connection: its fd polls readable (one readiness byte).
  await tick();
  const probe = await new Promise<number>((res) => n.recvFds(h.task.real(l), 8, 0, (_e, r) => res(r.data.length)));
  assert.equal(probe, 1);
  h.cleanup();
});

test("accept: EAGAIN when non-blocking and empty, EINVAL unless listening or for bad flags", async () => {
  const h = harness();
  const l = await h.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  assert.deepEqual(await h.call(NR.accept, l, 0, 0), errno(E.EINVAL), "not listening");
  await h.call(NR.listen, l, 4);
  assert.deepEqual(await h.call(NR.accept, l, 0, 0), errno(E.EAGAIN));
  assert.deepEqual(await h.call(NR.accept4, l, 0, 0, 0x1), errno(E.EINVAL), "unknown flag");
  assert.deepEqual(await h.call(NR.accept4, 99, 0, 0, 0x1), errno(E.EINVAL), "flags before the fd");
  // A queued connection is accepted, consuming its readiness byte.
  const port = (await h.getsockname(l)).addr.readUInt16BE(2);
  const c = await h.socket();
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", port)), ok());
  await tick();
  const s = h.task.install(await h.call(NR.accept, l, 0, 0));
  assert.ok(s > 0);
  assert.deepEqual(await h.call(NR.accept, l, 0, 0), errno(E.EAGAIN));
  // A bad peer-address pointer: EFAULT, and the connection is lost (as do_accept drops it).
  const c2 = await h.socket();
  await h.connect(c2, sin("127.0.0.1", port));
  await tick();
  assert.deepEqual(await h.call(NR.accept, l, 0x10n, h.task.putInt(16)), errno(E.EFAULT));
  assert.deepEqual(await h.call(NR.accept, l, 0, 0), errno(E.EAGAIN));
  h.cleanup();
});

test("accept: a held accept gets a later connection", async () => {
  const h = harness();
  const l = await h.socket();
  await h.bind(l, sin("127.0.0.1", 9200));
  await h.call(NR.listen, l, 4);
  const first = h.call(NR.accept, l, 0, 0);
  let done = false;
  void first.then(() => (done = true));
  await tick();
  assert.equal(done, false, "held");
  const c = await h.socket();
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", 9200)), ok());
  const out = await first;
  assert.equal(out.kind, "installFd");
  h.task.install(out);
  h.cleanup();
});

test("accept: closing the listener does not wake a held accept; it takes the next client, then the port is free", async () => {
  const h = harness();
  const l = await h.socket();
  await h.bind(l, sin("127.0.0.1", 9300));
  await h.call(NR.listen, l, 4);
  const held = h.call(NR.accept, l, 0, 0);
  await tick();
  h.task.close(l);
  await tick();
  assert.deepEqual(await h.call(NR.accept, l, 0, 0), errno(E.EBADF), "the fd is gone");
  const c = await h.socket();
  assert.deepEqual(await h.connect(c, sin("127.0.0.1", 9300)), ok(), "still listening for the held accept");
  assert.equal((await within(held)).kind, "installFd");
  await tick();
  const again = await h.socket();
  assert.deepEqual(await h.bind(again, sin("127.0.0.1", 9300)), ok(), "port free once the accept returned");
  h.cleanup();
});

test("a listener closed with no accept held is forgotten at once (its port is free)", async () => {
  const h = harness();
  const l = await h.socket();
  await h.bind(l, sin("127.0.0.1", 9310));
  await h.call(NR.listen, l, 4);
  const before = h.stack.size;
  h.task.close(l);
  await within(
    (async () => {
      while (h.stack.size === before) await tick(5);
    })(),
  );
  const again = await h.socket();
  assert.deepEqual(await h.bind(again, sin("127.0.0.1", 9310)), ok());
  h.cleanup();
});

test("accept: a held accept whose call was interrupted passes the connection to the next one", async () => {
  const h = harness();
  const l = await h.socket();
  await h.bind(l, sin("127.0.0.1", 9320));
  await h.call(NR.listen, l, 4);
  // A second thread of the app, holding its own accept on the same listener.
  const t2 = new FakeTask();
  const l2 = t2.adopt(dupOwnFd(h.task.real(l)));
  const first = Promise.resolve(h.dispatch(t2, { nr: NR.accept, args: [BigInt(l2), 0n, 0n] }));
  await tick();
  const second = h.call(NR.accept, l, 0, 0);
  await tick();
  t2.pending = false; // a signal interrupted the first
  const c = await h.socket();
  await h.connect(c, sin("127.0.0.1", 9320));
  assert.deepEqual(await within(first), errno(E.EINTR));
  assert.equal((await within(second)).kind, "installFd");
  t2.closeAll();
  h.cleanup();
});

test("connect: a connection queued on a listener that closes is dropped (the client reads EOF)", async () => {
  const h = harness();
  const l = await h.socket();
  await h.bind(l, sin("127.0.0.1", 9400));
  await h.call(NR.listen, l, 4);
  const c = await h.socket();
  await h.connect(c, sin("127.0.0.1", 9400));
  h.task.close(l);
  const eof = await within(new Promise<number>((res) => n.recvFds(h.task.real(c), 8, 0, (_e, r) => res(r.data.length))));
  assert.equal(eof, 0);
  h.cleanup();
});
