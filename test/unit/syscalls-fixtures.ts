// A fake Task for the socket handlers: app memory is an in-process buffer, the app's fd table maps
// numbers to real fds of this process (made with the addon), so getFd/fstatIno are real.
import { loadNative } from "../../native/index.js";
import { SyscallError, type Outcome, type Task } from "../../sentry/platform/platform.js";
import { createDispatcher } from "../../sentry/syscalls/index.js";
import { SOCKET_SYSCALLS } from "../../sentry/syscalls/numbers.js";
import { E } from "../../sentry/syscalls/linux.js";
import { dupOwnFd } from "../../sentry/vsock/kernel.js";
import { SocketStack, type SocketStackOptions } from "../../sentry/vsock/stack.js";

export const n = loadNative();
export const NR = SOCKET_SYSCALLS;

const MEM_BASE = 0x10000n;
const MEM_SIZE = 1 << 16;

export class FakeTask implements Task {
  readonly tid = 4242;
  /** No such process: fdinfo lookups of the app's fds fail (cloexec answers false). */
  readonly tgid = -1;
  pending = true;
  private readonly mem = Buffer.alloc(MEM_SIZE);
  private brk = 0;
  private readonly fds = new Map<number, number>();
  private nextFd = 3;

  readMemory(addr: bigint, len: number): Buffer {
    return Buffer.from(this.mem.subarray(...this.range(addr, len)));
  }

  writeMemory(addr: bigint, data: Buffer): void {
    const [start] = this.range(addr, data.length);
    data.copy(this.mem, start);
  }

  private range(addr: bigint, len: number): [number, number] {
    const off = addr - MEM_BASE;
    if (off < 0n || off + BigInt(len) > BigInt(MEM_SIZE)) throw new SyscallError(E.EFAULT, `bad address ${addr}`);
    return [Number(off), Number(off) + len];
  }

  getFd(fd: number): number {
    const real = this.fds.get(fd);
    if (real === undefined) throw new SyscallError(E.EBADF, `no fd ${fd}`);
    return dupOwnFd(real);
  }

  stillPending(): boolean {
    return this.pending;
  }

  /** Copies `data` into app memory; returns its address. */
  put(data: Buffer): bigint {
    const addr = MEM_BASE + BigInt(this.brk);
    data.copy(this.mem, this.brk);
    this.brk += (data.length + 7) & ~7;
    return addr;
  }

  alloc(len: number): bigint {
    return this.put(Buffer.alloc(len));
  }

  putInt(v: number): bigint {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v, 0);
    return this.put(b);
  }

  int(addr: bigint): number {
    return this.readMemory(addr, 4).readInt32LE(0);
  }

  /** Plays the platform for an installFd outcome: the fd becomes the app's; returns its number. */
  install(out: Outcome): number {
    if (out.kind !== "installFd") throw new Error(`expected installFd, got ${JSON.stringify(out)}`);
    return this.adopt(out.fd);
  }

  /** Gives the app a real fd of ours (owned by the fake from now on). */
  adopt(real: number): number {
    const fd = this.nextFd++;
    this.fds.set(fd, real);
    return fd;
  }

  /** The real fd behind an app fd. */
  real(fd: number): number {
    const r = this.fds.get(fd);
    if (r === undefined) throw new Error(`no app fd ${fd}`);
    return r;
  }

  /** Plays the platform for replaceFdThenContinue. */
  replace(out: Outcome): void {
    if (out.kind !== "replaceFdThenContinue") throw new Error(`expected replaceFdThenContinue, got ${JSON.stringify(out)}`);
    n.closeFd(this.real(out.targetFd));
    this.fds.set(out.targetFd, out.fd);
  }

  close(fd: number): void {
    n.closeFd(this.real(fd));
    this.fds.delete(fd);
  }

  closeAll(): void {
    for (const fd of [...this.fds.keys()]) this.close(fd);
  }
}

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export function sin(ip: string, port: number, family = AF_INET): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(family, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(ip.split(".").map(Number)).copy(b, 4);
  return b;
}

export function sin6(ip16: Buffer, port: number, scopeId = 0): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  ip16.copy(b, 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

export const V6_LOOPBACK = Buffer.from("00000000000000000000000000000001", "hex");
export const V6_ANY = Buffer.alloc(16);
export function mapped(ip: string): Buffer {
  return Buffer.concat([Buffer.from("00000000000000000000ffff", "hex"), Buffer.from(ip.split(".").map(Number))]);
}

/** A stack, a dispatcher and a task wired together. */
export function harness(opts: SocketStackOptions = { kernel: null }) {
  const stack = new SocketStack(opts);
  const dispatch = createDispatcher(stack);
  const task = new FakeTask();
  const call = (nr: number, ...args: (number | bigint)[]): Promise<Outcome> =>
    Promise.resolve(dispatch(task, { nr, args: args.map((a) => BigInt.asUintN(64, BigInt(a))) }));
  const socket = async (family = AF_INET, type = SOCK_STREAM): Promise<number> =>
    task.install(await call(NR.socket, family, type, 0));
  const bind = (fd: number, addr: Buffer) => call(NR.bind, fd, task.put(addr), addr.length);
  const connect = (fd: number, addr: Buffer) => call(NR.connect, fd, task.put(addr), addr.length);
  const getsockname = async (fd: number, nr: number = NR.getsockname): Promise<{ out: Outcome; addr: Buffer }> => {
    const buf = task.alloc(128);
    const len = task.putInt(128);
    const out = await call(nr, fd, buf, len);
    return { out, addr: task.readMemory(buf, Math.max(0, Math.min(128, task.int(len)))) };
  };
  const cleanup = () => {
    task.closeAll();
    stack.dispose();
  };
  return { stack, dispatch, task, call, socket, bind, connect, getsockname, cleanup };
}

export const ok = (value: number | bigint = 0): Outcome => ({ kind: "return", value });
export const errno = (e: number): Outcome => ({ kind: "errno", errno: e });

/** Waits for the event loop to run pending I/O callbacks (socket EOF watchers). */
export function tick(ms = 20): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `p`, keeping the event loop alive meanwhile (the sentry's watchers are unref'd); rejects after `ms`. */
export function within<T>(p: Promise<T>, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_res, rej) => {
    timer = setTimeout(() => rej(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
