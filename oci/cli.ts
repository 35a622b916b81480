// Shared CLI plumbing: global options, the error type every verb throws, and exit handling.
import type { Command } from "commander";

/** Global flags, as runc takes them (before the verb). */
export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
  systemdCgroup: boolean;
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
