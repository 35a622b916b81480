// Integration-test harness: runs the runtime CLI under test (runc or tsor) as a
// black box. Every invocation gets a private --root so a test file never sees
// containers of another file. The suite must pass against runc (STYLE.md item 9).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import assert from "node:assert/strict";
import { RUNC, baseSpec, BUSYBOX_APPLETS, makeBusyboxRootfs, repoRoot } from "../lib/bundle.js";

const DEFAULT_TIMEOUT_MS = 20_000;

export interface Runtime {
  name: string;
  bin: string;
  isRunc: boolean;
}

/** The runtime under test, chosen by TSOR_RUNTIME (`runc`, a path, or default bin/tsor). */
export function runtime(): Runtime {
  const sel = process.env.TSOR_RUNTIME;
  if (sel === "runc") return { name: "runc", bin: RUNC, isRunc: true };
  const bin = sel && sel.length > 0 ? path.resolve(sel) : path.join(repoRoot(), "bin", "tsor");
  return { name: path.basename(bin), bin, isRunc: path.basename(bin) === "runc" };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  timeoutMs?: number;
  /** Data written to the runtime's stdin (otherwise stdin is /dev/null). */
  input?: string;
  /** Extra fds given to the child as fd 3, 4, ... (for --preserve-fds). */
  extraFds?: number[];
  cwd?: string;
  /** Where the runtime's (and a detached container's) stdout goes; default a fresh temp file. */
  stdoutFile?: string;
  /** The runtime's environment (default: the test's). */
  env?: NodeJS.ProcessEnv;
}

