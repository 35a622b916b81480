// tsor run: create + start (+ wait, forward signals, delete) — runc's run.
import type { Command } from "commander";
import { forwardSignals } from "../cli.js";
import { exitCode } from "../container.js";
import { addCreateFlags, createOptions, runtimeFor, type CreateFlags } from "./common.js";

export function register(program: Command): void {
  addCreateFlags(program.command("run").argument("<container-id>").description("create and run a container"))
    .option("-d, --detach", "detach from the container's process")
    .action(async (id: string, flags: CreateFlags & { detach?: boolean }, cmd: Command) => {
      const rt = runtimeFor(cmd);
      const pid = await rt.create(createOptions(id, flags), { inProcess: !flags.detach });
      const unforward = flags.detach ? () => {} : forwardSignals(pid);
      try {
        await rt.start(id);
      } catch (e) {
        await rt.delete(id, true);
        throw e;
      }
      if (flags.detach) return;
      const exit = await rt.wait(id);
      unforward();
      await rt.delete(id, true);
      process.exitCode = exitCode(exit);
    });
}
