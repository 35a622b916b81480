// getsockopt/setsockopt on connections (emulated options, Linux's length and error rules) and on
// kernel sockets (the kernel's own answers; options a connection keeps are recorded).
import assert from "node:assert/strict";
import { test } from "node:test";

import { E } from "../../sentry/syscalls/linux.js";
import { AF_INET, AF_INET6, NR, errno, harness, ok, sin, sin6 } from "./syscalls-fixtures.js";

function opts(h: ReturnType<typeof harness>) {
  const get = async (fd: number, level: number, name: number, len = 4): Promise<{ out: unknown; val: Buffer; len: number }> => {
    const val = h.task.alloc(Math.max(len, 8));
    const lenp = h.task.putInt(len);
    const out = await h.call(NR.getsockopt, fd, level, name, val, lenp);
    const got = h.task.int(lenp);
    return { out, val: h.task.readMemory(val, Math.max(0, Math.min(got, len))), len: got };
  };
  const getInt = async (fd: number, level: number, name: number): Promise<number> => {
    const r = await get(fd, level, name);
    assert.deepEqual(r.out, ok());
    return r.val.readInt32LE(0);
  };
  const setInt = (fd: number, level: number, name: number, v: number) => h.call(NR.setsockopt, fd, level, name, h.task.putInt(v), 4);
  return { get, getInt, setInt };
}

test("identity options: SO_TYPE/DOMAIN/PROTOCOL/ACCEPTCONN, read-only", async () => {
  const h = harness();
  const o = opts(h);
  const { client: s, listener } = await h.connection(AF_INET6);
  assert.equal(await o.getInt(s, 1, 3), 1);
  assert.equal(await o.getInt(s, 1, 39), AF_INET6);
  assert.equal(await o.getInt(s, 1, 38), 6);
  assert.equal(await o.getInt(s, 1, 30), 0);
  assert.equal(await o.getInt(listener, 1, 30), 1, "the listener is the kernel's: SO_ACCEPTCONN 1");
  for (const name of [3, 39, 38, 30, 4]) assert.deepEqual(await o.setInt(s, 1, name, 1), errno(E.ENOPROTOOPT));
  h.cleanup();
});

test("bool and int options round trip; SO_RCVBUF/SNDBUF double; keepalive ranges", async () => {
  const h = harness();
  const o = opts(h);
  const { client: s } = await h.connection();
  assert.equal(await o.getInt(s, 1, 2), 0);
  assert.deepEqual(await o.setInt(s, 1, 2, 7), ok());
  assert.equal(await o.getInt(s, 1, 2), 1, "SO_REUSEADDR reads back as 1");
  await o.setInt(s, 1, 9, 1);
  assert.equal(await o.getInt(s, 1, 9), 1);
  await o.setInt(s, 6, 1, 1);
  assert.equal(await o.getInt(s, 6, 1), 1, "TCP_NODELAY");
  assert.equal(await o.getInt(s, 1, 8), 131072, "default SO_RCVBUF");
  await o.setInt(s, 1, 8, 65536);
  assert.equal(await o.getInt(s, 1, 8), 131072, "doubled");
  await o.setInt(s, 1, 7, 1 << 30);
  assert.equal(await o.getInt(s, 1, 7), 212992 * 2, "clamped to wmem_max, doubled");
  await o.setInt(s, 1, 7, 1);
  assert.equal(await o.getInt(s, 1, 7), 4608, "floor");
  assert.equal(await o.getInt(s, 6, 4), 7200);
  assert.deepEqual(await o.setInt(s, 6, 4, 0), errno(E.EINVAL));
  assert.deepEqual(await o.setInt(s, 6, 4, 32768), errno(E.EINVAL));
  assert.deepEqual(await o.setInt(s, 6, 4, 60), ok());
  assert.equal(await o.getInt(s, 6, 4), 60);
  assert.deepEqual(await o.setInt(s, 6, 6, 128), errno(E.EINVAL));
  assert.deepEqual(await o.setInt(s, 6, 5, 10), ok());
  assert.equal(await o.getInt(s, 6, 5), 10);
  h.cleanup();
});

