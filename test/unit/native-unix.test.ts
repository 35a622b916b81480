// The native addon's unix listening sockets (tsor-netd's API): unixListen/unixConnect/unixAccept,
// peerCred, shutdownFd waking the waiting threads.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { loadNative, NativeError } from '../../native/index.js';
import { assertNativeError, fdFlags, recv } from './native-fixtures.js';

const n = loadNative();
const c = n.constants;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;

function accept(sock: number): Promise<number> {
  return new Promise((resolve, reject) => n.unixAccept(sock, (err, fd) => (err ? reject(err) : resolve(fd))));
}

test('unixListen/unixConnect/unixAccept: a seqpacket connection keeps message boundaries and carries fds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsor-unix-'));
  const path = join(dir, 'api.sock');
  const l = n.unixListen(path);
  try {
    assert.ok(existsSync(path));
    assert.ok(fdFlags(l) & O_CLOEXEC && fdFlags(l) & O_NONBLOCK);
    assert.equal(n.getsockoptInt(l, c.SOL_SOCKET, c.SO_TYPE), c.SOCK_SEQPACKET);
    assert.equal(n.getsockoptInt(l, c.SOL_SOCKET, c.SO_ACCEPTCONN), 1);
    const accepted = accept(l);
    const client = n.unixConnect(path);
    const server = await accepted;
    assert.ok(fdFlags(server) & O_CLOEXEC && fdFlags(client) & O_CLOEXEC);
    const cred = n.peerCred(server);
    assert.deepEqual(cred, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    const [p1, p2] = n.socketpair();
    n.sendFds(client, Buffer.from('one'), [p1]);
    n.sendFds(client, Buffer.from('two'), []);
    const r1 = await recv(server, 64, 2);
    assert.equal(r1.data.toString(), 'one');
    assert.equal(r1.fds.length, 1);
    assert.deepEqual(n.fstatIno(r1.fds[0]), n.fstatIno(p1));
    assert.equal((await recv(server, 64, 2)).data.toString(), 'two');
    // shutdownFd wakes a pending recvFds with EOF.
    const pending = recv(server, 64, 2);
    n.shutdownFd(server);
    assert.equal((await pending).data.length, 0);
    for (const fd of [client, server, p1, p2, ...r1.fds]) n.closeFd(fd);
  } finally {
    n.closeFd(l);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unixAccept: shutdownFd on the listener ends the wait with EINVAL', async () => {
  const l = n.unixListen(`@tsor-test-${process.pid}-accept`);
  const pending = accept(l);
  n.shutdownFd(l);
  await assert.rejects(pending, (e) => e instanceof NativeError && e.syscall === 'accept4' && e.code === 'EINVAL');
  n.closeFd(l);
});

test('unixListen: an abstract name is a lock (EADDRINUSE while held, free after close)', () => {
  const name = `@tsor-test-${process.pid}-lock`;
  const a = n.unixListen(name);
  assertNativeError(() => n.unixListen(name), 'bind', 'EADDRINUSE');
  n.closeFd(a);
  n.closeFd(n.unixListen(name));
});

test('unixConnect: ENOENT / ECONNREFUSED / ENAMETOOLONG name the call', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsor-unix-'));
  try {
    assertNativeError(() => n.unixConnect(join(dir, 'missing.sock')), 'connect', 'ENOENT');
    assertNativeError(() => n.unixConnect(`@tsor-test-${process.pid}-nobody`), 'connect', 'ECONNREFUSED');
    assertNativeError(() => n.unixConnect('/' + 'x'.repeat(200)), 'connect', 'ENAMETOOLONG');
    assertNativeError(() => n.unixListen('/' + 'x'.repeat(200)), 'bind', 'ENAMETOOLONG');
    assertNativeError(() => n.peerCred(0x7fff), 'getsockopt(SO_PEERCRED)', 'EBADF');
    assert.throws(() => n.unixListen(42 as unknown as string), TypeError);
    assert.throws(() => n.unixAccept(3, undefined as unknown as () => void), TypeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
