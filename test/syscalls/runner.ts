// The syscall suite's runner: builds the C programs of test/syscalls and runs one natively (kernel
// TCP in a fresh network namespace) or as the args of a busybox bundle. The outputs of the two
// are compared by test/integration/syscalls.test.ts (STYLE.md item 8).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../lib/bundle.js";

export const SYSCALLS_DIR = path.join(repoRoot(), "test", "syscalls");
export const BUILD_DIR = path.join(SYSCALLS_DIR, "build");

export interface ProgResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Program names (one per test/syscalls/<name>.c), sorted. */
export function programs(): string[] {
  return fs.readdirSync(SYSCALLS_DIR).filter((f) => f.endsWith(".c")).map((f) => f.slice(0, -2)).sort();
}

/** `make -C test/syscalls`; throws with the compiler's output when it fails. */
export function buildPrograms(): void {
  const r = spawnSync("make", ["-C", SYSCALLS_DIR, "-j4", "-s"], { encoding: "utf8", timeout: 300_000 });
  if (r.error) throw new Error(`make -C ${SYSCALLS_DIR}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`make -C ${SYSCALLS_DIR} failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

/** The shell line both runs use: bring lo up, then become the program. */
export function progCommand(binPath: string): string {
  return `ip link set lo up && exec ${binPath}`;
}

/** Runs a built program natively in a fresh network namespace (util-linux unshare). */
export function runNative(prog: string, timeoutMs = 20_000): ProgResult {
  const r = spawnSync("unshare", ["--net", "sh", "-c", progCommand(path.join(BUILD_DIR, prog))], {
    encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL", stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.error) throw new Error(`unshare --net ${prog}: ${r.error.message}`);
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** process.args for a bundle whose rootfs has the program in /bin. */
export function containerArgs(prog: string): string[] {
  return ["sh", "-c", progCommand(`/bin/${prog}`)];
}

/** Copies every built program into `rootfs`/bin. */
export function installPrograms(rootfs: string, progs: string[]): void {
  for (const p of progs) {
    const dst = path.join(rootfs, "bin", p);
    fs.copyFileSync(path.join(BUILD_DIR, p), dst);
    fs.chmodSync(dst, 0o755);
  }
}

/**
 * The runtime's config gets CAP_NET_ADMIN so busybox `ip` can bring lo up: runc's netns comes
 * with lo up already, a runtime that leaves it down must not make every program fail.
 */
export function allowNetAdmin(config: Record<string, any>): void {
  const caps = config.process.capabilities ?? (config.process.capabilities = {});
  for (const set of ["bounding", "effective", "permitted"]) {
    const list: string[] = caps[set] ?? (caps[set] = []);
    if (!list.includes("CAP_NET_ADMIN")) list.push("CAP_NET_ADMIN");
  }
}

/** TSOR_PLATFORMS as a list (empty when unset). */
export function requestedPlatforms(): string[] {
  return (process.env.TSOR_PLATFORMS ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/** Whether `<bin> run --help` offers --platform. */
export function runHasPlatformFlag(bin: string): boolean {
  const r = spawnSync(bin, ["run", "--help"], { encoding: "utf8", timeout: 20_000 });
  return `${r.stdout}${r.stderr}`.includes("--platform");
}

/** A one-line account of a run for assertion messages. */
export function describeRun(r: ProgResult): string {
  const how = r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
  return `${how}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}
