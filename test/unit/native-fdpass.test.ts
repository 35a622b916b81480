// The native addon's unix sockets: socketpair, sendFds/recvFds, int sockopts, socketInNetns.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { test } from 'node:test';

import { loadNative, NativeError } from '../../native/index.js';
import { assertNativeError, fdFlags, recv } from './native-fixtures.js';

const n = loadNative();
const c = n.constants;
const O_CLOEXEC = 0o2000000;

test('socketpair: two close-on-exec ends of one AF_UNIX stream', () => {
  const [a, b] = n.socketpair();
  assert.ok(fdFlags(a) & O_CLOEXEC && fdFlags(b) & O_CLOEXEC);
  assert.notEqual(n.fstatIno(a).ino, n.fstatIno(b).ino);
  assert.equal(n.getsockoptInt(a, c.SOL_SOCKET, c.SO_TYPE), c.SOCK_STREAM);
  assert.equal(n.getsockoptInt(a, c.SOL_SOCKET, c.SO_DOMAIN), c.AF_UNIX);
  n.closeFd(a);
  n.closeFd(b);
  const [s1, s2] = n.socketpair(c.SOCK_SEQPACKET);
  assert.equal(n.getsockoptInt(s1, c.SOL_SOCKET, c.SO_TYPE), c.SOCK_SEQPACKET);
  n.closeFd(s1);
  n.closeFd(s2);
  assert.throws(() => n.socketpair(12345), (e) => e instanceof NativeError && e.syscall === 'socketpair');
});

test('sendFds/recvFds: data and fds round trip; received fds are new, close-on-exec, same file', async () => {
  const [a, b] = n.socketpair();
  const file = openSync('/dev/null', 'r');
  const [p1, p2] = n.socketpair();
  assert.equal(n.sendFds(a, Buffer.from('hello'), [file, p1]), 5);
  const r = await recv(b, 64, 4);
  assert.equal(r.data.toString(), 'hello');
  assert.equal(r.truncated, false);
  assert.equal(r.fds.length, 2);
  assert.deepEqual(n.fstatIno(r.fds[0]), n.fstatIno(file));
  assert.deepEqual(n.fstatIno(r.fds[1]), n.fstatIno(p1));
  for (const fd of r.fds) {
    assert.ok(![file, p1].includes(fd));
    assert.ok(fdFlags(fd) & O_CLOEXEC);
    n.closeFd(fd);
  }
  // Data alone, and a Uint8Array.
  n.sendFds(a, new Uint8Array([1, 2, 3]), []);
  assert.deepEqual([...(await recv(b, 64, 0)).data], [1, 2, 3]);
  closeSync(file);
  for (const fd of [a, b, p1, p2]) n.closeFd(fd);
});

test('recvFds: fds beyond maxFds are reported as truncated', async () => {
  const [a, b] = n.socketpair();
  n.sendFds(a, Buffer.from('x'), [0, 1]);
  const r = await recv(b, 8, 1);
  assert.equal(r.truncated, true);
  assert.equal(r.fds.length, 1);
  n.closeFd(r.fds[0]);
  n.closeFd(a);
  n.closeFd(b);
});

test('recvFds: EOF is data of length 0', async () => {
  const [a, b] = n.socketpair();
  n.closeFd(a);
  const r = await recv(b, 16, 1);
  assert.equal(r.data.length, 0);
  assert.deepEqual(r.fds, []);
  n.closeFd(b);
});

test('recvFdsNow: a message and its fds now, null when none waits, empty data at EOF; a bad fd throws', () => {
  const [a, b] = n.socketpair(c.SOCK_SEQPACKET);
  assert.equal(n.recvFdsNow(b, 64, 1), null, 'nothing waits: no blocking');
  const file = openSync('/dev/null', 'r');
  n.sendFds(a, Buffer.from('first'), [file]);
  n.sendFds(a, Buffer.from('second'), []);
  const m1 = n.recvFdsNow(b, 64, 1)!;
  assert.equal(m1.data.toString(), 'first');
  assert.equal(m1.fds.length, 1);
  assert.equal(readlinkSync(`/proc/self/fd/${m1.fds[0]}`), '/dev/null');
  assert.ok(fdFlags(m1.fds[0]!) & O_CLOEXEC, 'close-on-exec');
  assert.equal(n.recvFdsNow(b, 64, 1)!.data.toString(), 'second', 'one message a call, boundaries kept');
  n.closeFd(a);
  const eof = n.recvFdsNow(b, 64, 1)!;
  assert.deepEqual([eof.data.length, eof.fds], [0, []]);
  for (const fd of [file, m1.fds[0]!, b]) n.closeFd(fd);
  assertNativeError(() => n.recvFdsNow(b, 64, 1), 'recvmsg', 'EBADF');
});

