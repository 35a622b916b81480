// tsor exec: run a new process inside a running container (runc exec's flags).
import type { Command } from "commander";
import { execInContainer } from "../exec.js";
import { UserError } from "../cli.js";
import { parseCount, runtimeFor } from "./common.js";

/** runc exec exits 255 when the process could not be run at all (unknown id, stopped container...). */
const EXEC_FAILED = 255;

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  program
    .command("exec")
    .argument("<container-id>")
    .passThroughOptions()
    .argument("[command...]", "command and arguments")
    .option("-p, --process <file>", "path to a process.json")
    .option("-t, --tty", "allocate a pseudo-TTY")
    .option("--cwd <dir>", "current working directory in the container")
    .option("-e, --env <KEY=VALUE>", "set an environment variable (repeatable)", collect, [] as string[])
    .option("-u, --user <uid[:gid]>", "user to run as")
    .option("-g, --additional-gids <gid>", "additional gid (repeatable)", (v: string, p: number[]) => [...p, parseCount(v)], [] as number[])
    .option("-c, --cap <cap>", "add a capability (repeatable)", collect, [] as string[])
    .option("--no-new-privs", "set no_new_privs for the process")
    .option("-d, --detach", "detach from the process")
    .option("--pid-file <path>", "file to write the process id to")
    .option("--console-socket <path>", "unix socket that receives the pty master")
    .option("--preserve-fds <n>", "pass N additional file descriptors to the process", parseCount, 0)
    .description("execute a new process inside a container")
    .action(async (id: string, command: string[], f: ExecFlags, cmd: Command) => {
      const run = execInContainer(runtimeFor(cmd), {
        id,
        processFile: f.process,
        args: command,
        tty: Boolean(f.tty),
        cwd: f.cwd,
        env: f.env,
        user: f.user,
        additionalGids: f.additionalGids,
        caps: f.cap,
        noNewPrivs: f.newPrivs === false,
        detach: Boolean(f.detach),
        pidFile: f.pidFile,
        consoleSocket: f.consoleSocket,
        preserveFds: f.preserveFds,
      });
      process.exitCode = await run.catch((e: unknown) => {
        throw new UserError(e instanceof Error ? e.message : String(e), EXEC_FAILED);
      });
    });
}

interface ExecFlags {
  process?: string;
  tty?: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: number[];
  cap: string[];
  newPrivs?: boolean;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
}
