// The install record: what `tsor install` added to which file, so that `tsor uninstall` takes
// out exactly that and nothing else. One JSON file (default /var/lib/tsor/install.json).
import * as fs from "node:fs";
import * as path from "node:path";
import * as z from "zod";
import { UserError } from "../cli.js";

export const DEFAULT_STATE_FILE = "/var/lib/tsor/install.json";

/** What every record holds about the file it edited. */
const FileRecord = z.object({
  file: z.string(),
  /** The topmost directory made for a new file, removed on uninstall when empty. */
  createdDir: z.string().nullable(),
  /** The copy of the file written before this install changed it (null: none was needed). */
  backup: z.string().nullable(),
  /**
   * The file before tsor touched it: its hash ("absent": install created it) and backup. While the
   * file is still exactly as install left it, uninstall puts this back byte for byte. Null when
   * it is not known (an install over an earlier one in an edited file).
   */
  original: z.object({ sha256: z.string(), backup: z.string().nullable() }).nullable(),
  installedSha256: z.string(),
  installedAt: z.string(),
});

export const DockerRecord = FileRecord.extend({
  entry: z.object({ path: z.string(), runtimeArgs: z.array(z.string()) }),
  /** The `runtimes` object did not exist before. */
  createdRuntimes: z.boolean(),
  /** The runtimes.tsor that --force replaced (restored on uninstall), else null. */
  previous: z.unknown().nullable(),
});
export type DockerRecord = z.infer<typeof DockerRecord>;

export const ContainerdRecord = FileRecord.extend({
  version: z.union([z.literal(2), z.literal(3)]),
  binaryName: z.string(),
  /** The exact text appended to the file (leading separator, delimited block). */
  inserted: z.string(),
  /** Text of tsor handler tables that --force took out (put back on uninstall). */
  removed: z.array(z.string()),
});
export type ContainerdRecord = z.infer<typeof ContainerdRecord>;

const InstallState = z.object({
  version: z.literal(1),
  docker: DockerRecord.optional(),
  containerd: ContainerdRecord.optional(),
});
export type InstallState = z.infer<typeof InstallState>;

export function loadState(file: string): InstallState {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1 };
    throw new UserError(`${file}: cannot read the install record: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: the install record is not JSON (${(e as Error).message}); fix or remove it`);
  }
  const r = InstallState.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UserError(`${file}: bad install record at ${issue.path.join(".") || "(top)"}: ${issue.message}; fix or remove it`);
  }
  return r.data;
}

/** Writes the record (atomically); removes the file when no record is left. */
export function saveState(file: string, state: InstallState): void {
  if (!state.docker && !state.containerd) {
    fs.rmSync(file, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o644 });
  fs.renameSync(tmp, file);
}