test('recvFds: waits on its own thread, also on a non-blocking socket', async () => {
  const [a, b] = n.socketpair();
  n.setNonblock(b, true);
  const pending = recv(b, 16, 1);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(ticks >= 3, 'the event loop keeps running while recvFds waits');
  n.sendFds(a, Buffer.from('late'), []);
  assert.equal((await pending).data.toString(), 'late');
  clearInterval(timer);
  n.closeFd(a);
  n.closeFd(b);
});

test('recvFds: a failure arrives as a NativeError in the callback', async () => {
  const file = openSync('/dev/null', 'r');
  await assert.rejects(recv(file, 16, 1), (e) => e instanceof NativeError && e.syscall === 'recvmsg' && e.code === 'ENOTSOCK');
  closeSync(file);
  assert.throws(() => n.recvFds(0, 0, 1, () => {}), TypeError);
  assert.throws(() => n.recvFds(0, 16, 254, () => {}), TypeError);
});

test('sendFds: errors and argument checks', () => {
  const [a, b] = n.socketpair();
  assertNativeError(() => n.sendFds(1_000_000, Buffer.from('x'), []), 'sendmsg', 'EBADF');
  assertNativeError(() => n.sendFds(a, Buffer.from('x'), [1_000_000]), 'sendmsg', 'EBADF');
  assert.throws(() => n.sendFds(a, Buffer.alloc(0), [0]), TypeError);
  assert.throws(() => n.sendFds(a, 'x' as never, []), TypeError);
  assert.throws(() => n.sendFds(a, Buffer.from('x'), [-1]), TypeError);
  n.closeFd(b);
  assertNativeError(() => n.sendFds(a, Buffer.from('x'), []), 'sendmsg', 'EPIPE');
  n.closeFd(a);
});

test('getsockoptInt/setsockoptInt on a real socket; errors', () => {
  const [a, b] = n.socketpair();
  n.setsockoptInt(a, c.SOL_SOCKET, c.SO_SNDBUF, 65536);
  assert.equal(n.getsockoptInt(a, c.SOL_SOCKET, c.SO_SNDBUF), 131072); // the kernel doubles it
  n.setsockoptInt(a, c.SOL_SOCKET, c.SO_KEEPALIVE, 1);
  assert.equal(n.getsockoptInt(a, c.SOL_SOCKET, c.SO_KEEPALIVE), 1);
  assertNativeError(() => n.getsockoptInt(a, c.IPPROTO_TCP, c.TCP_NODELAY), 'getsockopt', 'EOPNOTSUPP');
  const file = openSync('/dev/null', 'r');
  assertNativeError(() => n.getsockoptInt(file, c.SOL_SOCKET, c.SO_TYPE), 'getsockopt', 'ENOTSOCK');
  assertNativeError(() => n.setsockoptInt(file, c.SOL_SOCKET, c.SO_KEEPALIVE, 1), 'setsockopt', 'ENOTSOCK');
  closeSync(file);
  n.closeFd(a);
  n.closeFd(b);
});

