// Root filesystems made of this host's files: busybox-static for /bin/sh and the usual tools,
// plus dynamically linked programs with every library `ldd` names and the dynamic loader, each at
// its host path. The one place for it: `make image` (image/build.ts) and the tests' bundles and
// imported images (test/lib/bundle.ts, test/lib/hostimage.ts) use it.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const BUSYBOX = "/bin/busybox";

/** The applets a test rootfs links to busybox (a short list keeps `ls /bin` readable). */
export const BUSYBOX_APPLETS = [
  "sh", "echo", "cat", "ls", "sleep", "id", "hostname", "mount", "ps", "true", "false", "env",
  "pwd", "touch", "mkdir", "wc", "kill", "grep", "readlink", "stat", "head", "tty", "test",
  "rm", "ln", "sed", "tr", "cut", "ip", "sysctl", "printf", "stty", "umount", "nc", "wget",
  "httpd", "dd", "md5sum", "seq", "date", "uname", "chmod",
];

/** Every applet this host's busybox has (`busybox --list`). */
export function allBusyboxApplets(): string[] {
  const r = spawnSync(BUSYBOX, ["--list"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${BUSYBOX} --list failed (is busybox-static installed?): ${r.stderr ?? r.error?.message}`);
  return r.stdout.split("\n").filter((a) => a && a !== "busybox");
}

/** A minimal rootfs in `rootfs`: /bin/busybox (static) with `applets` linked to it, root in /etc/passwd. */
export function makeBusyboxRootfs(rootfs: string, applets: string[] = BUSYBOX_APPLETS): void {
  for (const d of ["bin", "proc", "dev", "sys", "tmp", "etc", "root", "mnt"]) {
    fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  }
  fs.copyFileSync(BUSYBOX, path.join(rootfs, "bin", "busybox"));
  fs.chmodSync(path.join(rootfs, "bin", "busybox"), 0o755);
  for (const a of applets) fs.symlinkSync("busybox", path.join(rootfs, "bin", a));
  fs.writeFileSync(path.join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  fs.writeFileSync(path.join(rootfs, "etc", "group"), "root:x:0:\n");
}

/** The absolute paths `ldd` resolves for `bin` (libraries and the loader; not the vDSO). */
export function sharedLibraries(bin: string): string[] {
  const r = spawnSync("ldd", [bin], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ldd ${bin}: ${r.stderr ?? r.error?.message}`);
  const libs: string[] = [];
  for (const line of r.stdout.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) libs.push(m[1]!);
  }
  if (libs.length === 0) throw new Error(`ldd ${bin} named no library: is it static?\n${r.stdout}`);
  return libs;
}

/** Copies the file behind `src` (links followed) to the same path under `rootfs`. */
function copyAtHostPath(rootfs: string, src: string): void {
  const dst = path.join(rootfs, src);
  if (fs.existsSync(dst)) return;
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.copyFileSync(fs.realpathSync(src), dst);
  fs.chmodSync(dst, fs.statSync(src).mode & 0o7777);
}

/** Adds the libraries (and loader) the programs or shared objects `files` need, at their host paths. */
export function addSharedLibraries(rootfs: string, files: string[]): void {
  for (const file of files) for (const lib of sharedLibraries(file)) copyAtHostPath(rootfs, lib);
}

/**
 * Adds the host programs `bins` (absolute paths) at their host paths, with their libraries. A
 * program is copied under its own name, not its link target's: redis-server is a link to
 * redis-check-rdb and picks its role from argv[0]. No ld.so.cache is needed: the loader
 * searches the multiarch directories the libraries keep.
 */
export function addHostPrograms(rootfs: string, bins: string[]): void {
  for (const bin of bins) copyAtHostPath(rootfs, bin);
  addSharedLibraries(rootfs, bins);
}
