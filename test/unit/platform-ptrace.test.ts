// The ptrace platform on fixtures/ptrace_child.c: a CLONE_PARENT task with its own
// SECCOMP_RET_TRACE filter, seized by a PtracePlatform whose dispatch the test writes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import { test } from 'node:test';

import { loadNative } from '../../native/index.js';
import { PtracePlatform } from '../../sentry/platform/ptrace.js';
import { SeccompPlatform } from '../../sentry/platform/seccomp.js';
import { SyscallError, type Outcome, type SyscallHandler, type Task, type TrappedSyscall } from '../../sentry/platform/platform.js';
import { fixture, recv } from './native-fixtures.js';

const n = loadNative();
const { EACCES, EFAULT, EINTR, ENOSYS } = constants.errno;
const { SIGUSR1, SIGUSR2, SIGWINCH } = constants.signals;
const NR = { getppid: 110, getuid: 102, socket: 41, getsockname: 51, accept4: 288 };
const SOCK_STREAM = 1;

type Exit = { code: number | null; signal: number | null };

interface Run {
  pid: number;
  /** Sends the fixture a byte on its fd 3 (the first one starts the scenario). */
  poke(): void;
  /** Its output lines (the pid line excluded), once it ended. */
  lines: Promise<string[]>;
  exit: Promise<Exit>;
  platform: PtracePlatform;
}

/** The fixture's stdout until EOF, the first line (its pid) given as soon as it arrives. */
function output(child: ChildProcess): { pid: Promise<number>; lines: Promise<string[]> } {
  let out = '';
  let gotPid: (pid: number) => void;
  const pid = new Promise<number>((resolve) => (gotPid = resolve));
  const lines = new Promise<string[]>((resolve) => child.stdout!.on('end', () => resolve(out.trim().split('\n').slice(1))));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('\n')) gotPid(Number(out.slice(0, out.indexOf('\n'))));
  });
  return { pid, lines };
}

/**
 * Starts `ptrace_child MODE ARGS` under a PtracePlatform with `dispatch`, and sets it going. The
 * platform's error log goes to `errors` if given, else to stderr.
 */
async function traced(mode: string, args: string[], dispatch: SyscallHandler, errors?: string[]): Promise<Run> {
  const [go, theirs] = n.socketpair();
  const child = spawn(fixture('ptrace_child'), [mode, ...args], { stdio: ['ignore', 'pipe', 'inherit', theirs] });
  n.closeFd(theirs);
  const got = output(child);
  const pid = await got.pid;
  let onExit!: (exit: Exit) => void;
  const exit = new Promise<Exit>((resolve) => (onExit = resolve));
  const error = (o: unknown, m?: string) => (errors ? void errors.push(String(m)) : console.error(m, o));
  const platform = new PtracePlatform({ onExit, log: { debug() {}, warn() {}, error } });
  platform.start({ pid }, dispatch);
  const poke = () => writeSync(go, 'g');
  poke();
  const lines = got.lines.finally(() => n.closeFd(go));
  return { pid, poke, lines, exit, platform };
}

/** A socketpair: `ours` goes to the app by installFd, the test keeps `peer`. */
function pair(): { ours: number; peer: number } {
  const [ours, peer] = n.socketpair();
  return { ours, peer };
}

async function readWord(fd: number): Promise<string> {
  const r = await recv(fd, 64, 0);
  n.closeFd(fd);
  return r.data.toString();
}

