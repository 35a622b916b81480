// Bundles for tests, the demo and benchmarks: a busybox-static rootfs and runc's default
// config.json. One place, so the suite, `make demo` and `make bench` run the same thing.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const RUNC = "/usr/sbin/runc";
export const BUSYBOX = "/bin/busybox";

export { projectRoot as repoRoot } from "../../native/root.js";
import { projectRoot as repoRoot } from "../../native/root.js";

/** This checkout's tsor launcher. */
export const TSOR = path.join(repoRoot(), "bin", "tsor");

let specTemplate: Record<string, any> | undefined;

/** The config.json `runc spec` writes (runc if installed, else this checkout's tsor). */
export function baseSpec(): Record<string, any> {
  if (!specTemplate) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-spec-"));
    const bin = fs.existsSync(RUNC) ? RUNC : TSOR;
    const r = spawnSync(bin, ["spec"], { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${bin} spec failed: ${r.stderr}`);
    specTemplate = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return structuredClone(specTemplate!);
}

export const BUSYBOX_APPLETS = [
  "sh", "echo", "cat", "ls", "sleep", "id", "hostname", "mount", "ps", "true", "false", "env",
  "pwd", "touch", "mkdir", "wc", "kill", "grep", "readlink", "stat", "head", "tty", "test",
  "rm", "ln", "sed", "tr", "cut", "ip", "sysctl", "printf", "stty", "umount", "nc", "wget",
  "httpd", "dd", "md5sum", "seq", "date", "uname", "chmod",
];

export function makeBusyboxRootfs(rootfs: string): void {
  for (const d of ["bin", "proc", "dev", "sys", "tmp", "etc", "root", "mnt"]) {
    fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  }
  fs.copyFileSync(BUSYBOX, path.join(rootfs, "bin", "busybox"));
  fs.chmodSync(path.join(rootfs, "bin", "busybox"), 0o755);
  for (const a of BUSYBOX_APPLETS) fs.symlinkSync("busybox", path.join(rootfs, "bin", a));
  fs.writeFileSync(path.join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  fs.writeFileSync(path.join(rootfs, "etc", "group"), "root:x:0:\n");
}

/** A busybox bundle in `dir` running `args`, non-interactive; `mutate` has the last word. */
export function makeBusyboxBundle(dir: string, args: string[], mutate?: (c: Record<string, any>) => void): string {
  makeBusyboxRootfs(path.join(dir, "rootfs"));
  const config = baseSpec();
  config.process.terminal = false;
  config.process.args = args;
  mutate?.(config);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  return dir;
}
