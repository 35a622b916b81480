// How the processes start from the bundles `make build` makes (dist/bundle/): bin/tsor and
// bin/tsor-shim-runtime run the CLI (runCli), and a sentry is spawned as
// `node dist/bundle/launcher.mjs sentry '<LaunchRequest JSON>'` (sentryArgv in sentry/launch.ts).
//
// Each bundle is one CommonJS file compiled through vm.Script with a V8 code cache kept beside
// it: Node 20 has no compile cache for ES modules (module.enableCompileCache is Node 22), and
// compiling was a good part of every `run` and `create` here (busybox, medians of 10-15
// alternating runs: `run` ~175 -> ~155 ms, `create` ~315 -> ~255 ms, the sentry's start
// included). The cache is written by the first process that finds none (or finds it
// rejected: another node, other V8 flags), after its work, so it holds the functions that work
// compiled; it is named after the bundle's size and mtime, so a rebuilt bundle never meets an
// old cache (V8's own check is only the source's length). A tree that cannot be written (an
// installed copy) runs without one.
import * as fs from "node:fs";
import Module, { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as vm from "node:vm";

export interface LoadedBundle {
  /** The bundle's module.exports. */
  readonly exports: Record<string, unknown>;
  /** Whether a code cache was found and V8 took it. */
  readonly cached: boolean;
  /** Writes the code cache unless one was used or written (best effort: none if the tree is read-only). */
  saveCache(): void;
}

/** The code cache's file for `bundle` as it is now (size and mtime in its name). */
export function cacheFileOf(bundle: string): string {
  const st = fs.statSync(bundle);
  return `${bundle}.${st.size}-${Math.trunc(st.mtimeMs)}.v8cache`;
}

/** Runs the CommonJS file `bundle` (a module of its own, as require would) with its code cache. */
export function loadBundle(bundle: string): LoadedBundle {
  const source = fs.readFileSync(bundle, "utf8");
  const cacheFile = cacheFileOf(bundle);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* none yet */
  }
  // No import() in a bundle (test/unit/launcher.test.ts checks the built ones): code from a
  // cache loses vm's dynamic-import hook on Node 20 ("A dynamic import callback was not
  // specified"), and the hook that would serve it is experimental (a warning on stderr). An
  // external ES package is require()d instead (Node >= 20.19).
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const cached = cachedData !== undefined && !script.cachedDataRejected;
  let saved = cached;
  const mod = { exports: {} as Record<string, unknown>, filename: bundle };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, path.dirname(bundle));
  return {
    get exports() {
      return mod.exports;
    },
    cached,
    saveCache() {
      if (saved) return;
      saved = true;
      const tmp = `${cacheFile}.${process.pid}`;
      try {
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        fs.rmSync(tmp, { force: true });
      }
    },
  };
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The CLI with `argv` (after node and the script); exits with its code. */
export async function runCli(argv: string[]): Promise<never> {
  const bundle = loadBundle(path.join(HERE, "tsor.cjs"));
  const main = bundle.exports.main as (argv: string[]) => Promise<number>;
  const code = await main(argv);
  bundle.saveCache();
  process.exit(code);
}

/** A sentry lives as long as its container: its cache is written once it has set the container up. */
const SENTRY_CACHE_DELAY_MS = 2000;

function runSentry(requestJson: string): void {
  const bundle = loadBundle(path.join(HERE, "sentry.cjs"));
  if (!bundle.cached) {
    setTimeout(() => bundle.saveCache(), SENTRY_CACHE_DELAY_MS).unref();
    process.once("exit", () => bundle.saveCache()); // a container that was over sooner
  }
  (bundle.exports.sentryMain as (requestJson: string) => void)(requestJson);
}

/** Whether node was started with this file as its script (as the sentry is). */
function isMainScript(): boolean {
  try {
    return process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (process.argv[2] === "sentry" && isMainScript()) runSentry(process.argv[3] ?? "");