test('ptrace platform: answers, errnos, EFAULT, continue, installFd, replaceFd', async () => {
  const peers: Promise<string>[] = [];
  const dispatch: SyscallHandler = (task: Task, call: TrappedSyscall): Outcome => {
    switch (call.nr) {
      case NR.getppid:
        return { kind: 'return', value: 4242 };
      case NR.getuid:
        return { kind: 'errno', errno: EACCES };
      case NR.socket: {
        if ((Number(call.args[1]) & 0xf) !== SOCK_STREAM) return { kind: 'continue' };
        const { ours, peer } = pair();
        peers.push(readWord(peer));
        return { kind: 'installFd', fd: ours, cloexec: (Number(call.args[1]) & n.constants.SOCK_CLOEXEC) !== 0 };
      }
      case NR.getsockname: {
        if (call.args[0] !== 77n) {
          const { ours, peer } = pair();
          peers.push(readWord(peer));
          return { kind: 'replaceFd', fd: ours, targetFd: Number(call.args[0]), cloexec: false, value: 0, errno: 0 };
        }
        const len = task.readMemory(call.args[2], 4).readUInt32LE(0);
        assert.equal(len, 32);
        task.writeMemory(call.args[1], Buffer.from('tsor-name\0')); // EFAULT for the second call
        const l = Buffer.alloc(4);
        l.writeUInt32LE(9);
        task.writeMemory(call.args[2], l);
        return { kind: 'return', value: 0 };
      }
    }
    throw new Error(`unexpected syscall ${call.nr}`);
  };
  const run = await traced('calls', [], dispatch);
  const lines = await run.lines;
  assert.deepEqual(lines, [
    'getppid 4242',
    `getuid -${EACCES}`,
    `getgid -${ENOSYS}`, // someone else's SECCOMP_RET_TRACE rule: as with no tracer
    'udp type 2',
    'getsockname 0 tsor-name 9',
    `getsockname -${EFAULT}`,
    'plain socket lowest cloexec 0 domain 1 wrote 4',
    'cloexec socket lowest cloexec 1 domain 1 wrote 4',
    'replaced 0 family 1 cloexec 0 wrote 4',
    'fds 0 1 2 3', // nothing the injections opened is left behind
  ]);
  assert.deepEqual(await Promise.all(peers), ['ping', 'pong', 'swap']);
  const exit = await run.exit;
  assert.equal(exit.code, 0);
});

test('ptrace platform: a forked child, a vfork child and a thread are traced too', async () => {
  const peers: Promise<string>[] = [];
  const tgids = new Set<number>();
  const dispatch: SyscallHandler = (task, call) => {
    tgids.add(task.tgid);
    if (call.nr === NR.getppid) return { kind: 'return', value: task.tid };
    assert.equal(call.nr, NR.socket);
    const { ours, peer } = pair();
    peers.push(readWord(peer));
    return { kind: 'installFd', fd: ours, cloexec: false };
  };
  const run = await traced('tasks', [], dispatch);
  assert.deepEqual(await run.lines, [
    'child getppid tid',
    'child socket lowest cloexec 0 domain 1 wrote 5',
    'child exit 7',
    'vfork exit 8',
    'thread getppid tid',
    'thread socket lowest cloexec 0 domain 1 wrote 6',
    'main getppid tid',
  ]);
  assert.deepEqual(await Promise.all(peers), ['child', 'thread']);
  assert.equal((await run.exit).code, 0);
  assert.equal(tgids.size, 3); // the first process, its fork child, its vfork child
  assert.ok(tgids.has(run.pid));
});

test('ptrace platform: held calls; other threads go on; signals interrupt them as they would accept', async () => {
  const calls: { fd: bigint; task: Task; answer: (o: Outcome) => void }[] = [];
  let arrived: () => void = () => {};
  const next = () => new Promise<void>((resolve) => (arrived = resolve));
  const dispatch: SyscallHandler = (task, call) => {
    if (call.nr === NR.getppid) return { kind: 'return', value: 7 };
    assert.equal(call.nr, NR.accept4);
    return new Promise<Outcome>((answer) => {
      calls.push({ fd: call.args[0], task, answer });
      arrived();
    });
  };
  let waiting = next();
  const run = await traced('hold', [], dispatch);
  await waiting;
  assert.equal(calls[0].fd, 50n);
  assert.equal(calls[0].task.stillPending(), true);
  // While accept(50) is held the other thread's call is answered.
  run.poke();
  await new Promise((r) => setTimeout(r, 100));
  waiting = next();
  calls[0].answer({ kind: 'return', value: 33 });
  await waiting;

  // accept(51) + SIGUSR1 (handler, no SA_RESTART): EINTR; the late answer's fd is closed.
  assert.equal(calls[1].fd, 51n);
  waiting = next();
  process.kill(run.pid, SIGUSR1);
  while (calls[1].task.stillPending()) await new Promise((r) => setTimeout(r, 5));
  const late = pair();
  calls[1].answer({ kind: 'installFd', fd: late.ours, cloexec: false });
  assert.equal((await recv(late.peer, 8, 0)).data.length, 0); // EOF: nobody holds `ours`
  n.closeFd(late.peer);
  await waiting;

  // accept(52) + SIGUSR2 (SA_RESTART): the handler runs and the call traps again.
  assert.equal(calls[2].fd, 52n);
  waiting = next();
  process.kill(run.pid, SIGUSR2);
  await waiting;
  assert.equal(calls[2].task.stillPending(), false);
  assert.equal(calls[3].fd, 52n);
  waiting = next();
  calls[3].answer({ kind: 'return', value: 44 });
  await waiting;

  // accept(53) + SIGWINCH (ignored by default): still pending; then an fd arrives.
  assert.equal(calls[4].fd, 53n);
  process.kill(run.pid, SIGWINCH);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls[4].task.stillPending(), true);
  const held = pair();
  const word = readWord(held.peer);
  calls[4].answer({ kind: 'installFd', fd: held.ours, cloexec: true });

  assert.deepEqual(await run.lines, [
    'thread getppid 7',
    'accept 33',
    `accept -${EINTR} usr1 1`,
    'accept 44 usr2 1',
    'accept fd wrote 4',
    'fds 0 1 2 3 4',
  ]);
  assert.equal(await word, 'held');
  assert.equal((await run.exit).code, 0);
});

