// The native addon's process supervision: loader, NativeError, waitPid, pidfds, prctl, fds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { loadNative, native, NativeError } from '../../native/index.js';
import { assertNativeError, cloneParent, fdFlags, repoRoot, waitFor } from './native-fixtures.js';

const n = loadNative();
const { SIGKILL, SIGTERM } = constants.signals;
const O_NONBLOCK = 0o4000;

test('loader: loadNative is cached and `native` forwards to it', () => {
  assert.equal(loadNative(), n);
  assert.equal(native.closeFd, n.closeFd);
  assert.ok('waitPid' in native);
});

test('native.d.ts mirrors the addon: the same exports, constants and SeccompListener methods', () => {
  const dts = readFileSync(join(repoRoot(), 'native', 'native.d.ts'), 'utf8');
  const block = (name: string) => {
    const start = dts.indexOf(`${name} {`);
    return dts.slice(start, dts.indexOf('\n}', start));
  };
  const members = (text: string) =>
    [...text.matchAll(/^ {2}(?:readonly )?([A-Za-z]\w*)[(:]/gm)].map((m) => m[1]).sort();
  assert.deepEqual(members(block('interface NativeBinding')), Object.keys(n).sort());
  const constantNames = [...dts.matchAll(/'([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(constantNames, Object.keys(n.constants).sort());
  const methods = members(block('class SeccompListener')).filter((m) => m !== 'constructor');
  assert.deepEqual(methods, Object.getOwnPropertyNames(n.SeccompListener.prototype).filter((m) => m !== 'constructor').sort());
});

test('closeFd: EBADF as a NativeError; a bad argument is a TypeError', () => {
  assertNativeError(() => n.closeFd(1_000_000), 'close', 'EBADF');
  assert.throws(() => n.closeFd(-1), TypeError);
  assert.throws(() => n.closeFd(1.5), TypeError);
  assert.throws(() => (n.closeFd as (x: unknown) => void)('3'), TypeError);
});

test('waitPid: exit code of a CLONE_PARENT task', async () => {
  const { pid } = cloneParent('exit', '7');
  const st = await waitFor(pid);
  assert.deepEqual(st, { pid, code: 7, signal: null, coreDumped: false, stopSignal: null, event: 0, error: null });
});

test('waitPid: terminating signal of a CLONE_PARENT task', async () => {
  const { pid } = cloneParent('signal', String(SIGTERM));
  const st = await waitFor(pid, { keepAlive: true });
  assert.equal(st.code, null);
  assert.equal(st.signal, SIGTERM);
  assert.equal(st.error, null);
});

test('waitPid: ECHILD at once for a process that is not our child; TypeError for bad arguments', () => {
  assertNativeError(() => n.waitPid(1, () => {}), 'waitid', 'ECHILD');
  assert.throws(() => n.waitPid(0, () => {}), TypeError);
  assert.throws(() => n.waitPid(process.pid, undefined as never), TypeError);
  assert.throws(() => n.waitPid(process.pid, () => {}, { keepAlive: 1 as never }), TypeError);
});

test('waitPid: keepAlive false does not hold the event loop open', () => {
  // A Node process that waits (unref'd) for a task that never exits must still end by itself.
  const script = `
    import { loadNative } from ${JSON.stringify(join(repoRoot(), 'dist', 'native', 'index.js'))};
    import { cloneParent } from ${JSON.stringify(join(repoRoot(), 'dist', 'test', 'unit', 'native-fixtures.js'))};
    const { pid } = cloneParent('hold', '/dev/null');
    console.log(pid);
    loadNative().waitPid(pid, () => console.log('unexpected'), { keepAlive: false });
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const pid = Number(r.stdout.trim());
  assert.ok(pid > 0, r.stdout);
  process.kill(pid, SIGKILL); // orphaned, reparented: init reaps it
});

test('pidfdOpen + pidfdSendSignal kill a task; waitPid reports the signal', async () => {
  const { pid } = cloneParent('hold', '/dev/null');
  const pidfd = n.pidfdOpen(pid);
  assert.ok(fdFlags(pidfd) & 0o2000000, 'pidfd is close-on-exec');
  const exited = waitFor(pid);
  n.pidfdSendSignal(pidfd, SIGKILL);
  const st = await exited;
  assert.equal(st.signal, SIGKILL);
  // Reaped: the pidfd still names it, but it is gone.
  assertNativeError(() => n.pidfdSendSignal(pidfd, 0), 'pidfd_send_signal', 'ESRCH');
  n.closeFd(pidfd);
  assertNativeError(() => n.pidfdOpen(pid), 'pidfd_open', 'ESRCH');
  assertNativeError(() => n.pidfdSendSignal(pidfd, 0), 'pidfd_send_signal', 'EBADF');
  assert.throws(() => n.pidfdSendSignal(pidfd, 65), TypeError);
});

test('pidfdGetfd: duplicates an fd of another process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsor-native-'));
  const file = join(dir, 'held');
  writeFileSync(file, 'held by the task');
  const { pid } = cloneParent('hold', file);
  const pidfd = n.pidfdOpen(pid);
  try {
    let fd = -1;
    for (let i = 0; i < 200 && fd < 0; i++) {
      try {
        fd = n.pidfdGetfd(pidfd, 10);
      } catch (err) {
        if (!(err instanceof NativeError && err.code === 'EBADF')) throw err;
        await new Promise((r) => setTimeout(r, 10)); // the task has not opened it yet
      }
    }
    const buf = Buffer.alloc(64);
    const len = readSync(fd, buf, 0, 64, 0);
    assert.equal(buf.subarray(0, len).toString(), 'held by the task');
    assert.ok(fdFlags(fd) & 0o2000000, 'duplicate is close-on-exec');
    n.closeFd(fd);
    assertNativeError(() => n.pidfdGetfd(pidfd, 99), 'pidfd_getfd', 'EBADF');
  } finally {
    const exited = waitFor(pid);
    n.pidfdSendSignal(pidfd, SIGKILL);
    await exited;
    n.closeFd(pidfd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prctl: child subreaper and parent-death signal round trip', () => {
  const subreaper = n.getChildSubreaper();
  n.setChildSubreaper(true);
  assert.equal(n.getChildSubreaper(), true);
  n.setChildSubreaper(subreaper);
  assert.equal(n.getChildSubreaper(), subreaper);
  const pdeath = n.getPdeathsig();
  n.setPdeathsig(SIGTERM);
  assert.equal(n.getPdeathsig(), SIGTERM);
  n.setPdeathsig(pdeath);
  assert.throws(() => n.setPdeathsig(99), TypeError);
  assert.throws(() => n.setChildSubreaper(1 as never), TypeError);
});

test('fstatIno matches fs.fstat; EBADF', () => {
  const fd = openSync('/dev/null', 'r');
  const st = fstatSync(fd, { bigint: true });
  assert.deepEqual(n.fstatIno(fd), { dev: st.dev, ino: st.ino });
  closeSync(fd);
  assertNativeError(() => n.fstatIno(fd), 'fstat', 'EBADF');
});

test('setNonblock sets and clears O_NONBLOCK', () => {
  const [a, b] = n.socketpair();
  n.setNonblock(a, true);
  assert.ok(fdFlags(a) & O_NONBLOCK);
  assert.equal(fdFlags(b) & O_NONBLOCK, 0);
  n.setNonblock(a, false);
  assert.equal(fdFlags(a) & O_NONBLOCK, 0);
  n.closeFd(a);
  n.closeFd(b);
  assertNativeError(() => n.setNonblock(a, true), 'fcntl(F_GETFL)', 'EBADF');
});

test('getFileFlags: F_GETFL follows setNonblock; EBADF as a NativeError', () => {
  const [a, b] = n.socketpair();
  const O_NONBLOCK = 0o4000;
  assert.equal(n.getFileFlags(a) & O_NONBLOCK, 0);
  n.setNonblock(a, true);
  assert.equal(n.getFileFlags(a) & O_NONBLOCK, O_NONBLOCK);
  assert.equal(n.getFileFlags(b) & O_NONBLOCK, 0);
  n.closeFd(a);
  n.closeFd(b);
  assert.throws(() => n.getFileFlags(a), (e) => e instanceof NativeError && e.syscall === 'fcntl(F_GETFL)');
});
