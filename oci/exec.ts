// implements `exec`: a new process inside a running container. tsor-init in exec mode joins the
// container's namespaces and cgroups and runs the process; it stays the process's parent,
// relays its exit status and forwards signals (native/PLAN.md, "mode exec").
// In a `--network tsor --platform seccomp` container the process is trapped like the first one:
// its trap channel is a connection to the sentry's trap server (sentry/trapserver.ts), which
// serves it with the container's own dispatch and SocketStack. Under `--platform ptrace` exec'd
// processes are not trapped yet (kernel sockets); under `--network host-kernel` never.
import * as fs from "node:fs";
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
import { trapOptions } from "../sentry/platform/index.js";
import { TRAP_SOCKET_NAME } from "../sentry/trapserver.js";
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
  // The trap channel sits right after the preserved fds in tsor-init, as at create.
  const trapFd = connectTrapServer(s);
  let started: ReturnType<typeof spawnTsorInit>;
  try {
    const plan = buildPlan(spec, {
      mode: "exec",
      rootfs: s.rootfs,
      noPivot: false,
      consoleSocket: opts.consoleSocket,
      preserveFds: opts.preserveFds,
      joinNamespaces: s.tsor.namespaces,
      trap: trapFd === undefined ? undefined : trapOptions("seccomp", INIT_FIRST_PRESERVED_FD + opts.preserveFds),
    });
    const preserved = Array.from({ length: opts.preserveFds }, (_, i) => 3 + i);
    started = spawnTsorInit(plan, { preserved, trapFd, detached: opts.detach, terminal: spec.process?.terminal });
  } finally {
    // tsor-init has its own copy (or none: the sentry's platform sees EOF and ends).
    if (trapFd !== undefined) native.closeFd(trapFd);
  }
  const { init, sync } = started;
  createCgroupManager({ id: s.id, cgroupsPath: s.tsor.cgroupsPath }).apply(Number(await sync.expect("hello")));
  sync.send("cgroup");
  const pid = Number(await sync.expect("pid"));
  await sync.expect("ready");
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

/**
 * A connection to the sentry's trap server when the container traps its processes (`--network
 * tsor`, `--platform seccomp`); undefined when it does not. No sentry to serve the trap: the
 * exec fails (an untrapped process would silently miss the container's virtual sockets).
 */
function connectTrapServer(s: ContainerState): number | undefined {
  if (s.tsor.network !== "tsor" || s.tsor.platform !== "seccomp") return undefined;
  const sock = path.join(path.dirname(s.tsor.configPath), TRAP_SOCKET_NAME);
  try {
    return withSocketPath(sock, (usable) => native.unixConnect(usable, SOCK_STREAM));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ECONNREFUSED" ? "the sentry is not serving it" : (e as Error).message;
    throw new UserError(`exec ${s.id}: cannot reach the sentry's trap socket ${sock} (${why}); the process would run untrapped`);
  }
}

/** `code N` / `signal S` (the rest of an `exit` line) as an exit code for our own exit. */
function parseExitLine(rest: string): number {
  const [kind, n] = rest.split(" ");
  const e: ExitStatus = kind === "signal" ? { code: null, signal: Number(n) } : { code: Number(n), signal: null };
  return exitCode(e);
}
