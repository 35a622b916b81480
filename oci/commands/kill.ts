// tsor kill: runtime.md#kill. SIGNAL is a number, KILL or SIGKILL; default SIGTERM.
import type { Command } from "commander";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("kill")
    .argument("<container-id>")
    .argument("[signal]", "signal to send", "SIGTERM")
    .option("-a, --all", "send the signal to every process of the container")
    .description("send a signal to the container's init process")
    .action(async (id: string, signal: string, f: { all?: boolean }, cmd: Command) => {
      await runtimeFor(cmd).kill(id, signal, Boolean(f.all));
    });
}
