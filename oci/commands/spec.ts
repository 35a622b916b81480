// tsor spec: write a default config.json into the bundle (runc spec).
import type { Command } from "commander";
import { writeDefaultSpec } from "../spec/default.js";

export function register(program: Command): void {
  program
    .command("spec")
    .description("create a new specification file (config.json) in the bundle directory")
    .option("-b, --bundle <dir>", "path to the root of the bundle directory", ".")
    .option("--rootless", "generate a configuration for a rootless container")
    .action((flags: { bundle: string; rootless?: boolean }) => {
      writeDefaultSpec(flags.bundle, { rootless: Boolean(flags.rootless) });
    });
}
