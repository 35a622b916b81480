// The socket option family: getsockopt, setsockopt on virtual TCP sockets. Options are recorded
// on the vsocket (answers for getsockopt, and replayed on the real socket if the vsocket falls
// back to the kernel). Per level one declarative table: how set checks and stores a value, what
// get answers. Options no table names are asked of a scratch kernel socket when the stack has a
// kernel side (int-sized ones: Linux's ENOPROTOOPT/EINVAL for set, its default for get), then
// stored as given and answered back as stored; without a kernel side, getting one that was never
// set is ENOPROTOOPT.
import * as fs from "node:fs";

import { SyscallError, type Task } from "../platform/platform.js";
import { MAX_OPTION_LEN, connectedPeer, connectionTcpState, observePeer, peerReset, type VirtualSocket } from "../vsock/vsocket.js";
import { native } from "../../native/index.js";
import type { Outcome } from "../platform/platform.js";
import { AF_INET, v4Of, type InetFamily } from "../vsock/address.js";
import type { ConnectionSide, KernelNet } from "../vsock/kernel.js";
import type { SocketStack } from "../vsock/stack.js";
import { CONTINUE, INTERRUPTED, asApp, kernelTcpSocket, ret, withFd, type SocketHandler } from "./common.js";
import {
  AF_INET6,
  E,
  IPPROTO_IP,
  IP_TOS,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_V6ONLY,
  MAX_TCP_KEEPCNT,
  MAX_TCP_WINDOW,
  MAX_TCP_KEEPIDLE,
  MAX_TCP_KEEPINTVL,
  SIZEOF_INT,
  SIZEOF_LINGER,
  SOCK_MIN_RCVBUF,
  SOCK_MIN_SNDBUF,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ACCEPTCONN,
  SO_DOMAIN,
  SO_ERROR,
  SO_INCOMING_CPU,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_PRIORITY,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_RCVTIMEO,
  SO_RCVTIMEO_NEW,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDTIMEO,
  SO_SNDTIMEO_NEW,
  SO_OOBINLINE,
  SO_PEEK_OFF,
  SO_PEERCRED,
  SO_RCVLOWAT,
  SO_PEERNAME,
  SO_TYPE,
  SO_ZEROCOPY,
  SYSCTL_RMEM_MAX,
  SYSCTL_WMEM_MAX,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_DEFER_ACCEPT,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT2,
  TCP_INFO,
  TCP_INFO_LEN,
  TCP_INFO_MSS,
  TCP_INFO_PMTU,
  TCP_KEEPCNT,
  TCP_MAXSEG,
  TCP_QUICKACK,
  TCP_MIN_MSS,
  TCP_WINDOW_CLAMP,
  TCP_KEEPCNT_DEFAULT,
  TCP_KEEPIDLE,
  TCP_KEEPIDLE_DEFAULT,
  TCP_KEEPINTVL,
  TCP_KEEPINTVL_DEFAULT,
  TCP_LISTEN,
  TCP_NODELAY,
  TCP_CORK,
  TCP_RMEM_DEFAULT,
  TCP_WMEM_DEFAULT,
  argInt,
} from "./linux.js";
import { formatSockaddr, readLen } from "./sockaddr.js";

function int(v: number): Buffer {
  const b = Buffer.alloc(SIZEOF_INT);
  b.writeInt32LE(v, 0);
  return b;
}

/** How a level clamps getsockopt's length: sock_getsockopt rejects a negative one; tcp/ipv6 compare it unsigned. */
type LenRule = "signed" | "unsigned";

interface OptSpec {
  /**
   * The answer (full length; the caller truncates to `len`, the app's optlen). `kernel`: the
   * container's netns, for what only a real connection there shows (connectionSide); `task`: the
   * caller.
   */
  get?: (vs: VirtualSocket, len: number, kernel: KernelNet | null, task: Task) => Buffer;
  /** Checks and records `val` (the first `size` bytes of optval); absent: ENOPROTOOPT. */
  set?: (vs: VirtualSocket, val: Buffer) => void;
  /** Bytes set reads (after the level's optlen check). */
  size?: number;
  /** The int values set takes without EINVAL: what native.fastSetsockopt may answer itself. */
  valid?: readonly [number, number];
}

