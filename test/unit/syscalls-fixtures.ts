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

  /** Plays the platform for replaceFd: our fd takes the app's fd number; the call's answer follows. */
  replace(out: Outcome): Outcome {
    if (out.kind !== "replaceFd") throw new Error(`expected replaceFd, got ${JSON.stringify(out)}`);
    n.closeFd(this.real(out.targetFd));
    this.fds.set(out.targetFd, out.fd);
    return out.errno ? { kind: "errno", errno: out.errno } : { kind: "return", value: out.value };
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

/**
 * Plays the kernel for a call the sentry let through (CONTINUE): the same syscall on the real fd
 * behind the app's fd, its result as an Outcome. The fake's sockets are real kernel sockets in
 * this process's netns (loopback), as the app's would be in its pod.
 */
function runNatively(task: FakeTask, nr: number, args: readonly bigint[]): Outcome {
  const i = (k: number) => Number(BigInt.asIntN(32, args[k]));
  try {
    switch (nr) {
      case NR.socket: {
        const fd = n.socketInNetns("/proc/self/ns/net", i(0), i(1) & ~SOCK_CLOEXEC, i(2));
        return { kind: "return", value: task.adopt(fd) };
      }
      case NR.bind:
        n.bind(task.real(i(0)), task.readMemory(args[1], i(2)));
        return { kind: "return", value: 0 };
      case NR.listen:
        n.listen(task.real(i(0)), i(1));
        return { kind: "return", value: 0 };
      case NR.connect: {
        const r = n.connectNow(task.real(i(0)), task.readMemory(args[1], i(2)));
        return r === 0 ? { kind: "return", value: 0 } : { kind: "errno", errno: r };
      }
      case NR.accept:
      case NR.accept4: {
        const got = n.acceptNow(task.real(i(0)));
        if (!got) return { kind: "errno", errno: E.EAGAIN };
        if (args[1] !== 0n) writeName(task, args[1], args[2], got.addr);
        return { kind: "return", value: task.adopt(got.fd) };
      }
      case NR.getsockname:
      case NR.getpeername: {
        const real = task.real(i(0));
        writeName(task, args[1], args[2], nr === NR.getsockname ? n.getsockname(real) : n.getpeername(real));
        return { kind: "return", value: 0 };
      }
      case NR.getsockopt: {
        const len = task.int(args[4]);
        const val = n.getsockoptBuf(task.real(i(0)), i(1), i(2), Math.max(0, Math.min(len, 512)));
        task.writeMemory(args[3], val);
        const lenb = Buffer.alloc(4);
        lenb.writeInt32LE(val.length, 0);
        task.writeMemory(args[4], lenb);
        return { kind: "return", value: 0 };
      }
      case NR.setsockopt:
        n.setsockoptBuf(task.real(i(0)), i(1), i(2), i(4) > 0 ? task.readMemory(args[3], i(4)) : Buffer.alloc(0));
        return { kind: "return", value: 0 };
      case NR.shutdown:
        n.shutdownFd(task.real(i(0)));
        return { kind: "return", value: 0 };
      default:
        throw new Error(`no native runner for syscall ${nr}`);
    }
  } catch (e) {
    if (e instanceof SyscallError) return { kind: "errno", errno: e.errno };
    const errno = (e as { errno?: number }).errno;
    if (typeof errno === "number") return { kind: "errno", errno };
    throw e;
  }
}

function writeName(task: FakeTask, ptr: bigint, lenPtr: bigint, addr: Buffer): void {
  const room = task.int(lenPtr);
  task.writeMemory(ptr, addr.subarray(0, Math.max(0, Math.min(room, addr.length))));
  const lenb = Buffer.alloc(4);
  lenb.writeInt32LE(addr.length, 0);
  task.writeMemory(lenPtr, lenb);
}

/** A stack (its kernel side in this process's netns), a dispatcher and a task wired together. */
export function harness(opts: SocketStackOptions = { netnsPath: "/proc/self/ns/net" }) {
  const stack = new SocketStack(opts);
  const dispatch = createDispatcher(stack);
  const task = new FakeTask();
  /** One trapped call as the app sees it: the sentry's answer, or the kernel's when it let the call through. */
  const call = async (nr: number, ...args: (number | bigint)[]): Promise<Outcome> => {
    const raw = args.map((a) => BigInt.asUintN(64, BigInt(a)));
    const out = await dispatch(task, { nr, args: raw });
    if (out.kind === "continue") return runNatively(task, nr, raw);
    if (out.kind === "replaceFd") return task.replace(out);
    if (out.kind === "installFd") return { kind: "return", value: task.install(out) };
    return out;
  };
  const socket = async (family = AF_INET, type = SOCK_STREAM): Promise<number> => {
    const out = await call(NR.socket, family, type, 0);
    if (out.kind !== "return") throw new Error(`socket: ${JSON.stringify(out)}`);
    return Number(out.value);
  };
  const bind = (fd: number, addr: Buffer) => call(NR.bind, fd, task.put(addr), addr.length);
  const connect = (fd: number, addr: Buffer) => call(NR.connect, fd, task.put(addr), addr.length);
  const getsockname = async (fd: number, nr: number = NR.getsockname): Promise<{ out: Outcome; addr: Buffer }> => {
    const buf = task.alloc(128);
    const len = task.putInt(128);
    const out = await call(nr, fd, buf, len);
    return { out, addr: task.readMemory(buf, Math.max(0, Math.min(128, task.int(len)))) };
  };
  /** A connection between two sockets of this stack: the client's and the server's fd, and the listener's. */
  const connection = async (family = AF_INET): Promise<{ client: number; server: number; listener: number }> => {
    const listener = await socket(family);
    const any = family === AF_INET ? sin("127.0.0.1", 0) : sin6(V6_LOOPBACK, 0);
    await bind(listener, any);
    await call(NR.listen, listener, 8);
    const port = (await getsockname(listener)).addr.readUInt16BE(2);
    const client = await socket(family);
    const out = await connect(client, family === AF_INET ? sin("127.0.0.1", port) : sin6(V6_LOOPBACK, port));
    if (out.kind !== "return") throw new Error(`connect: ${JSON.stringify(out)}`);
    const acc = await call(NR.accept, listener, 0, 0);
    if (acc.kind !== "return") throw new Error(`accept: ${JSON.stringify(acc)}`);
    return { client, server: Number(acc.value), listener };
  };
  const cleanup = () => {
    task.closeAll();
    stack.dispose();
  };
  return { stack, dispatch, task, call, socket, bind, connect, getsockname, connection, cleanup };
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