test("TCP_MAXSEG: a connection reads the MSS TCP_INFO reports, which one set after the handshake does not change; 0 or [88, 32767] to set", async () => {
  const h = harness();
  const o = opts(h);
  const { client: s } = await h.connection();
  // A fresh loopback connection's MSS in this netns (the syscall suite's tcp_info_fresh compares
  // it with Linux's own): tcp_info's tcpi_snd_mss, not an unconnected socket's 536.
  const mss = await o.getInt(s, 6, 2);
  assert.ok(mss > 536 && mss <= 65483, `MSS ${mss}`);
  const info = await o.get(s, 6, 11, 104);
  assert.equal(info.val.readUInt32LE(16), mss, "the same in TCP_INFO");
  assert.deepEqual(await o.setInt(s, 6, 2, 87), errno(E.EINVAL));
  assert.deepEqual(await o.setInt(s, 6, 2, 32768), errno(E.EINVAL));
  // tcp_setsockopt only records user_mss; mss_cache, what getsockopt reads, stays (the cap of one
  // set before connecting: the syscall suite's sockopt_maxseg_user).
  assert.deepEqual(await o.setInt(s, 6, 2, 1400), ok());
  assert.equal(await o.getInt(s, 6, 2), mss);
  assert.deepEqual(await o.setInt(s, 6, 2, 0), ok());
  assert.equal(await o.getInt(s, 6, 2), mss);
  h.cleanup();
});

test("SO_LINGER: struct linger; l_onoff 0 keeps l_linger; short optlen EINVAL", async () => {
  const h = harness();
  const o = opts(h);
  const { client: s } = await h.connection();
  const ling = (on: number, secs: number) => {
    const b = Buffer.alloc(8);
    b.writeInt32LE(on, 0);
    b.writeInt32LE(secs, 4);
    return h.task.put(b);
  };
  assert.deepEqual(await h.call(NR.setsockopt, s, 1, 13, ling(1, 5), 4), errno(E.EINVAL));
  assert.deepEqual(await h.call(NR.setsockopt, s, 1, 13, ling(3, 5), 8), ok());
  let r = await o.get(s, 1, 13, 8);
  assert.equal(r.len, 8);
  assert.deepEqual([r.val.readInt32LE(0), r.val.readInt32LE(4)], [1, 5]);
  await h.call(NR.setsockopt, s, 1, 13, ling(0, 9), 8);
  r = await o.get(s, 1, 13, 8);
  assert.deepEqual([r.val.readInt32LE(0), r.val.readInt32LE(4)], [0, 5]);
  h.cleanup();
});

test("lengths and faults: truncation, negative optlen, EFAULT, short setsockopt", async () => {
  const h = harness();
  const o = opts(h);
  const { client: s } = await h.connection();
  const r = await o.get(s, 1, 3, 2);
  assert.deepEqual(r.out, ok());
  assert.equal(r.len, 2, "int truncated to 2 bytes");
  assert.deepEqual((await o.get(s, 1, 3, -1)).out, errno(E.EINVAL), "SOL_SOCKET: negative optlen");
  assert.deepEqual((await o.get(s, 6, 1, -1)).out, errno(E.EINVAL), "TCP: negative optlen (Linux >= 6.6)");
  assert.deepEqual((await o.get(s, 6, 9999, -1)).out, errno(E.EINVAL), "TCP: the length is checked before the option");
  assert.deepEqual(await h.call(NR.getsockopt, s, 1, 3, h.task.alloc(4), 0x10n), errno(E.EFAULT));
  assert.deepEqual(await h.call(NR.getsockopt, s, 1, 3, 0x10n, h.task.putInt(4)), errno(E.EFAULT));
  assert.deepEqual(await h.call(NR.setsockopt, s, 1, 2, h.task.putInt(1), 3), errno(E.EINVAL));
  assert.deepEqual(await h.call(NR.setsockopt, s, 1, 2, 0x10n, 4), errno(E.EFAULT));
  assert.deepEqual(await h.call(NR.setsockopt, s, 6, 1, h.task.putInt(1), 2), errno(E.EINVAL));
  h.cleanup();
});

