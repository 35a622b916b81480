// tsor run: create + start (+ wait, forward signals, delete) — runc's run.
import type { Command } from "commander";
import { exitCode } from "../container.js";
import { addCreateFlags, createOptions, runtimeFor, type CreateFlags } from "./common.js";

/** Signals a foreground `run` passes on to the container, as runc's signal handler does. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

export function register(program: Command): void {
  addCreateFlags(program.command("run").argument("<container-id>").description("create and run a container"))
    .option("-d, --detach", "detach from the container's process")
    .action(async (id: string, flags: CreateFlags & { detach?: boolean }, cmd: Command) => {
      const rt = runtimeFor(cmd);
      const pid = await rt.create(createOptions(id, flags), { inProcess: !flags.detach });
      const forward = (sig: NodeJS.Signals) => {
        try {
          process.kill(pid, sig);
        } catch {
          /* already exited */
        }
      };
      if (!flags.detach) for (const s of FORWARDED_SIGNALS) process.on(s, forward);
      try {
        await rt.start(id);
      } catch (e) {
        await rt.delete(id, true);
        throw e;
      }
      if (flags.detach) return;
      const exit = await rt.wait(id);
      for (const s of FORWARDED_SIGNALS) process.off(s, forward);
      await rt.delete(id, true);
      process.exitCode = exitCode(exit);
    });
}
