// What the CLI hands a new sentry: everything `tsor create` was told, resolved. Passed as one
// JSON argument so the sentry's command line in `ps` shows which container it serves.
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { PlatformName } from "./platform/platform.js";

/** `--network`: `tsor` traps the socket control calls; `host-kernel` is the plain pass-through (no trap filter). */
export const NETWORK_MODES = ["tsor", "host-kernel"] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

export interface LaunchRequest {
  root: string;
  id: string;
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  noPivot: boolean;
  noNewKeyring: boolean;
  preserveFds: number;
  /** How trapped syscalls reach the sentry; default seccomp. */
  platform?: PlatformName;
  /** Default tsor. */
  network?: NetworkMode;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
}

/** The sentry reports the outcome of create on fd 3 (its "status pipe"), one JSON line. */
export type LaunchResult = { created: number } | { error: string };

/** Fd on which the sentry writes its LaunchResult; preserved fds follow it. */
export const STATUS_FD = 3;

/** The checkout (or installed package) root: dist/sentry/launch.js -> ../.. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export function projectPath(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}

/** tsor-init, built by `make -C native` (TSOR_INIT overrides, for tests of a different build). */
export function tsorInitPath(): string {
  return process.env.TSOR_INIT ?? projectPath("native", "build", "tsor-init");
}