test('copySocketOptions copies the values a new socket would not hold only; skips what a socket refuses; checks its arguments', () => {
  const SO_RCVTIMEO = 20;
  const SO_SNDTIMEO = 21;
  const opts = Int32Array.of(c.SOL_SOCKET, SO_RCVTIMEO, 0, c.SOL_SOCKET, SO_SNDTIMEO, 0, c.SOL_SOCKET, c.SO_KEEPALIVE, 0);
  const [a, b] = n.socketpair();
  const [x, y] = n.socketpair();
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(1n, 0);
  tv.writeBigInt64LE(500000n, 8);
  n.setsockoptBuf(a, c.SOL_SOCKET, SO_RCVTIMEO, tv);
  n.setsockoptInt(a, c.SOL_SOCKET, c.SO_KEEPALIVE, 1);
  assert.equal(n.copySocketOptions(a, x, opts), 2, 'the timeout and keep-alive, not the zero SO_SNDTIMEO');
  assert.deepEqual(n.getsockoptBuf(x, c.SOL_SOCKET, SO_RCVTIMEO, 16), tv);
  assert.equal(n.getsockoptInt(x, c.SOL_SOCKET, c.SO_KEEPALIVE), 1);
  assert.deepEqual(n.getsockoptBuf(x, c.SOL_SOCKET, SO_SNDTIMEO, 16), Buffer.alloc(16));
  assert.equal(n.copySocketOptions(b, y, opts), 0, 'nothing set: nothing copied');
  // An option whose new-socket value is not 0: SO_PEEK_OFF is -1 (off), and 0 is an offset.
  const SO_PEEK_OFF = 42;
  const peek = Int32Array.of(c.SOL_SOCKET, SO_PEEK_OFF, -1);
  assert.equal(n.copySocketOptions(b, y, peek), 0, 'off: not copied');
  n.setsockoptInt(b, c.SOL_SOCKET, SO_PEEK_OFF, 0);
  assert.equal(n.copySocketOptions(b, y, peek), 1, 'offset 0: copied');
  assert.equal(n.getsockoptInt(y, c.SOL_SOCKET, SO_PEEK_OFF), 0);
  const file = openSync('/dev/null', 'r');
  assert.equal(n.copySocketOptions(file, y, opts), 0, 'not a socket: skipped');
  closeSync(file);
  assert.throws(() => n.copySocketOptions(a, x, [1, 20, 0] as never), TypeError);
  assert.throws(() => n.copySocketOptions(a, x, Int32Array.of(1, 20)), TypeError);
  for (const fd of [a, b, x, y]) n.closeFd(fd);
});

/** Connects a TCP socket made from `fd` to 127.0.0.1:port; resolves with the error code or 'connected'. */
function tryConnect(fd: number, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = new Socket({ fd });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      s.destroy();
      resolve(e.code ?? String(e));
    });
    s.connect(port, '127.0.0.1');
  });
}

