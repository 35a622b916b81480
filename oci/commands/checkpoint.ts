// tsor checkpoint: runc saves a container with CRIU; tsor has no CRIU integration (the sentry's
// state and the virtual sockets could not be restored), so the verb exists only to say so.
import type { Command } from "commander";
import { registerUnsupported } from "./common.js";

export const CHECKPOINT_UNSUPPORTED = "it has no CRIU integration, so containers cannot be checkpointed or restored";

export function register(program: Command): void {
  registerUnsupported(program, "checkpoint", "checkpoint a running container", CHECKPOINT_UNSUPPORTED);
}
