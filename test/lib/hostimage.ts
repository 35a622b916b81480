// A rootfs made of host binaries: the busybox rootfs (bundle.ts) plus chosen dynamically linked
// programs (node, redis-server...) with every library `ldd` names and the dynamic loader, each at
// its host path. For images a test imports (PrivateDockerd.importRootfs) where a bind of the
// host's /usr is not available, as it is to a bundle (hostRo).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBusyboxRootfs } from "./bundle.js";

/** The absolute paths `ldd` resolves for `bin` (libraries and the loader; not the vDSO). */
export function sharedLibraries(bin: string): string[] {
  const r = spawnSync("ldd", [bin], { encoding: "utf8", timeout: 10_000 });
  assert.equal(r.status, 0, `ldd ${bin}: ${r.stderr}`);
  const libs: string[] = [];
  for (const line of r.stdout.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) libs.push(m[1]!);
  }
  assert.ok(libs.length > 0, `ldd ${bin} named no library: is it static?\n${r.stdout}`);
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

/**
 * A busybox rootfs in `rootfs` with the host programs `bins` (absolute paths) and their
 * libraries. A program is copied under its own name, not its link target's: redis-server is a
 * link to redis-check-rdb and picks its role from argv[0]. No ld.so.cache is needed: the loader
 * searches the multiarch directories the libraries keep.
 */
export function makeHostRootfs(rootfs: string, bins: string[]): void {
  makeBusyboxRootfs(rootfs);
  for (const bin of bins) {
    copyAtHostPath(rootfs, bin);
    for (const lib of sharedLibraries(bin)) copyAtHostPath(rootfs, lib);
  }
}
