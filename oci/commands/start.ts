// tsor start: runtime.md#start, runs the user process of a created container.
import type { Command } from "commander";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("start")
    .argument("<container-id>")
    .description("start the user process of a created container")
    .action(async (id: string, _f: unknown, cmd: Command) => {
      await runtimeFor(cmd).start(id);
    });
}
