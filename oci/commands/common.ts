// What every verb needs: the Runtime for the global flags, and small shared flag parsers.
import type { Command } from "commander";
import { UserError, globalOptions } from "../cli.js";
import { createLogger } from "../log.js";
import { Runtime } from "../container.js";
import { PLATFORM_NAMES } from "../../sentry/platform/platform.js";
import { NETWORK_MODES } from "../../sentry/launch.js";

export function runtimeFor(cmd: Command): Runtime {
  const g = globalOptions(cmd);
  return new Runtime(g, createLogger(g, { component: "cli", verb: cmd.name() }));
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`invalid count: ${value}`);
  return n;
}

/** Flags shared by `create` and `run` (runc's createFlags). */
export function addCreateFlags(cmd: Command): Command {
  return cmd
    .option("-b, --bundle <dir>", "path to the root of the bundle directory", ".")
    .option("--console-socket <path>", "unix socket that receives the pty master when process.terminal is true")
    .option("--pid-file <path>", "file to write the container process id to")
    .option("--no-pivot", "do not use pivot_root to jail the process inside the rootfs (chroot instead)")
    .option("--no-new-keyring", "do not create a new session keyring for the container")
    .option("--preserve-fds <n>", "pass N additional file descriptors (3..3+N-1) to the container", parseCount, 0)
    .option("--platform <name>", `how socket syscalls reach the sentry (${PLATFORM_NAMES.join(", ")})`, "seccomp")
    .option("--network <mode>", `tsor: the sentry owns TCP sockets; host-kernel: plain kernel sockets, no trap (${NETWORK_MODES.join(", ")})`, "tsor")
    .option("--netd-socket <path>", "tsor-netd's API socket (default: TSOR_NETD_SOCKET, else /run/tsor/netd/default.sock)");
}

/** Commander turns `--no-pivot` into `pivot: false`; map the create flags to CreateOptions. */
export interface CreateFlags {
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  pivot: boolean;
  newKeyring: boolean;
  preserveFds: number;
  platform: string;
  network: string;
  netdSocket?: string;
}

export function createOptions(id: string, f: CreateFlags) {
  return {
    id,
    bundle: f.bundle,
    consoleSocket: f.consoleSocket,
    pidFile: f.pidFile,
    noPivot: f.pivot === false,
    noNewKeyring: f.newKeyring === false,
    preserveFds: f.preserveFds,
    platform: f.platform,
    network: f.network,
    netdSocket: f.netdSocket,
  };
}

/**
 * A runc verb tsor does not implement: registered so that it fails with a clear message and
 * exit 1 whatever flags are given (as runsc refuses features it lacks), not as an unknown verb.
 */
export function registerUnsupported(program: Command, name: string, description: string, why: string): void {
  program
    .command(name)
    .argument("[container-id]")
    .description(`${description} (not supported by tsor)`)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new UserError(`${name} is not supported by tsor: ${why}`);
    });
}