/** Every word in `words` (case-insensitive) appears in `text`. */
export function mentions(text: string, ...words: string[]): boolean {
  const low = text.toLowerCase();
  return words.every((w) => low.includes(w.toLowerCase()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined; fails after timeoutMs. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export { baseSpec, BUSYBOX_APPLETS };

export interface BundleOpts {
  args?: string[];
  env?: string[];
  cwd?: string;
  terminal?: boolean;
  /** Root of host dirs bound read-only (/usr + usrmerge symlinks) instead of busybox. */
  hostRo?: boolean;
  /** Last word on the config. */
  mutate?: (config: Record<string, any>) => void;
}

export interface Bundle {
  dir: string;
  rootfs: string;
  config: Record<string, any>;
  /** Rewrites config.json from `config`. */
  write(): void;
}

/** Host /usr bound read-only; /bin, /lib, /lib64, /sbin as on the host (symlink or ro bind). */
function makeHostRoRootfs(rootfs: string, config: Record<string, any>): void {
  for (const d of ["proc", "dev", "sys", "tmp", "usr"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  const binds: string[] = ["/usr"];
  for (const d of ["/bin", "/lib", "/lib64", "/sbin"]) {
    if (!fs.existsSync(d)) continue;
    const st = fs.lstatSync(d);
    if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(d), path.join(rootfs, d));
    else {
      fs.mkdirSync(path.join(rootfs, d));
      binds.push(d);
    }
  }
  for (const d of binds) {
    config.mounts.push({ destination: d, type: "bind", source: d, options: ["rbind", "ro", "nosuid"] });
  }
  config.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"] });
}

export interface Snapshot {
  id: string;
  pid: number;
  cgroupDirs: string[];
  bundle: string;
}

interface CgMount {
  root: string;
  mountpoint: string;
  v2: boolean;
  controllers: string[];
}

function cgroupMounts(): CgMount[] {
  const out: CgMount[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post) continue;
    const f = pre!.split(" ");
    const [fstype, , superOpts] = post.split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push({
      root: f[3]!, mountpoint: f[4]!, v2: fstype === "cgroup2",
      controllers: (superOpts ?? "").split(",").map((o) => o.replace(/^name=/, "")),
    });
  }
  return out;
}

function cgroupLines(pid: number | "self"): { controllers: string[]; path: string }[] {
  const txt = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8");
  return txt.trim().split("\n").map((l) => {
    const [, ctl, p] = l.match(/^\d+:([^:]*):(.*)$/)!;
    return { controllers: ctl!.split(",").filter((c) => c).map((c) => c.replace(/^name=/, "")), path: p! };
  });
}

/** Host directories of the cgroups of `pid` (excluding those the test runner itself is in). */
export function cgroupDirsOf(pid: number): string[] {
  const mounts = cgroupMounts();
  const mine = new Set(cgroupLines("self").map((l) => `${l.controllers.join(",")}:${l.path}`));
  const dirs = new Set<string>();
  for (const l of cgroupLines(pid)) {
    if (mine.has(`${l.controllers.join(",")}:${l.path}`) || l.path === "/") continue;
    const m = mounts.find((m) => (l.controllers.length === 0 ? m.v2 : !m.v2 && l.controllers.every((c) => m.controllers.includes(c))));
    if (!m) continue;
    const rel = m.root === "/" ? l.path : l.path.startsWith(m.root) ? l.path.slice(m.root.length) : undefined;
    if (rel === undefined) continue;
    const dir = path.join(m.mountpoint, rel);
    if (fs.existsSync(dir)) dirs.add(dir);
  }
  return [...dirs];
}

/** Value of a cgroup file of `pid`: v1 `<controller>/<v1File>` or v2 `<v2File>`. */
export function cgroupValue(pid: number, controller: string, v1File: string, v2File: string): string {
  const mounts = cgroupMounts();
  for (const l of cgroupLines(pid)) {
    const v2 = l.controllers.length === 0;
    const m = mounts.find((m) => (v2 ? m.v2 : m.controllers.includes(controller) && l.controllers.includes(controller)));
    if (!m) continue;
    const rel = m.root === "/" ? l.path : l.path.slice(m.root.length);
    const file = path.join(m.mountpoint, rel, v2 ? v2File : v1File);
    if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  }
  throw new Error(`no ${controller} cgroup file for pid ${pid}`);
}

export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // a zombie is not running: its state is the field after the ")"
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Process state letter (R S D T Z ...) from /proc/PID/status. */
export function procState(pid: number): string {
  const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^State:\s+(\S)/m);
  return m ? m[1]! : "?";
}

/**
 * One per test file: a private --root, unique container ids, temp dirs, and cleanup
 * (`delete --force` for every id handed out, then rm -rf of every temp dir).
 */
export class Harness {
  readonly rtm = runtime();
  readonly root: string;
  readonly tmp: string;
  private ids: string[] = [];
  private seq = 0;
  private children: ChildProcess[] = [];

  constructor(readonly label: string) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tsor-it-${label}-`));
    this.root = path.join(this.tmp, "root");
    fs.mkdirSync(this.root, { mode: 0o700 });
  }

  /** A fresh container id, deleted by cleanup(). */
  id(hint = "c"): string {
    const id = `${this.label}-${hint}-${process.pid}-${++this.seq}`;
    this.ids.push(id);
    return id;
  }

  /** A fresh temp dir inside this file's temp area. */
  dir(hint: string): string {
    return fs.mkdtempSync(path.join(this.tmp, `${hint}-`));
  }

  argv(args: string[]): string[] {
    return ["--root", this.root, ...args];
  }

  /** Runs the runtime synchronously with stdout/stderr captured through files (no pipe hang). */
  rt(args: string[], opts: RunOpts = {}): RunResult {
    const outFile = opts.stdoutFile ?? path.join(this.dir("out"), "stdout");
    const errFile = outFile + ".err";
    const out = fs.openSync(outFile, "a");
    const err = fs.openSync(errFile, "w");
    try {
      const r = spawnSync(this.rtm.bin, this.argv(args), {
        cwd: opts.cwd ?? this.tmp,
        env: opts.env ?? process.env,
        input: opts.input,
        stdio: [opts.input !== undefined ? "pipe" : "ignore", out, err, ...(opts.extraFds ?? [])],
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: "SIGKILL",
      });
      if (r.error) throw r.error;
      return {
        code: r.status, signal: r.signal,
        stdout: fs.readFileSync(outFile, "utf8"), stderr: fs.readFileSync(errFile, "utf8"),
      };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  }

  /** Runs the runtime asynchronously (e.g. a foreground `run` killed from another command). */
  rtAsync(args: string[], opts: RunOpts = {}): Promise<RunResult> {
    const outFile = opts.stdoutFile ?? path.join(this.dir("out"), "stdout");
    const errFile = outFile + ".err";
    const out = fs.openSync(outFile, "a");
    const err = fs.openSync(errFile, "w");
    const child = spawn(this.rtm.bin, this.argv(args), {
      cwd: opts.cwd ?? this.tmp, stdio: ["ignore", out, err, ...(opts.extraFds ?? [])],
    });
    this.children.push(child);
    fs.closeSync(out);
    fs.closeSync(err);
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: fs.readFileSync(outFile, "utf8"), stderr: fs.readFileSync(errFile, "utf8") });
      });
    });
  }

  /** `rt` that must exit 0; returns stdout. */
  ok(args: string[], opts: RunOpts = {}): string {
    const r = this.rt(args, opts);
    assert.equal(r.code, 0, `${this.rtm.name} ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  /** Parsed `state <id>`, or undefined if the runtime does not know the id. */
  state(id: string): Record<string, any> | undefined {
    const r = this.rt(["state", id]);
    if (r.code !== 0) return undefined;
    return JSON.parse(r.stdout);
  }

  async waitStatus(id: string, status: string): Promise<Record<string, any>> {
    return waitFor(`${id} to be ${status}`, () => {
      const s = this.state(id);
      return s && s.status === status ? s : undefined;
    });
  }

  /** A bundle with a busybox (or host read-only) rootfs and a config from `runc spec`. */
  bundle(opts: BundleOpts = {}): Bundle {
    const dir = this.dir("bundle");
    const rootfs = path.join(dir, "rootfs");
    fs.mkdirSync(rootfs);
    const config = baseSpec();
    config.process.terminal = opts.terminal ?? false;
    config.process.args = opts.args ?? ["sh", "-c", "true"];
    if (opts.env) config.process.env = opts.env;
    if (opts.cwd) config.process.cwd = opts.cwd;
    config.root.readonly = false;
    if (opts.hostRo) makeHostRoRootfs(rootfs, config);
    else makeBusyboxRootfs(rootfs);
    opts.mutate?.(config);
    const b: Bundle = {
      dir, rootfs, config,
      write: () => fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(b.config, null, 2)),
    };
    b.write();
    return b;
  }

  /**
   * Runs a one-shot container in the foreground and returns its result; the container is
   * deleted afterwards by the runtime (`run` removes it on exit).
   */
  run(b: Bundle, hint = "run", extra: string[] = []): RunResult & { id: string } {
    const id = this.id(hint);
    return { ...this.rt(["run", ...extra, "--bundle", b.dir, id]), id };
  }

  /** `create` (with extra create flags) + `start`; returns the id. */
  createStart(b: Bundle, hint = "c", createFlags: string[] = [], opts: RunOpts = {}): string {
    const id = this.id(hint);
    this.ok(["create", ...createFlags, "--bundle", b.dir, id], opts);
    this.ok(["start", id]);
    return id;
  }

  /** A started long-running container, once its state says running. */
  async started(b: Bundle, hint = "c"): Promise<{ id: string; pid: number }> {
    const id = this.createStart(b, hint);
    const s = await this.waitStatus(id, "running");
    return { id, pid: s.pid };
  }

  /** A started container whose process has exited: its state says stopped. */
  async finished(b: Bundle, hint = "c", createFlags: string[] = [], opts: RunOpts = {}): Promise<{ id: string; state: Record<string, any> }> {
    const id = this.createStart(b, hint, createFlags, opts);
    return { id, state: await this.waitStatus(id, "stopped") };
  }

  /** What must disappear on delete, recorded while the container exists. */
  snapshot(id: string): Snapshot {
    const s = this.state(id);
    assert.ok(s, `state ${id}`);
    const cgroupDirs = s.pid > 0 && pidAlive(s.pid) ? cgroupDirsOf(s.pid) : [];
    // tsor: the sentry's own cgroup (a sibling of the container's) must go too.
    const sentry = this.sentryPid(id);
    if (sentry !== undefined && pidAlive(sentry)) cgroupDirs.push(...cgroupDirsOf(sentry));
    return { id, pid: s.pid, cgroupDirs, bundle: s.bundle };
  }

  /** tsor's sentry of container `id` (its private state); undefined under runc. */
  sentryPid(id: string): number | undefined {
    try {
      const raw = JSON.parse(fs.readFileSync(path.join(this.root, id, "state.json"), "utf8"));
      return typeof raw?.tsor?.sentryPid === "number" ? raw.tsor.sentryPid : undefined;
    } catch {
      return undefined;
    }
  }

  /** After delete: no state, no state dir, no process, no cgroup dirs, no mounts of the bundle. */
  assertNothingLeft(snap: Snapshot): void {
    assert.equal(this.state(snap.id), undefined, `state of ${snap.id} still answers`);
    assert.ok(!fs.existsSync(path.join(this.root, snap.id)), `state dir ${snap.id} left under --root`);
    if (snap.pid > 0) assert.ok(!pidAlive(snap.pid), `process ${snap.pid} of ${snap.id} still alive`);
    for (const d of snap.cgroupDirs) assert.ok(!fs.existsSync(d), `cgroup dir ${d} left`);
    const mi = fs.readFileSync("/proc/self/mountinfo", "utf8");
    assert.ok(!mi.includes(snap.bundle), `mounts referencing ${snap.bundle} left`);
  }

  /** Ids listed by `list -q`. */
  listIds(): string[] {
    return this.ok(["list", "-q"]).split("\n").filter((l) => l.trim() !== "");
  }

  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    const listed = new Set(this.rt(["list", "-q"]).stdout.split("\n"));
    for (const id of this.ids) {
      if (listed.has(id) || fs.existsSync(path.join(this.root, id))) this.rt(["delete", "--force", id]);
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Writes a python3 console-socket receiver; see startConsoleReceiver. */
const CONSOLE_RECEIVER = `
import array, os, socket, sys
sock_path, out_path, feed = sys.argv[1], sys.argv[2], sys.argv[3]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(1)
conn, _ = srv.accept()
fds = array.array("i")
msg, anc, flags, addr = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
for level, typ, data in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
conn.close()
if len(fds) != 1:
    print("no fd received", file=sys.stderr)
    sys.exit(2)
master = fds[0]
if feed:
    os.write(master, feed.encode())
with open(out_path, "wb") as out:
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        out.write(data)
        out.flush()
`;

export interface ConsoleReceiver {
  socket: string;
  /** Resolves with everything read from the pty master once the pty closes. */
  output: Promise<string>;
}

/**
 * Starts a unix-socket server that receives the pty master fd (SCM_RIGHTS) the runtime sends
 * to --console-socket, optionally writes `feed` to it, and collects the terminal output.
 * Node cannot receive fds, so the receiver is a python3 script.
 */
export async function startConsoleReceiver(h: Harness, feed = ""): Promise<ConsoleReceiver> {
  const dir = h.dir("console");
  const script = path.join(dir, "recv.py");
  const sock = path.join(dir, "console.sock");
  const out = path.join(dir, "console.out");
  fs.writeFileSync(script, CONSOLE_RECEIVER);
  const child = spawn("python3", [script, sock, out, feed], { stdio: ["ignore", "ignore", "inherit"] });
  const output = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), DEFAULT_TIMEOUT_MS);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`console receiver exited ${code}`));
      else resolve(fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "");
    });
  });
  output.catch(() => undefined);
  await waitFor("console socket", () => (fs.existsSync(sock) ? true : undefined));
  return { socket: sock, output };
}