/** A boolean option: any non-zero int sets it; get answers 0 or 1 (sock_valbool_flag, SK_CAN_REUSE...). */
function boolOpt(level: number, name: number): OptSpec {
  return {
    valid: [-0x80000000, 0x7fffffff],
    get: (vs) => int(vs.opts.getInt(level, name, 0) ? 1 : 0),
    set: (vs, val) => vs.opts.setInt(level, name, val.readInt32LE(0)),
  };
}

/** An int option with a range (tcp_setsockopt's keepalive knobs: EINVAL outside [min, max]). */
function rangeOpt(level: number, name: number, min: number, max: number, dflt: number): OptSpec {
  return {
    valid: [min, max],
    get: (vs) => int(vs.opts.getInt(level, name, dflt)),
    set: (vs, val) => {
      const v = val.readInt32LE(0);
      if (v < min || v > max) throw new SyscallError(E.EINVAL, `option ${name}: ${v} out of [${min}, ${max}]`);
      vs.opts.setInt(level, name, v);
    },
  };
}

/**
 * SO_RCVBUF/SO_SNDBUF: __sock_set_rcvbuf/__sock_set_sndbuf clamp the value (as unsigned) to the
 * sysctl maximum, then double it, with a floor; the recorded value is the one set (for replay).
 */
function bufOpt(name: number, max: number, floor: number, dflt: number): OptSpec {
  return {
    get: (vs, _len, kernel) => {
      const set = vs.opts.get(SOL_SOCKET, name);
      if (!set) {
        // Not set: what a fresh connection over its path has on this side (autotuned from the MSS).
        const side = connectionSide(vs, kernel);
        return int((side && (name === SO_SNDBUF ? side.sndbuf : side.rcvbuf)) ?? dflt);
      }
      const v = set.readInt32LE(0);
      const clamped = v >>> 0 > max ? max : v;
      return int(Math.max(clamped * 2, floor));
    },
    set: (vs, val) => vs.opts.setInt(SOL_SOCKET, name, val.readInt32LE(0)),
  };
}

const CONNECTION_STATES = { ESTABLISHED: TCP_ESTABLISHED, FIN_WAIT2: TCP_FIN_WAIT2, CLOSE_WAIT: TCP_CLOSE_WAIT, CLOSE: TCP_CLOSE };

function tcpState(vs: VirtualSocket): number {
  if (vs.isConnection) return CONNECTION_STATES[connectionTcpState(vs)];
  return vs.state === "listening" ? TCP_LISTEN : TCP_CLOSE;
}

/**
 * What a fresh TCP connection over this connection's path shows on its side (the accepted side
 * for a server's end, the connecting one for a client's; IPv4's for a v4-mapped peer, as the
 * route is IPv4's): kernel.ts ConnectionTemplate, of loopback for a peer in this netns, of the
 * route's MTU for another pod; null without one.
 */
function connectionSide(vs: VirtualSocket, kernel: KernelNet | null): ConnectionSide | null {
  if (!vs.isConnection) return null;
  const peer4 = vs.peer && v4Of(vs.peer.ip);
  const family: InetFamily = peer4 ? AF_INET : vs.family;
  const t = kernel?.connectionTemplate(family, peer4 ?? vs.peer?.ip);
  if (!t) return null;
  return vs.acceptedFrom ? t.server : t.client;
}

/** tcp_info's tcpi_snd_mss (include/uapi/linux/tcp.h): the MSS TCP_MAXSEG reads too. */
const TCPI_SND_MSS = 16;
/** tcp_info's tcpi_options, and its TCPI_OPT_TIMESTAMPS bit: the connection carries timestamps. */
const TCPI_OPTIONS = 5;
const TCPI_OPT_TIMESTAMPS = 1;
/** What the timestamp option takes of each segment (include/net/tcp.h TCPOLEN_TSTAMP_ALIGNED). */
const TCPOLEN_TSTAMP_ALIGNED = 12;

/**
 * struct tcp_info (include/uapi/linux/tcp.h) of a connection: a fresh connection's over its path
 * (connectionSide: its MSS, window scales, options, RTO, RTT estimate as measured once), with the
 * sentry's state; without a template, loopback-like sizes. Counters stay those
 * of a connection that has sent nothing.
 */