test('ptrace platform: a handler that throws: SyscallError is the errno, anything else EIO', async () => {
  let count = 0;
  const dispatch: SyscallHandler = (_task, call) => {
    if (call.nr === NR.getppid) throw new SyscallError(EACCES);
    if (call.nr === NR.getuid) throw new Error('handler bug');
    if (call.nr === NR.socket && (Number(call.args[1]) & 0xf) !== SOCK_STREAM) return { kind: 'continue' };
    count++;
    return Promise.reject(new SyscallError(EACCES)); // an async failure of a held call
  };
  const errors: string[] = [];
  const child = await traced('calls', [], dispatch, errors);
  const lines = await child.lines;
  assert.equal(lines[0], `getppid -${EACCES}`);
  assert.equal(lines[1], `getuid -${constants.errno.EIO}`);
  assert.equal(lines[6], `plain socket -${EACCES}`);
  assert.ok(count > 0);
  assert.deepEqual(errors, ['ptrace platform: handler failed; the call gets EIO']);
  assert.equal((await child.exit).code, 0);
});

test('ptrace platform: cost per trapped call, against the seccomp platform (printed)', async (t) => {
  const N = 2000;
  const dispatch: SyscallHandler = (_task, call) => {
    if (call.nr === NR.getppid) return { kind: 'return', value: 1 };
    const { ours, peer } = pair();
    n.closeFd(peer);
    return { kind: 'installFd', fd: ours, cloexec: false };
  };
  const ptrace = await traced('loop', [String(N)], dispatch);
  const [ptraceLine] = await ptrace.lines;
  await ptrace.exit;

  const [go, theirs] = n.socketpair();
  const [channel, initEnd] = n.socketpair();
  const child = spawn(fixture('ptrace_child'), ['notify', String(N)], { stdio: ['ignore', 'pipe', 'inherit', theirs, initEnd] });
  n.closeFd(theirs);
  n.closeFd(initEnd);
  const got = output(child);
  const seccomp = new SeccompPlatform();
  seccomp.start({ pid: await got.pid, trapChannel: channel }, dispatch);
  writeSync(go, 'g');
  const [seccompLine] = await got.lines;
  await seccomp.done;
  n.closeFd(go);

  const ns = (line: string) => line.split(' ').map(Number);
  const [pr, pi] = ns(ptraceLine.replace(/[a-z]+ /g, ''));
  const [sr, si] = ns(seccompLine.replace(/[a-z]+ /g, ''));
  assert.ok(pr > 0 && pi > 0 && sr > 0 && si > 0, `${ptraceLine} / ${seccompLine}`);
  t.diagnostic(`ns per trapped call, answered: ptrace ${pr}, seccomp ${sr} (x${(pr / sr).toFixed(1)})`);
  t.diagnostic(`ns per trapped socket(), fd installed: ptrace ${pi}, seccomp ${si} (x${(pi / si).toFixed(1)})`);
});
