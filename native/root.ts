// Where this checkout (or installed package) lives: the nearest directory above the running
// module that holds native/addon/binding.gyp. Walking up makes it hold for the tsc output
// (dist/...) and the esbuild bundles (dist/bundle/...) alike. The one place the addon loader,
// the sentry (tsor-init, its own entry), netd's auto-start (bin/tsor) and the tests ask.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MARKER = join("native", "addon", "binding.gyp");

let root: string | undefined;

export function projectRoot(): string {
  if (root) return root;
  const from = dirname(fileURLToPath(import.meta.url));
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, MARKER))) return (root = dir);
    if (dir === dirname(dir)) throw new Error(`tsor: no project root (${MARKER}) above ${from}`);
  }
}

export function projectPath(...parts: string[]): string {
  return join(projectRoot(), ...parts);
}
