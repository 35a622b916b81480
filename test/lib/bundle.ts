// Bundles for tests, the demo and benchmarks: a busybox-static rootfs and runc's default
// config.json. One place, so the suite, `make demo` and `make bench` run the same thing.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const RUNC = "/usr/sbin/runc";
// The busybox rootfs is image/rootfs.ts's (`make image` builds on it too).
export { BUSYBOX, BUSYBOX_APPLETS, makeBusyboxRootfs } from "../../image/rootfs.js";
import { makeBusyboxRootfs } from "../../image/rootfs.js";

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
