// The native addon's process_vm_readv/writev and ptrace primitives, on a CLONE_PARENT task
// (fixtures/clone_parent.c `hold`: it waits in pause() and has a known string at `addr`).
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';

import { loadNative, type WaitStatus } from '../../native/index.js';
import { assertNativeError, cloneParent, waitFor } from './native-fixtures.js';

const n = loadNative();
const c = n.constants;
const { SIGKILL, SIGTRAP } = constants.signals;
const SYS_pause_x86_64 = 34;

async function kill(pid: number): Promise<WaitStatus> {
  const exited = waitFor(pid);
  process.kill(pid, SIGKILL);
  return exited;
}

test('processVmReadv/processVmWritev: another process memory; EFAULT, ESRCH', async () => {
  const { pid, addr } = cloneParent('hold', '/dev/null');
  assert.equal(n.processVmReadv(pid, addr, 22).toString(), 'tsor-secret-0123456789');
  assert.equal(n.processVmWritev(pid, addr, Buffer.from('TSOR')), 4);
  assert.equal(n.processVmReadv(pid, addr, 11).toString(), 'TSOR-secret');
  assert.equal(n.processVmReadv(pid, addr, 0).length, 0);
  assertNativeError(() => n.processVmReadv(pid, 8n, 8), 'process_vm_readv', 'EFAULT');
  assertNativeError(() => n.processVmWritev(pid, 8n, Buffer.from('x')), 'process_vm_writev', 'EFAULT');
  assert.throws(() => n.processVmReadv(pid, -1n, 8), TypeError);
  assert.throws(() => n.processVmReadv(pid, addr, -1), TypeError);
  assert.throws(() => n.processVmWritev(pid, addr, 'x' as never), TypeError);
  assert.equal((await kill(pid)).signal, SIGKILL);
  assertNativeError(() => n.processVmReadv(pid, addr, 8), 'process_vm_readv', 'ESRCH');
});

test('ptrace: seize, interrupt, wait for the stop, registers, continue, detach', async () => {
  const { pid } = cloneParent('hold', '/dev/null');
  try {
    n.ptraceSeize(pid, c.PTRACE_O_TRACESYSGOOD | c.PTRACE_O_EXITKILL);
    assertNativeError(() => n.ptraceGetRegs(pid), 'ptrace(PTRACE_GETREGSET)', 'ESRCH'); // running
    n.ptraceInterrupt(pid);
    const stop = await waitFor(pid, { traced: true });
    assert.equal(stop.code, null);
    assert.equal(stop.signal, null);
    assert.equal(stop.stopSignal, SIGTRAP);
    assert.equal(stop.event, c.PTRACE_EVENT_STOP);
    assert.equal(typeof n.ptraceGetEventMsg(pid), 'bigint');

    const regs = n.ptraceGetRegs(pid);
    assert.ok(regs instanceof BigUint64Array);
    if (n.ptraceRegNames.length > 0) assert.equal(regs.length, n.ptraceRegNames.length);
    if (process.arch === 'x64') {
      assert.equal(regs.length, 27);
      assert.equal(regs[n.ptraceRegNames.indexOf('orig_rax')], BigInt(SYS_pause_x86_64));
      const r12 = n.ptraceRegNames.indexOf('r12');
      const saved = regs[r12];
      regs[r12] = 0x1234_5678_9abc_def0n;
      n.ptraceSetRegs(pid, regs);
      assert.equal(n.ptraceGetRegs(pid)[r12], 0x1234_5678_9abc_def0n);
      regs[r12] = saved;
      n.ptraceSetRegs(pid, regs);
    }
    assert.throws(() => n.ptraceSetRegs(pid, new BigUint64Array(3)), TypeError);
    assert.throws(() => n.ptraceSetRegs(pid, new Float64Array(regs.length) as never), TypeError);

    n.ptraceCont(pid, 0);
    n.ptraceInterrupt(pid);
    assert.equal((await waitFor(pid, { traced: true })).event, c.PTRACE_EVENT_STOP);
    n.ptraceDetach(pid, 0);
    assertNativeError(() => n.ptraceGetRegs(pid), 'ptrace(PTRACE_GETREGSET)', 'ESRCH'); // not traced
  } finally {
    assert.equal((await kill(pid)).signal, SIGKILL);
  }
  assertNativeError(() => n.ptraceSeize(pid, 0), 'ptrace(PTRACE_SEIZE)', 'ESRCH');
  assertNativeError(() => n.ptraceCont(pid, 0), 'ptrace(PTRACE_CONT)', 'ESRCH');
  assert.throws(() => n.ptraceSeize(pid, -1), TypeError);
});

test('ptrace: a traced task killed while traced is reported by waitPid traced', async () => {
  const { pid } = cloneParent('hold', '/dev/null');
  n.ptraceSeize(pid, c.PTRACE_O_EXITKILL);
  const done = waitFor(pid, { traced: true });
  process.kill(pid, SIGKILL);
  const st = await done;
  assert.equal(st.signal, SIGKILL);
  assert.equal(st.stopSignal, null);
});
