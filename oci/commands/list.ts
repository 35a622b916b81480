// tsor list: runc's list (table like runc's tabwriter, json, or ids only with -q).
import type { Command } from "commander";
import { UserError } from "../cli.js";
import { runtimeFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("list")
    .alias("ls")
    .option("-f, --format <format>", "table or json", "table")
    .option("-q, --quiet", "display only container ids")
    .description("list containers started by tsor with the given root")
    .action((f: { format: string; quiet?: boolean }, cmd: Command) => {
      const states = runtimeFor(cmd).list();
      if (f.quiet) {
        for (const s of states) process.stdout.write(s.id + "\n");
        return;
      }
      if (f.format === "json") {
        process.stdout.write(JSON.stringify(states) + "\n");
        return;
      }
      if (f.format !== "table") throw new UserError(`invalid format option: ${f.format}`);
      const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
      for (const s of states) rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || "root"]);
      process.stdout.write(formatTable(rows));
    });
}

/** Columns padded like Go's tabwriter(minwidth 12, padding 3) that runc uses. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(12, ...rows.map((r) => (r[c] ?? "").length + 3)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("") + "\n").join("");
}
