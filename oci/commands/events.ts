// tsor events: cgroup statistics (and OOM events) of a container as JSON lines (runc events).
import type { Command } from "commander";
import { runtimeFor } from "./common.js";
import { parseDuration, streamEvents } from "../events.js";

export function register(program: Command): void {
  program
    .command("events")
    .argument("<container-id>")
    .description("display container events such as OOM notifications, cpu, memory, and IO usage statistics")
    .option("--interval <duration>", "set the stats collection interval", "5s")
    .option("--stats", "display the container's stats then exit")
    .action(async (id: string, f: { interval: string; stats?: boolean }, cmd: Command) => {
      await streamEvents(runtimeFor(cmd), id, {
        stats: Boolean(f.stats),
        intervalMs: parseDuration(f.interval),
        write: (line) => process.stdout.write(line),
      });
    });
}
