// implements `exec`: a new process inside a running container. tsor-init in exec mode joins the
// container's namespaces and cgroups and runs the process; it stays the process's parent,
// relays its exit status and forwards signals (native/PLAN.md, "mode exec").
// In a `--network tsor` container the process is trapped like the first one, through a
// connection to the sentry's trap server (sentry/trapserver.ts), which serves it with the
// container's own dispatch and SocketStack. `--platform seccomp`: the connection is tsor-init's
// trap channel (the filter's listener goes over it). `--platform ptrace`: tsor-init installs the
// trace filter and, once the process is ready and before it starts, we ask the sentry to seize it
// (it must be the tracer before the first trapped call, as for the first process). Under
// `--network host-kernel` nothing is trapped.
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { UserError, forwardSignals } from "./cli.js";
import { exitCode, type Runtime } from "./container.js";
import { publicState } from "./state.js";
import { parseSpec } from "./spec/validate.js";
import type { RuntimeSpec } from "./spec/schema.js";
import { createCgroupManager } from "./cgroups/index.js";
import { buildPlan, INIT_FIRST_PRESERVED_FD } from "../gofer/plan.js";
import { encodeField } from "../gofer/encode.js";
import { spawnTsorInit } from "../sentry/launch.js";
import { writePidFile } from "../sentry/supervisor.js";
import type { ExitStatus } from "../sentry/control.js";
import { trapOptions, type PlatformName } from "../sentry/platform/index.js";
import { SEIZE_OK, SEIZE_REQUEST, TRAP_SOCKET_NAME } from "../sentry/trapserver.js";
import { withSocketPath } from "../sentry/sockpath.js";
import { SOCK_STREAM } from "../sentry/syscalls/linux.js";
import { native } from "../native/index.js";
import type { ContainerState } from "./state.js";

export interface ExecOptions {
  id: string;
  /** A process.json (runtime-spec `process` object); replaces args and the flags below. */
  processFile?: string;
  args: string[];
  tty: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: number[];
  caps: string[];
  noNewPrivs: boolean;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
}

/** The container's config with its process replaced the way runc exec builds it. */
export function execSpec(base: RuntimeSpec, opts: ExecOptions): RuntimeSpec {
  if (opts.processFile) {
    let proc: unknown;
    try {
      proc = JSON.parse(fs.readFileSync(opts.processFile, "utf8"));
    } catch (e) {
      throw new UserError(`--process ${opts.processFile}: ${(e as Error).message}`);
    }
    return parseSpec({ ...base, process: proc });
  }
  if (opts.args.length === 0) throw new UserError("exec: arguments or --process must be given");
  const p = structuredClone(base.process ?? { cwd: "/", args: [], user: { uid: 0, gid: 0 } });
  p.args = opts.args;
  p.terminal = opts.tty;
  if (opts.cwd) p.cwd = opts.cwd;
  p.env = [...(p.env ?? []), ...opts.env];
  if (opts.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(opts.user);
    if (!m) throw new UserError(`--user: expected UID[:GID], got ${opts.user}`);
    p.user = { ...p.user, uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : p.user.gid };
  }
  if (opts.additionalGids.length > 0) p.user = { ...p.user, additionalGids: opts.additionalGids };
  if (opts.caps.length > 0) {
    const c = { ...(p.capabilities ?? {}) };
    for (const set of ["bounding", "effective", "permitted", "inheritable", "ambient"] as const) {
      c[set] = [...new Set([...(c[set] ?? []), ...opts.caps])] as typeof c.bounding;
    }
    p.capabilities = c;
  }
  if (opts.noNewPrivs) p.noNewPrivileges = true;
  return parseSpec({ ...base, process: p });
}

