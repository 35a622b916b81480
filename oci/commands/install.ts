// tsor install: register tsor as docker's `tsor` runtime (daemon.json) and/or containerd's
// `tsor` CRI runtime handler (config.toml). The work is in oci/install/.
import type { Command } from "commander";
import { DEFAULT_CONTAINERD_CONFIG } from "../install/containerd.js";
import { DEFAULT_DOCKER_CONFIG, DEFAULT_DOCKER_PIDFILE } from "../install/docker.js";
import { install, type Output } from "../install/install.js";
import { DEFAULT_STATE_FILE } from "../install/state.js";
import { projectPath } from "../../sentry/launch.js";

interface InstallFlags {
  docker?: boolean;
  containerd?: boolean;
  dryRun?: boolean;
  reload?: boolean;
  force?: boolean;
  dockerConfig: string;
  containerdConfig: string;
  runtimePath?: string;
  runtimeArg: string[];
  dockerPidFile: string;
  stateFile: string;
}

/** stdout for what is done, stderr for warnings: shared with `tsor uninstall`. */
export const consoleOutput: Output = {
  info: (line) => process.stdout.write(line + "\n"),
  warn: (line) => process.stderr.write(line + "\n"),
};

export function register(program: Command): void {
  program
    .command("install")
    .description("register tsor with docker (runtimes.tsor in daemon.json) and/or containerd (CRI runtime handler tsor)")
    .option("--docker", "add the tsor runtime to docker's daemon.json")
    .option("--containerd", "add the tsor runtime handler to containerd's config.toml")
    .option("--dry-run", "print the changes as a diff and change nothing")
    .option("--reload", "send dockerd SIGHUP afterwards (containerd must be restarted by hand)")
    .option("--force", "replace a tsor runtime that is already configured differently")
    .option("--docker-config <path>", "docker's daemon.json", DEFAULT_DOCKER_CONFIG)
    .option("--containerd-config <path>", "containerd's config.toml", DEFAULT_CONTAINERD_CONFIG)
    .option("--runtime-path <path>", "absolute path of the tsor that docker/containerd run (default: this checkout's bin/tsor); containerd runs the tsor-shim-runtime beside it")
    .option("--runtime-arg <arg>", "a global flag docker passes to tsor before the verb, e.g. --runtime-arg=--debug (repeatable)", collect, [])
    .option("--docker-pid-file <path>", "dockerd's pid file, for --reload", DEFAULT_DOCKER_PIDFILE)
    .option("--state-file <path>", "where tsor records what it added, for tsor uninstall", DEFAULT_STATE_FILE)
    .action((f: InstallFlags) => {
      install(
        {
          docker: Boolean(f.docker),
          containerd: Boolean(f.containerd),
          dryRun: Boolean(f.dryRun),
          reload: Boolean(f.reload),
          force: Boolean(f.force),
          dockerConfig: f.dockerConfig,
          containerdConfig: f.containerdConfig,
          runtimePath: f.runtimePath ?? projectPath("bin", "tsor"),
          runtimeArgs: f.runtimeArg,
          dockerPidFile: f.dockerPidFile,
          stateFile: f.stateFile,
        },
        consoleOutput,
      );
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
