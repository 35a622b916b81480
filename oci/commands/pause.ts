// tsor pause: freeze every process of the container (cgroup freezer).
import type { Command } from "commander";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("pause")
    .argument("<container-id>")
    .description("suspend all processes of a container")
    .action(async (id: string, _f: unknown, cmd: Command) => await runtimeFor(cmd).pause(id));
}
