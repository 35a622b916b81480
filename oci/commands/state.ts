// tsor state: runtime.md#state, the state JSON as runc prints it.
import type { Command } from "commander";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("state")
    .argument("<container-id>")
    .description("output the state of a container")
    .action((id: string, _f: unknown, cmd: Command) => {
      process.stdout.write(JSON.stringify(runtimeFor(cmd).publicState(id), null, 2) + "\n");
    });
}
