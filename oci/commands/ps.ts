// tsor ps: the processes of a container, as runc ps: `ps -ef` (or the given ps options)
// filtered to the container's pids, or the pid list as JSON.
import { spawnSync } from "node:child_process";
import type { Command } from "commander";
import { UserError } from "../cli.js";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("ps")
    .argument("<container-id>")
    .passThroughOptions()
    .argument("[ps-options...]", "options passed to ps(1)", ["-ef"])
    .option("-f, --format <format>", "table or json", "table")
    .description("display the processes running inside a container")
    .action((id: string, psArgs: string[], f: { format: string }, cmd: Command) => {
      const pids = runtimeFor(cmd).pids(id);
      if (f.format === "json") {
        process.stdout.write(JSON.stringify(pids) + "\n");
        return;
      }
      if (f.format !== "table") throw new UserError(`invalid format option: ${f.format}`);
      const ps = spawnSync("ps", psArgs, { encoding: "utf8" });
      if (ps.error) throw new UserError(`ps: ${ps.error.message}`);
      if (ps.status !== 0) throw new UserError(`ps ${psArgs.join(" ")}: ${ps.stderr.trim()}`);
      process.stdout.write(filterPs(ps.stdout, new Set(pids)));
    });
}

/** Keep ps's header and the lines whose PID column is one of `pids`. */
export function filterPs(output: string, pids: Set<number>): string {
  const lines = output.split("\n").filter((l) => l.length > 0);
  const header = lines.shift();
  if (header === undefined) return "";
  const col = header.trim().split(/\s+/).indexOf("PID");
  if (col < 0) throw new UserError("ps output has no PID column");
  const kept = lines.filter((l) => pids.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...kept].join("\n") + "\n";
}