function tcpInfo(vs: VirtualSocket, _len: number, kernel: KernelNet | null): Buffer {
  const side = connectionSide(vs, kernel); // null for a listener
  const b = Buffer.alloc(TCP_INFO_LEN);
  if (side) side.tcpInfo.copy(b);
  else if (vs.isConnection) {
    b.writeUInt32LE(TCP_INFO_MSS, TCPI_SND_MSS); // tcpi_snd_mss
    b.writeUInt32LE(TCP_INFO_MSS, 20); // tcpi_rcv_mss
    b.writeUInt32LE(TCP_INFO_PMTU, 60); // tcpi_pmtu
    b.writeUInt32LE(0x7fffffff, 76); // tcpi_snd_ssthresh: TCP_INFINITE_SSTHRESH
    b.writeUInt32LE(10, 80); // tcpi_snd_cwnd: TCP_INIT_CWND
    b.writeUInt32LE(TCP_INFO_MSS, 84); // tcpi_advmss
    b.writeUInt32LE(3, 88); // tcpi_reordering: TCP_FASTRETRANS_THRESH
  }
  b.writeUInt8(tcpState(vs), 0); // tcpi_state
  return b;
}

/**
 * SOL_SOCKET options sk_setsockopt/sk_getsockopt implement alike for every socket: on a
 * connection's socketpair end they act as on a TCP socket (a read or accept times out, MSG_PEEK
 * starts at SO_PEEK_OFF and moves it: unix_stream_read_generic as tcp_recvmsg; urgent data, which
 * AF_UNIX streams carry as TCP does since Linux 5.15, stays in line with SO_OOBINLINE), with
 * Linux's own checks (EDOM for a bad tv_usec), so the kernel keeps them.
 */
const KERNEL_SOCKET_OPTS = new Set([SO_RCVTIMEO, SO_SNDTIMEO, SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW, SO_KEEPALIVE, SO_PEEK_OFF, SO_OOBINLINE]);

function kernelAnswers(level: number, name: number): boolean {
  return level === SOL_SOCKET && KERNEL_SOCKET_OPTS.has(name);
}

/**
 * getsockopt: those, and SO_RCVLOWAT, which setsockopt still takes (TCP clamps it,
 * tcp_set_rcvlowat; AF_UNIX would not) but puts on the end, where an accepted one also finds
 * its listener's (copyKernelSocketOptions).
 */
function kernelReads(level: number, name: number): boolean {
  return kernelAnswers(level, name) || (level === SOL_SOCKET && name === SO_RCVLOWAT);
}

/** Options whose set is ENOPROTOOPT (read-only in sock_setsockopt's switch). */
const readOnly = (get: NonNullable<OptSpec["get"]>): OptSpec => ({ get });