test("IPV6_V6ONLY: only on AF_INET6, EINVAL once connected; unknown options stored or ENOPROTOOPT", async () => {
  const h = harness();
  const o = opts(h);
  const { client: s4 } = await h.connection(AF_INET);
  assert.deepEqual(await o.setInt(s4, 41, 26, 1), errno(E.ENOPROTOOPT));
  assert.deepEqual((await o.get(s4, 41, 26)).out, errno(E.EOPNOTSUPP), "do_ip_getsockopt: not SOL_IP");
  const { client: s6 } = await h.connection(AF_INET6);
  assert.equal(await o.getInt(s6, 41, 26), 0);
  assert.deepEqual(await o.setInt(s6, 41, 26, 1), errno(E.EINVAL), "a connection has a port");
  // Unknown: Linux's default until set, then what was set; unknown levels ENOPROTOOPT.
  assert.equal(await o.getInt(s4, 1, 12 /* SO_PRIORITY */), 0);
  assert.deepEqual(await o.setInt(s4, 1, 12, 6), ok());
  assert.equal(await o.getInt(s4, 1, 12), 6);
  assert.deepEqual(await o.setInt(s4, 0, 1 /* IP_TOS */, 0x10), ok());
  assert.equal(await o.getInt(s4, 0, 1), 0x10);
  assert.deepEqual(await o.setInt(s4, 999, 1, 1), errno(E.ENOPROTOOPT));
  assert.deepEqual((await o.get(s4, 999, 1)).out, errno(E.EOPNOTSUPP), "AF_INET: ip_getsockopt");
  assert.deepEqual((await o.get(s6, 999, 1)).out, errno(E.ENOPROTOOPT), "AF_INET6: ipv6_getsockopt");
  // Set on the kernel socket before connect, kept by the connection.
  const c6 = await h.socket(AF_INET6);
  assert.deepEqual(await o.setInt(c6, 41, 26, 1), ok());
  assert.deepEqual(await o.setInt(c6, 6, 1, 1), ok());
  const { listener } = await h.connection(AF_INET6);
  const port = (await h.getsockname(listener)).addr.readUInt16BE(2);
  assert.deepEqual(await h.connect(c6, sin6(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), port)), ok());
  assert.equal(await o.getInt(c6, 41, 26), 1, "IPV6_V6ONLY kept");
  assert.equal(await o.getInt(c6, 6, 1), 1, "TCP_NODELAY kept");
  h.cleanup();
});

test("SO_ERROR is 0 and TCP_INFO reports the state, truncated to optlen", async () => {
  const h = harness();
  const o = opts(h);
  const l = await h.socket();
  await h.bind(l, sin("127.0.0.1", 9500));
  await h.call(NR.listen, l, 1);
  let r = await o.get(l, 6, 11, 232);
  assert.equal(r.len, 232);
  assert.equal(r.val[0], 10, "TCP_LISTEN");
  const c = await h.socket();
  r = await o.get(c, 6, 11, 8);
  assert.equal(r.len, 8);
  assert.equal(r.val[0], 7, "TCP_CLOSE");
  await h.connect(c, sin("127.0.0.1", 9500));
  r = await o.get(c, 6, 11, 104);
  assert.equal(r.val[0], 1, "TCP_ESTABLISHED");
  assert.equal(r.val.readUInt32LE(16), await o.getInt(c, 6, 2), "tcpi_snd_mss is TCP_MAXSEG's");
  assert.equal(r.val[5], 7, "tcpi_options: timestamps, SACK, window scaling, as on loopback");
  assert.equal(await o.getInt(c, 1, 4), 0);
  assert.deepEqual(await o.setInt(c, 6, 11, 0), errno(E.ENOPROTOOPT));
  h.cleanup();
});

test("an accepted socket inherits the listener's options", async () => {
  const h = harness();
  const o = opts(h);
  const l = await h.socket();
  await o.setInt(l, 6, 1, 1);
  await h.bind(l, sin("127.0.0.1", 9510));
  await h.call(NR.listen, l, 1);
  const c = await h.socket();
  await h.connect(c, sin("127.0.0.1", 9510));
  const acc = await h.call(NR.accept, l, 0, 0);
  assert.equal(acc.kind, "return");
  const s = Number((acc as { value: number }).value);
  assert.equal(await o.getInt(s, 6, 1), 1);
  assert.equal(await o.getInt(s, 1, 30), 0);
  h.cleanup();
});