test('socketInNetns: the socket lives in the given network namespace', async (t) => {
  const server = createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  t.after(() => server.close());

  // Ours: reaches the listener.
  const here = n.socketInNetns('/proc/self/ns/net', c.AF_INET, c.SOCK_STREAM, 0);
  assert.ok(fdFlags(here) & O_CLOEXEC);
  assert.equal(await tryConnect(here, port), 'connected');

  // A fresh netns (loopback down): unreachable.
  const holder = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  const path = `/proc/${holder.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 500; i++) {
    try {
      if (readlinkSync(path) !== ours) break;
    } catch {
      // not started yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.notEqual(readlinkSync(path), ours);
  const there = n.socketInNetns(path, c.AF_INET, c.SOCK_STREAM, 0);
  assert.equal(await tryConnect(there, port), 'ENETUNREACH');

  assertNativeError(() => n.socketInNetns('/nonexistent/netns', c.AF_INET, c.SOCK_STREAM, 0), 'open', 'ENOENT');
  assertNativeError(() => n.socketInNetns('/proc/self/ns/uts', c.AF_INET, c.SOCK_STREAM, 0), 'setns', 'EINVAL');
  assertNativeError(() => n.socketInNetns('/proc/self/ns/net', 12345, c.SOCK_STREAM, 0), 'socket', 'EAFNOSUPPORT');
  assert.throws(() => n.socketInNetns('a\0b', c.AF_INET, c.SOCK_STREAM, 0), TypeError);
});

test('discardNow: consumes unseen (or counts with peek) what waits now; 0 at EOF, -1 if nothing', () => {
  const [a, b] = n.socketpair();
  assert.equal(n.discardNow(b, 10), -1); // blocking socket, nothing there: no wait
  assert.equal(n.discardNow(b, 10, true), -1);
  n.sendNow(a, Buffer.from('abcdef'));
  assert.equal(n.discardNow(b, 0), 0, 'nothing asked: 0 with data waiting');
  assert.equal(n.discardNow(b, 4, true), 4, 'peek counts at most maxBytes');
  assert.equal(n.discardNow(b, 100, true), 6, 'peek counts what waits');
  assert.equal(n.discardNow(b, 2), 2);
  assert.equal(n.recvNow(b, 2)?.toString(), 'cd', 'the discarded bytes went first');
  // More than the scratch buffer in one call.
  const big = Buffer.alloc(100_000);
  let sent = 0;
  while (sent < 150_000) {
    const r = n.sendNow(a, big);
    if (r < 0) break;
    sent += r;
  }
  assert.ok(sent > 65536, `${sent} bytes queued`);
  assert.equal(n.discardNow(b, 1 << 30), 2 + sent);
  assert.equal(n.discardNow(b, 1), -1);
  n.closeFd(a);
  assert.equal(n.discardNow(b, 1), 0, 'EOF');
  assert.equal(n.discardNow(b, 1, true), 0, 'EOF, peeked');
  assertNativeError(() => n.discardNow(a, 1), 'recv', 'EBADF');
  n.closeFd(b);
});

test('sendNow/recvNow: never block, whatever O_NONBLOCK; EAGAIN is -1 / null, EOF an empty buffer', () => {
  const [a, b] = n.socketpair();
  assert.equal(n.recvNow(b, 1), null); // blocking socket, nothing there: no wait
  assert.equal(n.sendNow(a, Buffer.from('xy')), 2);
  assert.equal(n.recvNow(b, 1)?.toString(), 'x');
  assert.equal(n.recvNow(b, 16)?.toString(), 'y');
  assert.equal(n.recvNow(b, 16), null);
  // A full send buffer answers -1 instead of blocking.
  const big = Buffer.alloc(1 << 16);
  let sent = 0;
  for (let r = n.sendNow(a, big); r !== -1; r = n.sendNow(a, big)) sent += r;
  assert.ok(sent > 0);
  n.closeFd(a);
  let got = 0;
  for (let r = n.recvNow(b, 1 << 16); r !== null && r.length > 0; r = n.recvNow(b, 1 << 16)) got += r.length;
  assert.equal(got, sent);
  assert.equal(n.recvNow(b, 1)?.length, 0); // EOF
  // Peer gone: EPIPE as an error, no SIGPIPE.
  assert.throws(() => n.sendNow(b, Buffer.from('z')), (e) => e instanceof NativeError && e.syscall === 'send' && e.code === 'EPIPE');
  n.closeFd(b);
  assert.throws(() => n.recvNow(b, 1), (e) => e instanceof NativeError && e.syscall === 'recv');
  assert.throws(() => n.sendNow(b, Buffer.from('z')), (e) => e instanceof NativeError && e.syscall === 'send');
});

test('ReadableWatcher: calls on data and on EOF, not after stop; argument checks', async () => {
  const [a, b] = n.socketpair();
  const w = new n.ReadableWatcher(b);
  const events: string[] = [];
  let wake: () => void = () => {};
  w.start((err) => {
    assert.equal(err, undefined);
    for (let r = n.recvNow(b, 64); r !== null; r = r.length === 0 ? null : n.recvNow(b, 64)) {
      events.push(r.length === 0 ? 'eof' : r.toString());
      if (r.length === 0) w.stop();
    }
    wake();
  });
  w.unref();
  w.ref(); // the test awaits it
  assert.throws(() => w.start(() => {}), /already started/);
  const next = () => new Promise<void>((resolve) => (wake = resolve));
  let got = next();
  n.sendNow(a, Buffer.from('hi'));
  await got;
  assert.deepEqual(events, ['hi']);
  got = next();
  n.closeFd(a);
  await got;
  assert.deepEqual(events, ['hi', 'eof']);
  w.stop(); // idempotent
  n.closeFd(b);
  assert.throws(() => new n.ReadableWatcher(-1), TypeError);
  assert.throws(() => w.start(undefined as never), TypeError);
});
