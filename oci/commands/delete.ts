// tsor delete: runtime.md#delete; --force kills a running container first.
import type { Command } from "commander";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("delete")
    .argument("<container-id>")
    .option("-f, --force", "kill the container if it is still running")
    .description("delete a container and everything it holds")
    .action(async (id: string, f: { force?: boolean }, cmd: Command) => {
      await runtimeFor(cmd).delete(id, Boolean(f.force));
    });
}
