// tsor syscalls: the sentry's syscall table, printed from the table itself (as runsc syscalls).
import type { Command } from "commander";
import { UserError } from "../cli.js";
import { SYSCALL_TABLE } from "../../sentry/syscalls/table.js";
import { formatTable } from "./list.js";

export function register(program: Command): void {
  program
    .command("syscalls")
    .option("-f, --format <format>", "table or json", "table")
    .description("list the syscalls the sentry traps and how completely it implements each")
    .action((f: { format: string }) => {
      const rows = [...SYSCALL_TABLE].map(([nr, e]) => ({ nr, name: e.name, support: e.support, ...(e.note ? { note: e.note } : {}) }));
      if (f.format === "json") {
        process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
        return;
      }
      if (f.format !== "table") throw new UserError(`invalid format option: ${f.format}`);
      process.stdout.write(formatTable([["NR", "NAME", "SUPPORT", "NOTE"], ...rows.map((r) => [String(r.nr), r.name, r.support, r.note ?? ""])]));
    });
}
