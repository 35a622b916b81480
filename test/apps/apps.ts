// Shared by the app tests (test/integration/apps-*.test.ts): real programs run unmodified in a
// container under $TSOR_RUNTIME, each in its own network namespace with all traffic on loopback.
// A container's process is a shell script that starts the server, waits for it, runs the
// clients, prints what they saw and stops the server, so every run is bounded and self-stopping.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import assert from "node:assert/strict";
import { Harness, type Bundle, type RunResult, waitFor } from "../integration/harness.js";
import { allowNetAdmin, describeRun } from "../syscalls/runner.js";

/** One app run may take this long (the tests stay under ~20 s each). */
export const APP_TIMEOUT_MS = 20_000;

/** Fails (never skips) when a host binary the test needs is missing: scripts/setup.sh installs it. */
export function requireHostBinary(bin: string, pkg: string): void {
  assert.ok(fs.existsSync(bin), `${bin} is missing: install the Debian package ${pkg} (make setup does)`);
}

/** A sh function for app scripts: wait_for WHAT CMD... (also used by the docker tests). */
export const WAIT_FOR_SH = `# wait_for WHAT CMD...: runs CMD every 0.1 s until it succeeds, for 10 s at most
wait_for() {
  what=$1; shift
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 100 ]; then echo "timed out waiting for $what" >&2; exit 1; fi
    sleep 0.1
  done
}
`;

/** The sh prelude of every app script: strict mode, lo up (the container's own netns), a poller. */
const PRELUDE = `set -eu
ip link set lo up
${WAIT_FOR_SH}`;

export interface AppBundleOpts {
  /** Busybox rootfs instead of the host's /usr bound read-only (hostRo). */
  busybox?: boolean;
  /** Files written into the rootfs (path relative to the rootfs). */
  files?: Record<string, string | Buffer>;
  /** Last word on the config. */
  mutate?: (config: Record<string, any>) => void;
}

/**
 * A bundle whose process runs `script` (after PRELUDE) with /bin/sh. The host-binary variant
 * gets /etc/hosts and /etc/passwd of its own (hostRo binds /usr, /bin, /lib... but no /etc).
 * CAP_NET_ADMIN so `ip link set lo up` works in the container's new network namespace.
 */
export function appBundle(h: Harness, script: string, opts: AppBundleOpts = {}): Bundle {
  const b = h.bundle({
    hostRo: !opts.busybox,
    args: ["/bin/sh", "/app.sh"],
    mutate: (c) => {
      allowNetAdmin(c);
      opts.mutate?.(c);
    },
  });
  const files: Record<string, string | Buffer> = {
    "app.sh": PRELUDE + script,
    "etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    ...opts.files,
  };
  for (const [rel, data] of Object.entries(files)) {
    const dst = path.join(b.rootfs, rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.writeFileSync(dst, data);
  }
  return b;
}

/**
 * An nginx configuration for a container (the host's nginx, hostRo rootfs): one worker, runs as
 * root, daemonizes, keeps its pid, log and temp files in /tmp, no access log; `http` holds the
 * caller's servers. Its rootfs needs NGINX_FILES too.
 */
export function nginxConfig(http: string): string {
  return `user root;
worker_processes 1;
daemon on;
pid /tmp/nginx.pid;
error_log /tmp/nginx-error.log warn;
events { worker_connections 1024; use epoll; }
http {
  access_log off;
  client_body_temp_path /tmp/nginx-body;
  proxy_temp_path /tmp/nginx-proxy;
  fastcgi_temp_path /tmp/nginx-fastcgi;
  uwsgi_temp_path /tmp/nginx-uwsgi;
  scgi_temp_path /tmp/nginx-scgi;
${http}
}
`;
}

/** What nginx needs in the rootfs besides its config: `user root` looks the group up. */
export const NGINX_FILES: Record<string, string> = { "etc/group": "root:x:0:\n" };

/** `run` of the bundle in the foreground; it must exit 0 within APP_TIMEOUT_MS. */
export function runApp(h: Harness, b: Bundle, hint: string): RunResult {
  const id = h.id(hint);
  const r = h.rt(["run", "--bundle", b.dir, id], { timeoutMs: APP_TIMEOUT_MS });
  assert.equal(r.code, 0, `${hint} under ${h.rtm.name} (${id}): ${describeRun(r)}`);
  return r;
}

/** The value after `key=` on the output line starting with `tag`, or a failure naming the line. */
export function field(out: string, tag: string, key: string): string {
  const line = out.split("\n").find((l) => l.startsWith(tag));
  assert.ok(line, `no "${tag}" line in the output:\n${out}`);
  const m = line.match(new RegExp(`(?:^|\\s)${key}=(\\S*)`));
  assert.ok(m, `no ${key}= in "${line}"`);
  return m[1]!;
}

/**
 * A named network namespace outside TSoR (`ip netns add`, lo up) for a plain server the
 * container connects to; `remove()` kills what was started in it and deletes it.
 */
export class HostNetns {
  readonly name = `tsor-app-${process.pid}`;
  readonly path = `/run/netns/${this.name}`;
  private children: ChildProcess[] = [];

  constructor() {
    if (fs.existsSync(this.path)) this.ip(["netns", "delete", this.name]);
    this.ip(["netns", "add", this.name]);
    this.ip(["netns", "exec", this.name, "ip", "link", "set", "lo", "up"]);
  }

  private ip(args: string[]): void {
    const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}${r.error?.message ?? ""}`);
  }

  /** Starts `argv` in the netns; resolves once its stdout has printed `ready`. */
  async start(argv: string[], ready: string): Promise<ChildProcess> {
    const child = spawn("ip", ["netns", "exec", this.name, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    await waitFor(`${argv.join(" ")} to print "${ready}" (stderr: ${err})`, () => {
      if (out.includes(ready)) return true;
      if (child.exitCode !== null) throw new Error(`${argv.join(" ")} exited ${child.exitCode}: ${err}`);
      return undefined;
    }, 10_000);
    return child;
  }

  remove(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    if (fs.existsSync(this.path)) spawnSync("ip", ["netns", "delete", this.name], { timeout: 10_000 });
  }
}

/**
 * The `run` flags an app test runs its bundle with: under tsor once per platform (ptrace installs
 * fds by injection, a different path), under runc once.
 */
export function platformRuns(h: Harness): { flags: string[]; where: string }[] {
  const sets = h.rtm.isRunc ? [[]] : [["--platform", "seccomp"], ["--platform", "ptrace"]];
  return sets.map((flags) => ({ flags, where: [h.rtm.name, ...flags].join(" ") }));
}
