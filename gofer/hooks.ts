// OCI hooks (runtime-spec config.md#posix-platform-hooks). The runtime side runs prestart,
// createRuntime, poststart and poststop with runHooks; createContainer and startContainer run
// inside the container's namespaces, so they go into the plan as `hook` + `hook_env` lines.
import { spawn } from "node:child_process";
import type { HookName } from "../oci/known.js";
import type { Directive } from "./encode.js";
import { PlanError, type SpecHook } from "./types.js";

/** The hook kinds tsor-init runs; the others run in the runtime with runHooks. */
export const PLAN_HOOKS = ["createContainer", "startContainer"] as const satisfies readonly HookName[];
export type PlanHookName = (typeof PLAN_HOOKS)[number];
export type RuntimeHookName = Exclude<HookName, PlanHookName>;

/** `hook KIND PATH TIMEOUT ARG...` then one `hook_env KEY=VALUE` per env entry, per hook. */
export function hookDirectives(kind: PlanHookName, hooks: readonly SpecHook[] = []): Directive[] {
  return hooks.flatMap((h, i): Directive[] => {
    if (!h.path) throw new PlanError(`hooks.${kind}[${i}].path`, "missing");
    return [["hook", kind, h.path, String(h.timeout ?? 0), ...argv(h)], ...(h.env ?? []).map((e): Directive => ["hook_env", e])];
  });
}

/** argv of a hook: args as given (args[0] is argv[0]); none given means [path], as runc. */
function argv(h: SpecHook): string[] {
  return h.args && h.args.length > 0 ? [...h.args] : [h.path ?? ""];
}

export class HookError extends Error {
  constructor(
    readonly kind: HookName,
    readonly index: number,
    readonly path: string,
    /** What went wrong: `exited with status 1`, `killed by signal SIGTERM`, `timed out after 2s`, `failed to start: ...` */
    readonly reason: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(`${kind} hook #${index} (${path}) ${reason}${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
    this.name = "HookError";
  }
}

export interface RunHooksOptions {
  /** Run every hook even after a failure, then reject with the first error (runc's poststop). */
  keepGoing?: boolean;
  /** Working directory of the hooks (runc: the runtime's own, the bundle). */
  cwd?: string;
}

/** Most stderr characters kept for the error message. */
const MAX_STDERR = 4096;
/** How long to wait, after a hook exits, for the rest of its stderr. */
const STDERR_GRACE_MS = 100;

/**
 * Run `hooks` one after the other, each with exactly its own env and the state JSON on stdin;
 * a hook still running after `timeout` seconds is killed with SIGKILL.
 */
export async function runHooks(kind: HookName, hooks: readonly SpecHook[] = [], state: object, opts: RunHooksOptions = {}): Promise<void> {
  const stdin = JSON.stringify(state);
  let first: HookError | undefined;
  for (const [i, h] of hooks.entries()) {
    try {
      await runHook(kind, i, h, stdin, opts.cwd);
    } catch (err) {
      if (!(err instanceof HookError) || !opts.keepGoing) throw err;
      first ??= err;
    }
  }
  if (first) throw first;
}

function runHook(kind: HookName, index: number, h: SpecHook, stdin: string, cwd: string | undefined): Promise<void> {
  const file = h.path ?? "";
  const [argv0, ...args] = argv(h);
  const env = Object.fromEntries(
    (h.env ?? []).map((e) => {
      const eq = e.indexOf("=");
      return eq === -1 ? [e, ""] : [e.slice(0, eq), e.slice(eq + 1)];
    }),
  );
  return new Promise((resolve, reject) => {
    let stderr = "";
    let timedOut = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (err?: HookError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const fail = (reason: string, code: number | null, signal: NodeJS.Signals | null) =>
      settle(new HookError(kind, index, file, reason, code, signal, stderr));
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (timedOut) fail(`timed out after ${h.timeout}s`, code, signal);
      else if (signal) fail(`killed by signal ${signal}`, code, signal);
      else if (code !== 0) fail(`exited with status ${code}`, code, signal);
      else settle();
    };

    if (!file) return fail("failed to start: no path", null, null);
    const child = spawn(file, args, { argv0, env, cwd, stdio: ["pipe", "ignore", "pipe"] });
    if (h.timeout && h.timeout > 0) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, h.timeout * 1000);
    }
    child.on("error", (err) => fail(`failed to start: ${err.message}`, null, null));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr = (stderr + chunk).slice(0, MAX_STDERR);
    });
    // A hook that exits without reading its stdin makes the write fail with EPIPE: not an error.
    child.stdin!.on("error", () => {});
    child.stdin!.end(stdin);
    // Decide on `exit`, not `close`: a daemon the hook started may hold stderr open for ever.
    // Give the pipe a moment to deliver the hook's last words for the error message.
    child.on("exit", (code, signal) => {
      const grace = setTimeout(() => finish(code, signal), STDERR_GRACE_MS);
      child.on("close", () => {
        clearTimeout(grace);
        finish(code, signal);
      });
    });
  });
}
