// Unix socket paths longer than sun_path: a container's state dir under docker is
// <exec-root>/runtime-tsor/moby/<64-hex id>/ (over 100 bytes already under /var/run/docker), so
// `<dir>/sentry.sock` may not fit. Such a path is reached through an fd on its directory,
// /proc/self/fd/N/<name>, which bind and connect resolve like any path.
import * as fs from "node:fs";
import * as path from "node:path";

/** sun_path is 108 bytes with its NUL. */
const SUN_PATH_MAX = 107;

/**
 * `fn` with a path for `socketPath` that fits sun_path: itself when short enough, else one through
 * an fd on its directory, held open until `fn` (sync, or its promise) settles.
 */
export function withSocketPath<T>(socketPath: string, fn: (usable: string) => T): T {
  if (Buffer.byteLength(socketPath) <= SUN_PATH_MAX) return fn(socketPath);
  const dirFd = fs.openSync(path.dirname(socketPath), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  let result: T;
  try {
    result = fn(`/proc/self/fd/${dirFd}/${path.basename(socketPath)}`);
  } catch (e) {
    fs.closeSync(dirFd);
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => fs.closeSync(dirFd)) as T;
  }
  fs.closeSync(dirFd);
  return result;
}
