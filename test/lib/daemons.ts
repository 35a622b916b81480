// Teardown shared by the tests that run their own dockerd or containerd in a temp dir: stop the
// daemon, kill what it left (its shims, their containers' sentries) — found by the temp dir on
// their command lines, never by name (other daemons may run) — and lazily unmount the dir.
import { spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";

/** Pids (other than ours and `except`) whose command line mentions `dir`. */
export function processesMentioning(dir: string, except: number[] = []): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || except.includes(pid)) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** SIGTERM the daemon, SIGKILL after `graceMs`, and wait for it. */
export async function stopDaemon(daemon: ChildProcess | undefined, graceMs = 15_000): Promise<void> {
  if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise<void>((r) => daemon.once("exit", () => r()));
  daemon.kill("SIGTERM");
  const timer = setTimeout(() => daemon.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Kill every process mentioning `dir` (twice: a dying shim may start a last helper). */
export async function killMentioning(dir: string): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (const pid of processesMentioning(dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Lazily unmount everything mounted at or under `dir`, deepest first. */
export function unmountUnder(dir: string): void {
  const mounts = fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync("umount", ["-l", m]);
}