export async function execInContainer(rt: Runtime, opts: ExecOptions): Promise<number> {
  const s = rt.state(opts.id);
  if (s.status !== "running" && s.status !== "created") throw new UserError(`cannot exec in a ${s.status} container: ${opts.id}`);
  const base = parseSpec(JSON.parse(fs.readFileSync(s.tsor.configPath, "utf8")));
  const spec = execSpec(base, opts);
  if (spec.process?.terminal && !opts.consoleSocket) throw new UserError("exec --tty needs --console-socket");
  const platform = trapPlatform(s);
  // seccomp: the trap channel sits right after the preserved fds in tsor-init, as at create.
  const trapFd = platform === undefined ? undefined : connectTrapServer(s);
  const initTrapFd = platform === "seccomp" ? trapFd : undefined;
  let started: ReturnType<typeof spawnTsorInit>;
  try {
    const plan = buildPlan(spec, {
      mode: "exec",
      rootfs: s.rootfs,
      noPivot: false,
      consoleSocket: opts.consoleSocket,
      preserveFds: opts.preserveFds,
      joinNamespaces: s.tsor.namespaces,
      trap: platform === undefined ? undefined : trapOptions(platform, INIT_FIRST_PRESERVED_FD + opts.preserveFds),
    });
    const preserved = Array.from({ length: opts.preserveFds }, (_, i) => 3 + i);
    started = spawnTsorInit(plan, { preserved, trapFd: initTrapFd, detached: opts.detach, terminal: spec.process?.terminal });
  } catch (e) {
    if (trapFd !== undefined && initTrapFd === undefined) native.closeFd(trapFd);
    throw e;
  } finally {
    // tsor-init has its own copy (or none: the sentry's platform sees EOF and ends).
    if (initTrapFd !== undefined) native.closeFd(initTrapFd);
  }
  const { init, sync } = started;
  createCgroupManager({ id: s.id, cgroupsPath: s.tsor.cgroupsPath }).apply(Number(await sync.expect("hello")));
  sync.send("cgroup");
  const pid = Number(await sync.expect("pid"));
  await sync.expect("ready");
  if (platform === "ptrace") {
    try {
      await requestSeize(trapFd!, pid);
    } catch (e) {
      // tsor-init sees EOF instead of `start` and ends without running the process.
      sync.close();
      throw new UserError(`exec ${s.id}: the sentry could not trace the process, which would run untrapped: ${(e as Error).message}`);
    }
  }
  // --report-sentry-pid (oci/cli.ts): tsor-init's parent stage, which exits with the process's
  // status (128+S on a signal). The process itself is P's child, so once we exit a reaper such
  // as containerd's runc shim (a subreaper) inherits P but could never reap the process.
  if (opts.pidFile) writePidFile(opts.pidFile, rt.global.reportSentryPid && opts.detach && init.pid !== undefined ? init.pid : pid);
  sync.send(`start ${encodeField(JSON.stringify(publicState(s)))}`);
  if (opts.detach) {
    init.unref();
    sync.close();
    return 0;
  }
  const unforward = forwardSignals(pid);
  try {
    return parseExitLine(await sync.expect("exit"));
  } finally {
    unforward();
    sync.close();
  }
}

/** The platform that traps the container's processes, or undefined (`--network host-kernel`). */
function trapPlatform(s: ContainerState): PlatformName | undefined {
  if (s.tsor.network !== "tsor") return undefined;
  return s.tsor.platform === "seccomp" || s.tsor.platform === "ptrace" ? s.tsor.platform : undefined;
}

/**
 * A connection to the sentry's trap server. No sentry to serve the trap: the exec fails (an
 * untrapped process would silently miss the container's virtual sockets).
 */
function connectTrapServer(s: ContainerState): number {
  const sock = path.join(path.dirname(s.tsor.configPath), TRAP_SOCKET_NAME);
  try {
    return withSocketPath(sock, (usable) => native.unixConnect(usable, SOCK_STREAM));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ECONNREFUSED" ? "the sentry is not serving it" : (e as Error).message;
    throw new UserError(`exec ${s.id}: cannot reach the sentry's trap socket ${sock} (${why}); the process would run untrapped`);
  }
}

/** ptrace: `seize <pid>` on the trap server connection `fd` (which this closes); resolves on `ok`. */
function requestSeize(fd: number, pid: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = new net.Socket({ fd, readable: true, writable: true });
    let answer = "";
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => (answer += chunk));
    sock.on("error", reject);
    sock.on("close", () => {
      const line = answer.split("\n")[0] ?? "";
      if (line === SEIZE_OK) resolve();
      else reject(new Error(line.replace(/^error /, "") || "the sentry closed the trap socket without an answer"));
    });
    sock.write(`${SEIZE_REQUEST} ${pid}\n`);
  });
}

/** `code N` / `signal S` (the rest of an `exit` line) as an exit code for our own exit. */
function parseExitLine(rest: string): number {
  const [kind, n] = rest.split(" ");
  const e: ExitStatus = kind === "signal" ? { code: null, signal: Number(n) } : { code: Number(n), signal: null };
  return exitCode(e);
}
