// tsor resume: thaw a paused container.
import type { Command } from "commander";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("resume")
    .argument("<container-id>")
    .description("resume all processes of a paused container")
    .action(async (id: string, _f: unknown, cmd: Command) => await runtimeFor(cmd).resume(id));
}