/** SOL_SOCKET (net/core/sock.c sk_setsockopt / sk_getsockopt). */
const SOCKET_OPTS = new Map<number, OptSpec>([
  [SO_TYPE, readOnly(() => int(SOCK_STREAM))],
  [SO_DOMAIN, readOnly((vs) => int(vs.family))],
  [SO_PROTOCOL, readOnly(() => int(IPPROTO_TCP))],
  [SO_ACCEPTCONN, readOnly((vs) => int(vs.state === "listening" ? 1 : 0))],
  [
    SO_ERROR,
    readOnly((vs) => {
      const e = vs.soError;
      vs.soError = 0; // sock_error: reading clears it
      return int(e);
    }),
  ],
  [SO_REUSEADDR, boolOpt(SOL_SOCKET, SO_REUSEADDR)],
  [SO_REUSEPORT, boolOpt(SOL_SOCKET, SO_REUSEPORT)],
  [SO_RCVBUF, bufOpt(SO_RCVBUF, SYSCTL_RMEM_MAX, SOCK_MIN_RCVBUF, TCP_RMEM_DEFAULT)],
  [SO_SNDBUF, bufOpt(SO_SNDBUF, SYSCTL_WMEM_MAX, SOCK_MIN_SNDBUF, TCP_WMEM_DEFAULT)],
  // A TCP socket has no peer credentials: sk_getsockopt answers cred_to_ucred's {0, -1, -1} for
  // none, where the socketpair end would give the peer process's (and a scratch socket's int
  // answer would fill only the pid).
  [SO_PEERCRED, readOnly(() => Buffer.from(Int32Array.of(0, -1, -1).buffer))],
  // getpeername's address, with sk_getsockopt's own rule: EINVAL when optlen is larger than the
  // address, else exactly optlen bytes (ENOTCONN as getpeername, from what the sentry knows).
  [
    SO_PEERNAME,
    readOnly((vs, len) => {
      const peer = connectedPeer(vs);
      if (!peer) throw new SyscallError(E.ENOTCONN, "SO_PEERNAME: not connected");
      const full = formatSockaddr(peer);
      if (full.length < len) throw new SyscallError(E.EINVAL, "SO_PEERNAME: optlen larger than the address");
      return full;
    }),
  ],
  // MSG_ZEROCOPY reports each send's completion on the socket's error queue, which a socketpair
  // end never fills: a connection refuses the option as Linux does for an AF_UNIX socket
  // (EOPNOTSUPP), and the app sends with copies instead of waiting for completions that would
  // never come. A socket that enables it before connect, or a listener before its connections
  // arrive, keeps the kernel's TCP (stack.ts connectLocal): the option is recorded for that.
  [
    SO_ZEROCOPY,
    {
      get: () => int(0),
      set: () => {
        throw new SyscallError(E.EOPNOTSUPP, "SO_ZEROCOPY on a socketpair connection");
      },
    },
  ],
  // sk_incoming_cpu: the CPU whose receive path last took the socket's packets (tcp_v4_rcv), -1
  // before any; a set value stays until the next packet. A socketpair end has none: a connection
  // answers the CPU its caller last ran on (over loopback the receive runs on the sender's CPU,
  // so any CPU the app runs on is as good an answer).
  [
    SO_INCOMING_CPU,
    {
      get: (vs, _len, _kernel, task) => int(vs.opts.get(SOL_SOCKET, SO_INCOMING_CPU)?.readInt32LE(0) ?? (vs.isConnection ? cpuOf(task.tid) : -1)),
      set: (vs, val) => vs.opts.setInt(SOL_SOCKET, SO_INCOMING_CPU, val.readInt32LE(0)),
    },
  ],
  [
    SO_LINGER,
    {
      size: SIZEOF_LINGER,
      get: (vs) => {
        const b = Buffer.alloc(SIZEOF_LINGER);
        vs.opts.get(SOL_SOCKET, SO_LINGER)?.copy(b);
        return b;
      },
      // l_onoff 0 clears SOCK_LINGER but keeps the old l_linger (sk_lingertime is untouched).
      set: (vs, val) => {
        const b = Buffer.alloc(SIZEOF_LINGER);
        vs.opts.get(SOL_SOCKET, SO_LINGER)?.copy(b);
        const on = val.readInt32LE(0) !== 0;
        b.writeInt32LE(on ? 1 : 0, 0);
        if (on) b.writeInt32LE(val.readInt32LE(4), 4);
        vs.opts.set(SOL_SOCKET, SO_LINGER, b);
      },
    },
  ],
]);

