// A private dockerd for tests: its own data-root, exec-root, pid file and socket under a temp
// dir (and its own managed containerd), configured through `tsor install --docker` as a user
// would, with a busybox image imported offline. Several test files start one each; teardown
// kills what it left by the temp dir on command lines (daemons.ts), never by name.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBusyboxRootfs, TSOR } from "./bundle.js";
import { killMentioning, stopDaemon, unmountUnder } from "./daemons.js";

export const DOCKERD = "/usr/sbin/dockerd";
/** The busybox image every private dockerd has. */
export const BUSYBOX_IMAGE = "tsor-bb:test";
/** Every docker command is bounded: a `docker run` that never returns is the bug this guards. */
export const DOCKER_TIMEOUT_MS = 20_000;

export function dockerClient(): string | undefined {
  for (const d of (process.env.PATH ?? "").split(":")) {
    if (d && fs.existsSync(path.join(d, "docker"))) return path.join(d, "docker");
  }
  return undefined;
}

/** Why docker tests cannot run here (for `skip`), or false. */
export function dockerSkipReason(isRunc: boolean): string | false {
  if (isRunc) return "a tsor test (docker with tsor's installer and --report-sentry-pid)";
  if (process.getuid?.() !== 0) return "needs root (dockerd)";
  if (!fs.existsSync(DOCKERD) || !dockerClient()) return "no dockerd/docker (apt-get install docker.io)";
  return false;
}

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface PrivateDockerdOptions {
  /**
   * Added to dockerd's environment, which its containerd, its shims and so tsor's sentries
   * inherit; given the daemon's temp dir, so that paths under it go with it at stop().
   */
  env?: (tmp: string) => Record<string, string>;
}

export class PrivateDockerd {
  readonly tmp: string;
  readonly sock: string;
  private daemon: ChildProcess | undefined;

  /**
   * `config` is merged into daemon.json (the default: no iptables, no bridge, vfs storage).
   * Call start() in `before` and stop() in `after`.
   */
  constructor(
    private readonly config: Record<string, unknown> = {},
    private readonly opts: PrivateDockerdOptions = {},
  ) {
    this.tmp = fs.mkdtempSync("/tmp/tsor-dk-");
    this.sock = path.join(this.tmp, "docker.sock");
  }

  /** The argv of a docker client command against this daemon (for callers that spawn it themselves). */
  command(args: string[]): string[] {
    return [dockerClient()!, "--host", `unix://${this.sock}`, ...args];
  }

  docker(args: string[], timeoutMs = DOCKER_TIMEOUT_MS, input?: string): DockerResult {
    const [bin, ...argv] = this.command(args);
    const r = spawnSync(bin!, argv, {
      encoding: "utf8",
      timeout: timeoutMs,
      killSignal: "SIGKILL",
      input,
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
      throw new Error(`docker ${args.join(" ")}: no answer in ${timeoutMs} ms (stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)})`);
    }
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Runs docker and asserts exit 0; returns stdout. */
  ok(args: string[], timeoutMs = DOCKER_TIMEOUT_MS): string {
    const r = this.docker(args, timeoutMs);
    assert.equal(r.code, 0, `docker ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  async start(): Promise<void> {
    const daemonJson = path.join(this.tmp, "daemon.json");
    fs.writeFileSync(
      daemonJson,
      JSON.stringify({
        "data-root": path.join(this.tmp, "data"),
        "exec-root": path.join(this.tmp, "exec"),
        pidfile: path.join(this.tmp, "docker.pid"),
        hosts: [`unix://${this.sock}`],
        iptables: false,
        bridge: "none",
        "storage-driver": "vfs",
        ...this.config,
      }),
    );
    // Through our installer, as a user would: it adds runtimes.tsor with --report-sentry-pid.
    const inst = spawnSync(TSOR, ["install", "--docker", "--docker-config", daemonJson, "--state-file", path.join(this.tmp, "install.json")], { encoding: "utf8" });
    assert.equal(inst.status, 0, `tsor install failed: ${inst.stderr}`);
    assert.deepEqual(JSON.parse(fs.readFileSync(daemonJson, "utf8")).runtimes.tsor, { path: TSOR, runtimeArgs: ["--report-sentry-pid"] });

    const logPath = path.join(this.tmp, "dockerd.log");
    const log = fs.openSync(logPath, "a");
    const daemon = spawn(DOCKERD, ["--config-file", daemonJson], {
      stdio: ["ignore", log, log],
      env: { ...process.env, ...this.opts.env?.(this.tmp) },
    });
    this.daemon = daemon;
    fs.closeSync(log);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (fs.existsSync(this.sock) && this.docker(["version", "--format", "{{.Server.Version}}"], 5000).code === 0) break;
      if (daemon.exitCode !== null || Date.now() > deadline) {
        throw new Error(`dockerd did not come up: ${fs.readFileSync(logPath, "utf8").slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const rootfs = path.join(this.tmp, "rootfs");
    makeBusyboxRootfs(rootfs);
    this.importRootfs(rootfs, BUSYBOX_IMAGE);
  }

  /** `docker import` of a directory tree as image `tag`. */
  importRootfs(rootfs: string, tag: string): void {
    const tar = spawnSync("sh", ["-c", `tar -C "$1" -c . | "$2" --host "unix://$3" import - "$4"`, "sh", rootfs, dockerClient()!, this.sock, tag], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(tar.status, 0, `docker import failed: ${tar.stderr}`);
  }

  async stop(): Promise<void> {
    await stopDaemon(this.daemon);
    // dockerd's managed containerd and its shims (and their containers' sentries), found by
    // the temp dir on their command lines (never by name alone: other containerds may run).
    await killMentioning(this.tmp);
    unmountUnder(this.tmp);
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
