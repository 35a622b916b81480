// The native addon's seccomp user notification: a fixture installs a NEW_LISTENER filter, passes
// the listener over a unix socket (SCM_RIGHTS), and the test answers its trapped syscalls with a
// value, an errno, CONTINUE, and an fd installed by ADDFD (SEND and SETFD).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { constants } from 'node:os';
import { test } from 'node:test';

import {
  isNotificationGone,
  loadNative,
  NativeError,
  type SeccompListener,
  type SeccompNotif,
} from '../../native/index.js';
import { assertNativeError, fixture, recv } from './native-fixtures.js';

const n = loadNative();
const c = n.constants;
const { EACCES } = constants.errno;

interface Child {
  proc: ChildProcess;
  sock: number;
  listenerFd: number;
  nr: { getppid: number; socket: number; getuid: number; arch: number };
  output: Promise<string>;
  exited: Promise<number | string | null>;
}

/** Runs fixtures/notif_child.c and receives its listener fd. */
async function startChild(mode: 'answer' | 'block'): Promise<Child> {
  const [sock, theirs] = n.socketpair();
  const proc = spawn(fixture('notif_child'), [mode], { stdio: ['ignore', 'pipe', 'inherit', theirs] });
  n.closeFd(theirs);
  let text = '';
  let firstLine: () => void;
  const header = new Promise<void>((resolve) => (firstLine = resolve));
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    if (text.includes('\n')) firstLine();
  });
  const output = new Promise<string>((resolve) => proc.stdout!.on('end', () => resolve(text)));
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, sig) => resolve(sig ?? code)));
  const got = await recv(sock, 16, 1);
  assert.equal(got.data.toString(), 'L', `no listener from the fixture; output: ${text}`);
  assert.equal(got.fds.length, 1);
  await header;
  const m = /^nr getppid=(\d+) socket=(\d+) getuid=(\d+) arch=(\d+)$/m.exec(text);
  assert.ok(m, text);
  const [getppid, socket, getuid, arch] = m.slice(1).map(Number);
  return { proc, sock, listenerFd: got.fds[0], nr: { getppid, socket, getuid, arch }, output, exited };
}

test('seccompNotifSizes reports the kernel structs', () => {
  const s = n.seccompNotifSizes();
  assert.ok(s.notif >= 80 && s.resp >= 24 && s.data >= 64, JSON.stringify(s));
});

for (const how of ['start', 'startOnLoop'] as const) {
test(`SeccompListener (${how}): value, errno, CONTINUE, ADDFD with SEND and with SETFD`, async () => {
  const child = await startChild('answer');
  const listener: SeccompListener = new n.SeccompListener(child.listenerFd);
  assert.equal(listener.fd, child.listenerFd);
  assert.equal(listener.running, false);
  // Linux 6.6+ takes the flag; an older kernel says false. Answers work either way (below).
  assert.equal(typeof listener.setSyncWakeUp(), 'boolean');
  // Loop mode looks for the next notification for 50 µs after each: the answers below still flow.
  assert.throws(() => listener.setSpin(-1), TypeError);
  listener.setSpin(50);

  // start/stop/start: no notification exists before "go", so none is lost.
  listener[how](() => assert.fail('stopped listener delivered'));
  assert.equal(listener.running, true);
  assert.throws(() => listener[how](() => {}), /already started/);
  listener.stop();
  listener.stop(); // idempotent
  assert.equal(listener.running, false);

  const [mine, appEnd] = n.socketpair(); // what the app's "socket()" calls get
  const seen: SeccompNotif[] = [];
  const answered: bigint[] = [];
  let socketCalls = 0;
  const ended = new Promise<NativeError | null>((resolve) => {
    listener[how]((notif) => {
      seen.push(notif);
      assert.equal(notif.pid, child.proc.pid);
      assert.equal(notif.arch, child.nr.arch);
      assert.equal(typeof notif.id, 'bigint');
      assert.ok(notif.instructionPointer > 0n);
      assert.equal(notif.args.length, 6);
      assert.equal(listener.idValid(notif.id), true);
      answered.push(notif.id);
      if (notif.nr === child.nr.getppid) {
        listener.respond(notif.id, 4242, 0, 0);
      } else if (notif.nr === child.nr.getuid) {
        listener.respond(notif.id, 0n, 0, c.SECCOMP_USER_NOTIF_FLAG_CONTINUE);
      } else if (notif.nr === child.nr.socket) {
        socketCalls++;
        if (socketCalls === 1) {
          assert.equal(notif.args[0], BigInt(c.AF_INET));
          assert.equal(notif.args[1], BigInt(c.SOCK_STREAM));
          const fd = listener.addFd(notif.id, appEnd, 0, { send: true, cloexec: true });
          assert.ok(fd >= 3);
        } else if (socketCalls === 2) {
          assert.equal(notif.args[0], BigInt(c.AF_INET6));
          listener.respond(notif.id, 0, EACCES, 0);
        } else {
          assert.equal(listener.addFd(notif.id, appEnd, 42, { setfd: true }), 42);
          listener.respond(notif.id, 42n, 0, 0);
        }
      } else {
        assert.fail(`unexpected syscall ${notif.nr}`);
      }
      assert.equal(listener.idValid(notif.id), false);
    }, resolve);
  });
  n.sendFds(child.sock, Buffer.from('g'), []); // go

  const out = await child.output;
  assert.equal(await child.exited, 0, out);
  assert.match(out, /^getppid=4242$/m);
  const s1 = /^socket1=(\d+) kind=unix$/m.exec(out);
  assert.ok(s1, out);
  assert.match(out, new RegExp(`^socket2=-1 errno=${EACCES}$`, 'm'));
  assert.match(out, /^socket3=42 kind=unix$/m);
  assert.match(out, /^getuid=0$/m); // the kernel ran it (CONTINUE): we are root
  const data = await recv(mine, 16, 0);
  assert.equal(data.data.toString().slice(0, 4), 'ping');
  const more = data.data.length >= 8 ? data : { data: Buffer.concat([data.data, (await recv(mine, 16, 0)).data]) };
  assert.equal(more.data.toString(), 'pingpong');

  assert.equal(await ended, null, 'onEnd(null) once no task uses the filter');
  assert.equal(listener.running, false);
  assert.deepEqual(seen.map((s) => s.nr), [
    child.nr.getppid, child.nr.socket, child.nr.socket, child.nr.socket, child.nr.getuid,
  ]);
  // Answering twice: the notification is gone.
  assert.throws(() => listener.respond(answered[0], 0, 0, 0), (e) => isNotificationGone(e));
  n.closeFd(child.listenerFd);
  for (const fd of [mine, appEnd, child.sock]) n.closeFd(fd);
});

test(`SeccompListener (${how}): the task dies before the answer: ENOENT, idValid false, onEnd(null)`, async () => {
  const child = await startChild('block');
  const listener = new n.SeccompListener(child.listenerFd);
  const ended = manual<NativeError | null>();
  const got = new Promise<SeccompNotif>((resolve) => listener[how](resolve, ended.resolve));
  n.sendFds(child.sock, Buffer.from('g'), []);
  const notif = await got;
  assert.equal(notif.nr, child.nr.getppid);
  child.proc.kill('SIGKILL');
  assert.equal(await child.exited, 'SIGKILL');
  assert.equal(await ended.promise, null);
  assert.equal(listener.idValid(notif.id), false);
  assert.throws(
    () => listener.respond(notif.id, 1, 0, 0),
    (e) => e instanceof NativeError && e.code === 'ENOENT' && e.syscall === 'ioctl(SECCOMP_IOCTL_NOTIF_SEND)' && isNotificationGone(e),
  );
  assert.throws(() => listener.addFd(notif.id, 0, 0), (e) => isNotificationGone(e));
  n.closeFd(child.listenerFd);
  n.closeFd(child.sock);
});
}