/** The CPU thread `tid` last ran on (/proc/<tid>/stat's `processor`, field 39), else 0. */
function cpuOf(tid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${tid}/stat`, "utf8");
    // Fields after the command name, which may hold spaces and parentheses: state is field 3.
    const cpu = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[39 - 3]);
    return Number.isInteger(cpu) && cpu >= 0 ? cpu : 0;
  } catch {
    return 0; // the thread is gone: its answer is not read
  }
}

/** IPPROTO_TCP (net/ipv4/tcp.c do_tcp_setsockopt / do_tcp_getsockopt). */
const TCP_OPTS = new Map<number, OptSpec>([
  [TCP_NODELAY, boolOpt(IPPROTO_TCP, TCP_NODELAY)],
  // Set is answered 0 by the filter and never reaches the sentry (numbers.ts UNTRAPPED_ARGS):
  // nothing is corked, so get reads 0, as the kernel does for a kernel socket.
  [TCP_CORK, { get: () => int(0), set: () => {} }],
  [TCP_KEEPIDLE, rangeOpt(IPPROTO_TCP, TCP_KEEPIDLE, 1, MAX_TCP_KEEPIDLE, TCP_KEEPIDLE_DEFAULT)],
  [TCP_KEEPINTVL, rangeOpt(IPPROTO_TCP, TCP_KEEPINTVL, 1, MAX_TCP_KEEPINTVL, TCP_KEEPINTVL_DEFAULT)],
  [TCP_KEEPCNT, rangeOpt(IPPROTO_TCP, TCP_KEEPCNT, 1, MAX_TCP_KEEPCNT, TCP_KEEPCNT_DEFAULT)],
  // An established connection reads its MSS (mss_cache), the one TCP_INFO reports (tcp_info's
  // tcpi_snd_mss, of its path), capped by the handshake's TCP_MAXSEG (vs.mssCap) less the
  // timestamp option as tcp_sync_mss does (a cap of 1024 reads 1012); a TCP_MAXSEG set on the
  // connection itself changes nothing. Another socket reads what was set (user_mss), within the
  // path's MSS. Set: 0 or [TCP_MIN_MSS, MAX_TCP_WINDOW], else EINVAL.
  [
    TCP_MAXSEG,
    {
      get: (vs, _len, kernel) => {
        const side = connectionSide(vs, kernel);
        const mss = side?.tcpInfo.readUInt32LE(TCPI_SND_MSS) ?? TCP_INFO_MSS;
        if (vs.isConnection) {
          if (vs.mssCap <= 0) return int(mss);
          const options = side && side.tcpInfo[TCPI_OPTIONS]! & TCPI_OPT_TIMESTAMPS ? TCPOLEN_TSTAMP_ALIGNED : 0;
          return int(Math.min(mss, vs.mssCap - options));
        }
        const user = vs.opts.getInt(IPPROTO_TCP, TCP_MAXSEG, 0);
        return int(user > 0 && user < mss ? user : mss);
      },
      set: (vs, val) => {
        const v = val.readInt32LE(0);
        if (v !== 0 && (v < TCP_MIN_MSS || v > MAX_TCP_WINDOW)) throw new SyscallError(E.EINVAL, `TCP_MAXSEG ${v}`);
        vs.opts.setInt(IPPROTO_TCP, TCP_MAXSEG, v);
      },
    },
  ],
  [TCP_INFO, readOnly(tcpInfo)],
  // tcp_set_window_clamp: 0 only while TCP_CLOSE (EINVAL on a live connection; a reset one, or
  // one past both FINs, is CLOSE), else at least SOCK_MIN_RCVBUF / 2; unset, what a loopback
  // connection has (its advertised window bound).
  [
    TCP_WINDOW_CLAMP,
    {
      get: (vs, _len, kernel) => {
        const set = vs.opts.get(IPPROTO_TCP, TCP_WINDOW_CLAMP);
        return int(set ? set.readInt32LE(0) : (connectionSide(vs, kernel)?.windowClamp ?? 0));
      },
      set: (vs, val) => {
        const v = val.readInt32LE(0);
        if (v === 0 && (connectionTcpState(vs) === "CLOSE" || peerReset(vs))) return vs.opts.setInt(IPPROTO_TCP, TCP_WINDOW_CLAMP, 0);
        if (v === 0) throw new SyscallError(E.EINVAL, "TCP_WINDOW_CLAMP 0 on a connection");
        vs.opts.setInt(IPPROTO_TCP, TCP_WINDOW_CLAMP, v < SOCK_MIN_RCVBUF / 2 ? SOCK_MIN_RCVBUF / 2 : v);
      },
    },
  ],
]);

/**
 * The setsockopts the addon answers itself on a connection (native.fastSetsockopt, seccomp
 * platform): options TCP servers and clients set on every connection (redis: four per accepted
 * one; Go: TCP_NODELAY and keep-alive on every conn), which on a socketpair end only record a
 * value for getsockopt. A trapped one cost the sentry's thread 10-18 µs of JS; answered in the
 * addon, redis-benchmark -k 0 does more requests (docs/architecture.md). The checks are the
 * specs' own: optlen 4 and a value in `valid`; anything else still reaches sysSetsockopt.
 */
const FAST_TCP_OPTS = [TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT];

/** native.fastSetsockopt.configure's rules: [level, name, min, max] per FAST_TCP_OPTS entry. */
export function fastSetsockoptRules(): Int32Array {
  return Int32Array.from(
    FAST_TCP_OPTS.flatMap((name) => {
      const valid = TCP_OPTS.get(name)?.valid;
      if (!valid) throw new Error(`TCP option ${name} has no valid range for the fast path`);
      return [IPPROTO_TCP, name, valid[0], valid[1]];
    }),
  );
}

/**
 * Records what the addon answered since the last call (`sets`: [ino, name, value] triples) as
 * sysSetsockopt would have: before any other call is handled, so a later getsockopt reads it.
 * A connection forgotten meanwhile is skipped.
 */
export function applyFastSetsockopts(stack: SocketStack, sets: BigInt64Array): void {
  for (let i = 0; i + 2 < sets.length; i += 3) {
    const vs = stack.find(BigInt.asUintN(64, sets[i]!));
    if (!vs || vs.state === "listening") continue;
    TCP_OPTS.get(Number(sets[i + 1]))?.set?.(vs, int(Number(sets[i + 2])));
  }
}

/** IPPROTO_IPV6 on AF_INET6 sockets (net/ipv6/ipv6_sockglue.c). */
const IPV6_OPTS = new Map<number, OptSpec>([
  [
    IPV6_V6ONLY,
    {
      get: (vs) => int(vs.v6only ? 1 : 0),
      // do_ipv6_setsockopt: EINVAL once the socket has a port (inet_num), as every connection has.
      set: () => {
        throw new SyscallError(E.EINVAL, "IPV6_V6ONLY after bind");
      },
    },
  ],
]);

interface Level {
  opts: Map<number, OptSpec>;
  lenRule: LenRule;
}

/**
 * The option tables a vsocket of this family answers, or null for a level TCP does not know.
 * Length rules: sk_getsockopt rejects a negative optlen, and so do do_tcp_getsockopt and
 * do_ip_getsockopt since the "fix incorrect parameter validation" commits (Linux 6.6); IPv6
 * still compares it unsigned.
 */
function levelOf(family: InetFamily, level: number): Level | null {
  switch (level) {
    case SOL_SOCKET:
      return { opts: SOCKET_OPTS, lenRule: "signed" };
    case IPPROTO_TCP:
      return { opts: TCP_OPTS, lenRule: "signed" };
    case IPPROTO_IPV6:
      return family === AF_INET6 ? { opts: IPV6_OPTS, lenRule: "unsigned" } : null;
    case IPPROTO_IP:
      return { opts: new Map(), lenRule: "signed" };
    default:
      return null;
  }
}

/**
 * getsockopt's errno for a level levelOf does not know: tcp_getsockopt hands other levels to the
 * address family, whose do_ip_getsockopt answers EOPNOTSUPP (AF_INET), while ipv6_getsockopt
 * answers ENOPROTOOPT (AF_INET6). setsockopt is ENOPROTOOPT for both.
 */
function unknownLevelGetErrno(vs: VirtualSocket): number {
  return vs.family === AF_INET6 ? E.ENOPROTOOPT : E.EOPNOTSUPP;
}

/** The bytes and length getsockopt answers for `len` bytes of room, per the level's clamping. */
function clampLen(rule: LenRule, len: number, full: number): number {
  if (rule === "signed") {
    if (len < 0) throw new SyscallError(E.EINVAL, "negative optlen");
    return Math.min(len, full);
  }
  return Math.min(len >>> 0, full);
}

function write(task: Task, optval: bigint, optlenPtr: bigint, data: Buffer, n: number): void {
  if (n > 0) task.writeMemory(optval, data.subarray(0, n));
  task.writeMemory(optlenPtr, int(n));
}

/**
 * implements getsockopt(2) (net/socket.c __sys_getsockopt; sk_getsockopt, do_tcp_getsockopt,
 * do_ipv6_getsockopt): EFAULT for a bad optlen or optval, EINVAL for a negative optlen at
 * SOL_SOCKET, ENOPROTOOPT for an option never known or set; the answer is truncated to optlen,
 * and optlen set to what was written.
 */
export const sysGetsockopt: SocketHandler = (stack, task, args) => {
  const vs = withFd(stack, task, args[0], ({ vs, dup }) => {
    // What the end shows of the peer first (its FIN, its close): TCP_INFO's state follows it,
    // and a peer in another pod is seen no other way (no close watch of ours on its end).
    if (vs?.isConnection) observePeer(vs, dup);
    return vs ?? null;
  });
  if (!vs || vs.state === "listening") return CONTINUE; // kernel sockets answer for themselves
  const level = argInt(args[1]);
  const name = argInt(args[2]);
  if (kernelReads(level, name)) return CONTINUE;
  const lvl = levelOf(vs.family, level);
  if (!lvl) return { kind: "errno", errno: unknownLevelGetErrno(vs) };
  const len = readLen(task, args[4]);
  if (!task.stillPending()) return INTERRUPTED;
  // The level checks the length before it looks at the option.
  if (lvl.lenRule === "signed" && len < 0) return { kind: "errno", errno: E.EINVAL };
  const spec = lvl.opts.get(name);
  let data: Buffer;
  if (spec?.get) {
    data = spec.get(vs, len, stack.kernel, task);
  } else {
    const stored = vs.opts.get(level, name);
    if (stored) data = stored;
    // Linux's default, with the app's room: the option's own length rules (TCP_CONGESTION's
    // 16-byte name, an unbound SO_BINDTODEVICE's none, 4 for an int) come with it.
    else if (stack.kernel) {
      const kernel = stack.kernel;
      data = asApp(() => kernel.probeBytes(vs.family, level, name, Math.min(Math.max(len, 0), MAX_OPTION_LEN)));
    }
    else return { kind: "errno", errno: E.ENOPROTOOPT };
  }
  write(task, args[3], args[4], data, clampLen(lvl.lenRule, len, data.length));
  return ret(0);
};

/**
 * implements setsockopt(2) (net/socket.c __sys_setsockopt; sk_setsockopt and do_tcp_setsockopt:
 * EINVAL if optlen < sizeof(int), EFAULT for a bad optval; do_ipv6_setsockopt; ENOPROTOOPT for
 * read-only options and other levels). Unknown options of known levels are recorded as given.
 */
export const sysSetsockopt: SocketHandler = (stack, task, args) =>
  withFd(stack, task, args[0], ({ vs, dup, ino }) => {
    if (vs?.isConnection) {
      return kernelAnswers(argInt(args[1]), argInt(args[2])) ? CONTINUE : setConnectionOpt(stack, task, vs, dup, args);
    }
    const family = vs?.family ?? kernelTcpSocket(dup);
    if (family === null) return CONTINUE;
    // A listener's queued connections were made with the options it had then.
    if (vs) stack.keepQueuedOptions(vs, dup);
    if (vs && argInt(args[1]) === IPPROTO_TCP && argInt(args[2]) === TCP_DEFER_ACCEPT) return setDeferAccept(vs, task, args);
    return setKernelOpt(stack, task, { family, dup, ino, listener: vs }, args);
  });

/**
 * setsockopt on a kernel TCP socket (unconnected, or a listener): the kernel's own call on the
 * sentry's duplicate (its checks and errno), and an option a connection keeps answering is
 * recorded (a later connection or an accepted socket inherits it). Other options are the
 * kernel's alone (CONTINUE).
 */
function setKernelOpt(
  stack: SocketStack,
  task: Task,
  sock: { family: InetFamily; dup: number; ino: bigint; listener: VirtualSocket | undefined },
  args: readonly bigint[],
): Outcome {
  const level = argInt(args[1]);
  const name = argInt(args[2]);
  const optlen = argInt(args[4]);
  const lvl = levelOf(sock.family, level);
  const spec = lvl?.opts.get(name);
  if (!spec) {
    // Not emulated: the kernel runs it (its checks, the app's privileges); a connection of this
    // socket reads the value back from it. Those it carries itself are copied anyway.
    if (lvl && !kernelReads(level, name)) noteKernelSet(stack, sock, level, name);
    return CONTINUE;
  }
  if (!spec.set || optlen < 0) return CONTINUE;
  let val: Buffer;
  try {
    val = optlen === 0 ? Buffer.alloc(0) : task.readMemory(args[3], Math.min(optlen, spec.size ?? SIZEOF_INT));
  } catch {
    return CONTINUE; // EFAULT: the kernel says it
  }
  if (!task.stillPending()) return INTERRUPTED;
  asApp(() => native.setsockoptBuf(sock.dup, level, name, val));
  if (sock.listener) sock.listener.opts.set(level, name, val);
  else stack.recordKernelOpt(sock.ino, level, name, val);
  return ret(0);
}

/** Notes an option the kernel sets on `sock` at the app's word (SocketStack.noteKernelOpt, noteListenerOpt). */
function noteKernelSet(stack: SocketStack, sock: { ino: bigint; listener: VirtualSocket | undefined }, level: number, name: number): void {
  // TCP_QUICKACK is the delayed-ACK state, which connect and listen start afresh
  // (inet_csk_delack_init): a connection reads a new one's.
  if (level === IPPROTO_TCP && name === TCP_QUICKACK) return;
  const note = (l: number, n: number): void => (sock.listener ? stack.noteListenerOpt(sock.listener, l, n) : stack.noteKernelOpt(sock.ino, l, n));
  note(level, name);
  // ip_setsockopt(IP_TOS) sets sk_priority too (rt_tos2priority).
  if (level === IPPROTO_IP && name === IP_TOS) note(SOL_SOCKET, SO_PRIORITY);
}

/** TCP_DEFER_ACCEPT on a listener: the kernel's, and the sentry's doorbells follow it. */
function setDeferAccept(listener: VirtualSocket, task: Task, args: readonly bigint[]): Outcome {
  try {
    if (argInt(args[4]) >= SIZEOF_INT) listener.deferAcceptSecs = Math.max(0, task.readMemory(args[3], SIZEOF_INT).readInt32LE(0));
  } catch {
    /* EFAULT: the kernel says it */
  }
  return CONTINUE;
}

/** setsockopt on a connection (socketpair): emulated per the tables above. */
function setConnectionOpt(stack: SocketStack, task: Task, vs: VirtualSocket, dup: number, args: readonly bigint[]): Outcome {
  const level = argInt(args[1]);
  const name = argInt(args[2]);
  const optval = args[3];
  const optlen = argInt(args[4]);
  const lvl = levelOf(vs.family, level);
  if (!lvl) return { kind: "errno", errno: E.ENOPROTOOPT };
  const spec = lvl.opts.get(name);
  if (spec && !spec.set) return { kind: "errno", errno: E.ENOPROTOOPT };
  let val: Buffer;
  if (spec) {
    const size = spec.size ?? SIZEOF_INT;
    if (level === IPPROTO_IPV6 && optlen < SIZEOF_INT) {
      // do_ipv6_setsockopt reads nothing for a short optlen; the option then says EINVAL.
      return { kind: "errno", errno: E.EINVAL };
    }
    if (optlen < size) return { kind: "errno", errno: E.EINVAL };
    val = task.readMemory(optval, size);
  } else {
    // sk_setsockopt and do_tcp_setsockopt check optlen before looking at the option.
    const min = level === SOL_SOCKET || level === IPPROTO_TCP ? SIZEOF_INT : 0;
    if (optlen < min) return { kind: "errno", errno: E.EINVAL };
    val = optlen === 0 ? Buffer.alloc(0) : task.readMemory(optval, Math.min(optlen, MAX_OPTION_LEN));
  }
  if (!task.stillPending()) return INTERRUPTED;
  // The peer's close or reset as its end shows it now (a CLOSE connection takes what a live one refuses).
  observePeer(vs, dup);
  // An option not emulated is recorded as Linux reads it back after taking it.
  if (!spec && stack.kernel && val.length === SIZEOF_INT) val = stack.kernel.probeOption(vs.family, level, name, val.readInt32LE(0)) ?? val;
  if (spec) spec.set!(vs, val);
  else vs.opts.set(level, name, val);
  // A receive on the socketpair end waits for SO_RCVLOWAT bytes as TCP's does
  // (unix_stream_read_generic's target is sock_rcvlowat, as tcp_recvmsg's); the end takes the
  // value TCP kept (tcp_set_rcvlowat's clamp). Readiness is not held back (unix_poll ignores it).
  if (level === SOL_SOCKET && name === SO_RCVLOWAT && val.length === SIZEOF_INT) native.setsockoptInt(dup, SOL_SOCKET, SO_RCVLOWAT, val.readInt32LE(0));
  return ret(0);
}
