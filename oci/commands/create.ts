// tsor create: runtime.md#create. The container waits at the start barrier afterwards.
import type { Command } from "commander";
import { addCreateFlags, createOptions, runtimeFor, type CreateFlags } from "./common.js";

export function register(program: Command): void {
  addCreateFlags(program.command("create").argument("<container-id>").description("create a container"))
    .action(async (id: string, flags: CreateFlags, cmd: Command) => {
      await runtimeFor(cmd).create(createOptions(id, flags));
    });
}