function manual<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

for (const how of ['start', 'startOnLoop'] as const) {
test(`SeccompListener (${how}): a fd that is not a listener ends with the ioctl error; argument checks`, async () => {
  const fd = openSync('/dev/null', 'r');
  const listener = new n.SeccompListener(fd);
  const err = await new Promise<NativeError | null>((resolve) => listener[how](() => assert.fail('notif'), resolve));
  assert.ok(err instanceof NativeError);
  assert.equal(err.syscall, 'ioctl(SECCOMP_IOCTL_NOTIF_RECV)');
  assert.equal(err.code, 'ENOTTY');
  assert.equal(listener.running, false);
  assertNativeError(() => listener.respond(1n, 0, 0, 0), 'ioctl(SECCOMP_IOCTL_NOTIF_SEND)', 'ENOTTY');
  assertNativeError(() => listener.idValid(1n), 'ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)', 'ENOTTY');
  assert.equal(listener.setSyncWakeUp(), false); // ENOTTY: not a listener
  assertNativeError(() => listener.addFd(1n, 0, 0), 'ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)', 'ENOTTY');
  assert.throws(() => listener.respond(1n, 0, -1, 0), TypeError);
  assert.throws(() => listener.respond(-1n, 0, 0, 0), TypeError);
  assert.throws(() => listener.respond(1n, 2n ** 63n, 0, 0), TypeError);
  assert.throws(() => listener.addFd(1n, 0, 0, { send: 'yes' as never }), TypeError);
  assert.throws(() => new n.SeccompListener(-1), TypeError);
  assert.throws(() => listener[how](undefined as never), TypeError);
  closeSync(fd);
});
}

// The addon's fast path is checked end to end in test/integration/sentry.test.ts (which calls it
// answers, and that the outputs match Linux); here, its arguments and bookkeeping.
test('fastSetsockopt: configure checks its rules; mark/unmark count inodes; take is null with nothing answered', () => {
  const f = n.fastSetsockopt;
  assert.throws(() => f.configure([6, 1, 0, 1] as never), TypeError);
  assert.throws(() => f.configure(Int32Array.of(6, 1, 0)), TypeError);
  assert.throws(() => f.configure(Int32Array.of(6, 4, 5, 1)), /min is above its max/);
  f.configure(Int32Array.of(6, 1, -2147483648, 2147483647, 6, 4, 1, 32767));
  const before = f.stats().inodes;
  f.mark(123456789n);
  f.mark(123456789n);
  assert.equal(f.stats().inodes, before + 1);
  f.unmark(123456789n);
  f.unmark(987654321n); // not marked: nothing happens
  assert.equal(f.stats().inodes, before);
  assert.throws(() => f.mark(-1n as never), TypeError);
  assert.equal(f.take(), null);
  assert.equal(f.stats().answered, 0);
  f.configure(new Int32Array(0)); // off
});
