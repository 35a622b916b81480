// tsor restore: the other half of checkpoint (runc restores from CRIU images); not supported.
import type { Command } from "commander";
import { registerUnsupported } from "./common.js";
import { CHECKPOINT_UNSUPPORTED } from "./checkpoint.js";

export function register(program: Command): void {
  registerUnsupported(program, "restore", "restore a container from a previous checkpoint", CHECKPOINT_UNSUPPORTED);
}
