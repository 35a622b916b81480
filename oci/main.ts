// The tsor CLI: runc's global flags and verbs. Verbs live one per file in oci/commands/ and are
// registered here in groups: the runtime-spec operations, then runc's extras, then tsor's own.
import { Command, CommanderError } from "commander";
import { DEFAULT_ROOT, UserError, globalOptions } from "./cli.js";
import { createLogger } from "./log.js";
import * as create from "./commands/create.js";
import * as start from "./commands/start.js";
import * as state from "./commands/state.js";
import * as kill from "./commands/kill.js";
import * as del from "./commands/delete.js";
import * as run from "./commands/run.js";
import * as exec from "./commands/exec.js";
import * as list from "./commands/list.js";
import * as ps from "./commands/ps.js";
import * as pause from "./commands/pause.js";
import * as resume from "./commands/resume.js";
import * as spec from "./commands/spec.js";
import * as features from "./commands/features.js";
import * as update from "./commands/update.js";
import * as events from "./commands/events.js";
import * as checkpoint from "./commands/checkpoint.js";
import * as restore from "./commands/restore.js";
import * as netd from "./commands/netd.js";
import * as syscalls from "./commands/syscalls.js";
import * as install from "./commands/install.js";
import * as uninstall from "./commands/uninstall.js";

export const VERSION = "0.1.0";

/** runtime-spec operations (runtime.md#operations). */
const SPEC_VERBS = [create, start, state, kill, del];
/** runc's extras. */
const RUNC_VERBS = [run, exec, list, ps, pause, resume, update, events, checkpoint, restore, spec, features];
/** tsor's own. */
const TSOR_VERBS = [netd, syscalls, install, uninstall];

export function buildProgram(): Command {
  const program = new Command("tsor")
    .description("TSoR: an OCI runtime whose sentry owns TCP sockets")
    .version(`tsor version ${VERSION}\nspec: 1.2.0`, "-v, --version")
    .option("--root <dir>", "root directory for container state", DEFAULT_ROOT)
    .option("--log <file>", "log file (default: no log)")
    .option("--log-format <format>", "log format: text or json", "text")
    .option("--debug", "enable debug logging")
    .option("--systemd-cgroup", 'take linux.cgroupsPath as systemd\'s "slice:prefix:name" (driven through cgroupfs, no D-Bus)')
    .option("--report-sentry-pid", "--pid-file gets the sentry's pid (create) or tsor-init's (exec -d), which exit with the process's status: for containerd's runc shim and docker (tsor install sets it)")
    .showHelpAfterError(false)
    // Global flags go before the verb and a verb's flags before its positional arguments, as
    // with runc: `tsor exec ID sh -c 'exit 7'` must hand `-c` to sh, not to exec.
    .enablePositionalOptions()
    .exitOverride();
  for (const verb of [...SPEC_VERBS, ...RUNC_VERBS, ...TSOR_VERBS]) verb.register(program);
  program.hook("preAction", () => {
    const given = program.opts<{ logFormat: string }>().logFormat;
    if (given !== "text" && given !== "json") throw new UserError(`invalid --log-format: ${given} (text or json)`);
  });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? 0 : 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    const code = e instanceof UserError ? e.exitCode : 1;
    try {
      createLogger(globalOptions(program)).error(msg);
    } catch {
      /* logging must not hide the error */
    }
    process.stderr.write(`tsor: ${msg}\n`);
    if (!(e instanceof UserError) && globalOptions(program).debug && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return code;
  }
}
