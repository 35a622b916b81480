// Helpers for the native addon tests: the repo root, C fixtures compiled on demand with cc into a
// temporary directory, and a CLONE_PARENT task made by fixtures/clone_parent.c.
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadNative, NativeError, type RecvResult, type WaitOptions, type WaitStatus } from '../../native/index.js';

import { projectRoot as repoRoot } from "../../native/root.js";
export { repoRoot };

let buildDir: string | undefined;
const built = new Map<string, string>();

/** Compiles test/unit/fixtures/NAME.c (once per process) and returns the executable's path. */
export function fixture(name: string): string {
  const cached = built.get(name);
  if (cached) return cached;
  if (!buildDir) {
    const dir = mkdtempSync(join(tmpdir(), 'tsor-native-test-'));
    buildDir = dir;
    // The compiled fixtures go with the test process.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const out = join(buildDir, name);
  const src = join(repoRoot(), 'test', 'unit', 'fixtures', `${name}.c`);
  execFileSync('cc', ['-O1', '-Wall', '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  built.set(name, out);
  return out;
}

/** A task made with CLONE_PARENT: our child, unknown to libuv. `addr` is its `secret` string. */
export function cloneParent(mode: 'exit' | 'signal' | 'hold', arg: string): { pid: number; addr: bigint } {
  const out = execFileSync(fixture('clone_parent'), [mode, arg], { encoding: 'utf8' }).trim();
  const [pid, addr] = out.split(' ');
  return { pid: Number(pid), addr: BigInt(addr) };
}

/** The flags field of /proc/self/fdinfo/FD (octal). */
export function fdFlags(fd: number): number {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /^flags:\s+([0-7]+)/m.exec(text);
  if (!m) throw new Error(`no flags in fdinfo of ${fd}`);
  return parseInt(m[1], 8);
}

/** Asserts that fn throws a NativeError for `syscall` with errno `code`, named in its message. */
export function assertNativeError(fn: () => unknown, syscall: string, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NativeError, `not a NativeError: ${String(err)}`);
    assert.equal(err.syscall, syscall);
    assert.equal(err.code, code);
    assert.equal(err.errno, (constants.errno as Record<string, number>)[code]);
    assert.match(err.message, new RegExp(`^${syscall.replace(/[()]/g, '\\$&')}: ${code}`));
    return true;
  });
}

/** waitPid as a promise. */
export function waitFor(pid: number, options?: WaitOptions): Promise<WaitStatus> {
  return new Promise((resolve) => loadNative().waitPid(pid, resolve, options));
}

/** recvFds as a promise. */
export function recv(sock: number, maxData: number, maxFds: number): Promise<RecvResult> {
  return new Promise((resolve, reject) =>
    loadNative().recvFds(sock, maxData, maxFds, (err, r) => (err ? reject(err) : resolve(r))),
  );
}
