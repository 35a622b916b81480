// tsor uninstall: undo what tsor install recorded (oci/install/), leaving the rest of each file.
import type { Command } from "commander";
import { DEFAULT_DOCKER_PIDFILE } from "../install/docker.js";
import { uninstall } from "../install/install.js";
import { DEFAULT_STATE_FILE } from "../install/state.js";
import { consoleOutput } from "./install.js";

export function register(program: Command): void {
  program
    .command("uninstall")
    .description("remove what tsor install added (both docker and containerd when neither is named)")
    .option("--docker", "only docker's daemon.json")
    .option("--containerd", "only containerd's config.toml")
    .option("--dry-run", "print the changes as a diff and change nothing")
    .option("--docker-pid-file <path>", "dockerd's pid file, named in the reload hint", DEFAULT_DOCKER_PIDFILE)
    .option("--state-file <path>", "the record tsor install wrote", DEFAULT_STATE_FILE)
    .action((f: { docker?: boolean; containerd?: boolean; dryRun?: boolean; dockerPidFile: string; stateFile: string }) => {
      uninstall({ docker: Boolean(f.docker), containerd: Boolean(f.containerd), dryRun: Boolean(f.dryRun), dockerPidFile: f.dockerPidFile, stateFile: f.stateFile }, consoleOutput);
    });
}
