// tsor features: the runtime-spec Features structure (runc features), built from oci/known.ts.
import type { Command } from "commander";
import { buildFeatures, formatFeatures } from "../spec/features.js";

export function register(program: Command): void {
  program
    .command("features")
    .description("show the enabled features")
    .action(() => {
      process.stdout.write(formatFeatures(buildFeatures()));
    });
}
