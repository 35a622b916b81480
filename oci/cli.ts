// Shared CLI plumbing: global options, the error type every verb throws, and exit handling.
import type { Command } from "commander";

/** Global flags, as runc takes them (before the verb). */
export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
  systemdCgroup: boolean;
  /**
   * `--report-sentry-pid`: a `--pid-file` names the process that exits with the container's
   * status rather than the container's own process: the sentry for `create`, tsor-init's parent
   * stage for `exec --detach`. For containerd's runc shim (and docker through it): the shim is
   * a child subreaper that learns an exit only by reaping the pid in the pid file, and it can
   * reap only its descendants; the app's parent is the sentry (CLONE_PARENT), so the app is never
   * the shim's to reap, while the sentry (spawned detached by `create`) is reparented to the shim.
   * gVisor's runsc does the same (its pid file names the sandbox process). state.pid stays the
   * app's pid either way. Off by default: runc's semantics (the pid file holds the app's pid).
   */
  reportSentryPid?: boolean;
}

export const DEFAULT_ROOT = "/run/tsor";

/** Read the global options from any (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  let top = cmd;
  while (top.parent) top = top.parent;
  const o = top.opts<Partial<GlobalOptions>>();
  return {
    root: o.root ?? DEFAULT_ROOT,
    log: o.log,
    logFormat: o.logFormat === "json" ? "json" : "text",
    debug: Boolean(o.debug),
    systemdCgroup: Boolean(o.systemdCgroup),
    reportSentryPid: Boolean(o.reportSentryPid),
  };
}

/**
 * A failure the user caused or must act on: printed as one line on stderr, exit code 1
 * (runc prints `ERRO[0000] <message>` and exits 1; we print `tsor: <message>`).
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "UserError";
  }
}

/** Signals a foreground `run` or `exec` passes on to the container's process, as runc's handler does. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

/** Forward those signals to `pid` until the returned function is called. */
export function forwardSignals(pid: number): () => void {
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already exited */
    }
  };
  for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
  return () => {
    for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
  };
}
