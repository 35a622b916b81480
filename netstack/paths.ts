// Where a tsor-netd instance lives. Several netds may run on one machine, told apart by --name:
// each has its API socket /run/tsor/netd/<name>.sock and its state directory /run/tsor/netd/<name>
// (log, pid file). TSOR_NETD_NAME / TSOR_NETD_SOCKET / TSOR_NETD_STATE_DIR set the defaults a
// sentry uses (tests run their own netd this way).
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";

export const NETD_RUN_DIR = "/run/tsor/netd";
export const DEFAULT_NETD_NAME = "default";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface NetdPaths {
  name: string;
  socket: string;
  stateDir: string;
  /** The auto-started daemon's log (`tsor netd --log`). */
  log: string;
  pidFile: string;
}

export function checkNetdName(name: string): string {
  if (!NAME.test(name)) throw new Error(`invalid netd name ${JSON.stringify(name)}: letters, digits, _ . - (at most 64)`);
  return name;
}

/** The paths of netd `name` (default from TSOR_NETD_NAME, else "default"), with overrides. */
export function netdPaths(opts: { name?: string; socket?: string; stateDir?: string } = {}): NetdPaths {
  const env = process.env;
  const name = checkNetdName(opts.name ?? env.TSOR_NETD_NAME ?? DEFAULT_NETD_NAME);
  const socket = resolve(opts.socket ?? (opts.name ? undefined : env.TSOR_NETD_SOCKET) ?? join(NETD_RUN_DIR, `${name}.sock`));
  const stateDir = resolve(opts.stateDir ?? (opts.name ? undefined : env.TSOR_NETD_STATE_DIR) ?? join(NETD_RUN_DIR, name));
  return { name, socket, stateDir, log: join(stateDir, "netd.log"), pidFile: join(stateDir, "netd.pid") };
}

/**
 * The abstract socket a daemon holds while it serves `socket`: the one-instance lock (the kernel
 * frees it when the daemon dies, however it dies).
 */
export function lockName(socket: string): string {
  return `@tsor-netd-${createHash("sha256").update(resolve(socket)).digest("hex").slice(0, 32)}`;
}
