// What `tsor install` and `tsor uninstall` share for the config files they edit: one Change
// (the file's text before and after, null = absent), its unified diff for --dry-run, and
// applying it with a timestamped backup of what it overwrites and an atomic rename.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../cli.js";

/** One file's edit: its text before and after (null: the file does not exist). */
export interface Change {
  file: string;
  before: string | null;
  after: string | null;
}

/** Lines of context around each hunk of a --dry-run diff, as `diff -u`. */
const DIFF_CONTEXT = 3;
/** Above this many line pairs the diff is not minimised (a whole-file -/+ is printed instead). */
const MAX_DIFF_CELLS = 4_000_000;

/** The text of `file`, or null when it does not exist; any other failure names the file. */
export function readConfig(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") return null;
    throw new UserError(`${file}: cannot read: ${err.code ?? err.message}; left unchanged`);
  }
}

export function sha256(text: string | null): string {
  return text === null ? "absent" : createHash("sha256").update(text).digest("hex");
}

/** 2026-01-02T03:04:05.678Z -> 20260102T030405Z, for backup names that sort by time. */
export function timestamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** `<file>.tsor-backup-<timestamp>`, with -1, -2 ... when that name is taken. */
export function backupPath(file: string, now: Date): string {
  const base = `${file}.tsor-backup-${timestamp(now)}`;
  let candidate = base;
  for (let i = 1; fs.existsSync(candidate); i++) candidate = `${base}-${i}`;
  return candidate;
}

export interface Applied {
  /** The backup of the overwritten file, when one was written. */
  backup: string | null;
  /** The topmost directory created for a new file (undone on uninstall when empty). */
  createdDir: string | null;
}

/**
 * Writes `c.after` to `c.file` (or removes the file when after is null). When `backup` is set
 * and an existing file is overwritten, its bytes are first copied beside it. The new text goes
 * to a temporary file in the same directory (same mode and owner as the old file) renamed over
 * the old one, so a reader never sees half a config.
 */
export function applyChange(c: Change, opts: { backup: boolean; now: Date }): Applied {
  const result: Applied = { backup: null, createdDir: null };
  if (c.after === null) {
    fs.rmSync(c.file, { force: true });
    return result;
  }
  const dir = path.dirname(c.file);
  let mode = 0o644;
  let owner: { uid: number; gid: number } | undefined;
  if (c.before === null) {
    result.createdDir = fs.mkdirSync(dir, { recursive: true }) ?? null;
  } else {
    const st = fs.statSync(c.file);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
    if (opts.backup) {
      result.backup = backupPath(c.file, opts.now);
      fs.copyFileSync(c.file, result.backup, fs.constants.COPYFILE_EXCL);
      fs.chmodSync(result.backup, mode);
    }
  }
  const tmp = path.join(dir, `.${path.basename(c.file)}.tsor-${process.pid}`);
  try {
    fs.writeFileSync(tmp, c.after, { mode, flag: "wx" });
    fs.chmodSync(tmp, mode);
    if (owner && process.getuid?.() === 0) fs.chownSync(tmp, owner.uid, owner.gid);
    fs.renameSync(tmp, c.file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new UserError(`${c.file}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return result;
}

/** Removes `from` and its parents up to and including `upTo` while they are empty. */
export function removeEmptyDirs(from: string, upTo: string): void {
  for (let dir = from; dir.startsWith(upTo); dir = path.dirname(dir)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    if (dir === upTo) return;
  }
}

/** `diff -u`-style text of a Change ("" when nothing changes). */
export function unifiedDiff(c: Change): string {
  if (c.before === c.after) return "";
  const a = splitLines(c.before);
  const b = splitLines(c.after);
  const head = `--- ${c.before === null ? "/dev/null" : c.file}\n+++ ${c.after === null ? "/dev/null" : c.file}\n`;
  const ops = diffOps(a, b);
  // Hunks: each changed line with DIFF_CONTEXT lines either side, overlapping ones merged.
  const hunks: [number, number][] = [];
  ops.forEach((o, k) => {
    if (o.op === " ") return;
    const s = Math.max(0, k - DIFF_CONTEXT);
    const e = Math.min(ops.length, k + DIFF_CONTEXT + 1);
    const last = hunks[hunks.length - 1];
    if (last && s <= last[1]) last[1] = e;
    else hunks.push([s, e]);
  });
  let out = head;
  for (const [s, e] of hunks) {
    const hunk = ops.slice(s, e);
    const aLen = hunk.filter((o) => o.op !== "+").length;
    const bLen = hunk.filter((o) => o.op !== "-").length;
    out += `@@ -${range(hunk[0]!.ai, aLen)} +${range(hunk[0]!.bi, bLen)} @@\n`;
    for (const o of hunk) out += `${o.op}${o.line}\n`;
  }
  return out;
}

function range(start: number, len: number): string {
  // diff -u numbers lines from 1; an empty range names the line before it.
  return len === 0 ? `${start},0` : len === 1 ? `${start + 1}` : `${start + 1},${len}`;
}

function splitLines(text: string | null): string[] {
  if (text === null || text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

interface DiffOp {
  op: " " | "-" | "+";
  line: string;
  /** Index in the old / new lines where this op stands. */
  ai: number;
  bi: number;
}

/** A shortest edit script by longest common subsequence (config files are small). */
function diffOps(a: readonly string[], b: readonly string[]): DiffOp[] {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_DIFF_CELLS) {
    return [...a.map((line, ai) => ({ op: "-" as const, line, ai, bi: 0 })), ...b.map((line, bi) => ({ op: "+" as const, line, ai: n, bi }))];
  }
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: DiffOp[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ op: " ", line: a[i]!, ai: i++, bi: j++ });
    else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ op: "-", line: a[i]!, ai: i++, bi: j });
    else ops.push({ op: "+", line: b[j]!, ai: i, bi: j++ });
  }
  return ops;
}

/** What an install would do to one file, and the record to keep once it is done. */
export interface InstallPlan<R> {
  change: Change;
  /** One line: what it does, or why nothing changes. */
  summary: string;
  /** Builds the install record after the change is applied; absent: keep the record as it is. */
  record?: (applied: Applied, now: Date) => R;
}

/** What an uninstall would do to one file. */
export interface UninstallPlan {
  change: Change;
  summary: string;
  /** Keep a backup of the file before changing it (not when restoring install's backup). */
  backup: boolean;
}

/** The part of a record that allows restoring a file byte for byte. */
export interface Restorable {
  file: string;
  /** The file before install: its hash ("absent" when install created it) and its backup. */
  original: { sha256: string; backup: string | null } | null;
  installedSha256: string;
}

/**
 * When `current` is exactly what install wrote, the text it replaced: the backup's text, or null
 * when install created the file. Undefined when that cannot be had (the file was edited since,
 * or the backup is gone or differs): then only tsor's own part is taken out.
 */
export function exactRestore(r: Restorable, current: string): string | null | undefined {
  if (!r.original || sha256(current) !== r.installedSha256) return undefined;
  if (r.original.sha256 === sha256(null)) return null;
  if (!r.original.backup) return undefined;
  let text: string | null;
  try {
    text = readConfig(r.original.backup);
  } catch {
    return undefined;
  }
  return text !== null && sha256(text) === r.original.sha256 ? text : undefined;
}

/** An uninstall plan that changes nothing. */
export function nothingToUndo(kind: string, file: string, current: string | null, why: string): UninstallPlan {
  return { change: { file, before: current, after: current }, summary: `${kind}: ${why}; nothing to undo`, backup: false };
}

/**
 * Uninstall's first steps, the same for every file: when it is gone there is nothing to undo;
 * when it is exactly as install left it the original comes back. Otherwise the current text,
 * from which the caller takes out tsor's own part.
 */
export function restoreOrCurrent(kind: string, r: Restorable): UninstallPlan | string {
  const current = readConfig(r.file);
  if (current === null) return nothingToUndo(kind, r.file, null, `${r.file} no longer exists`);
  const exact = exactRestore(r, current);
  if (exact === undefined) return current;
  const what = exact === null ? "remove it (tsor install created it)" : "restore it as it was before tsor install";
  return { change: { file: r.file, before: current, after: exact }, summary: `${kind}: ${r.file} is as tsor install left it: ${what}`, backup: false };
}

/** The file-level part of an install record (state.ts FileRecord). */
export interface FileRecordFields extends Restorable {
  createdDir: string | null;
  backup: string | null;
  installedAt: string;
}

/**
 * The file-level record of an applied install. `own`: the record of an earlier tsor install
 * whose entry this one replaces; it still knows what the file was before tsor, which stays
 * restorable only while the file is as that install left it.
 */
export function fileRecord(c: Change, applied: Applied, now: Date, own: FileRecordFields | undefined): FileRecordFields {
  const untouched = own !== undefined && sha256(c.before) === own.installedSha256;
  return {
    file: c.file,
    createdDir: own ? own.createdDir : applied.createdDir,
    backup: applied.backup,
    original: own ? (untouched ? own.original : null) : { sha256: sha256(c.before), backup: applied.backup },
    installedSha256: sha256(c.after),
    installedAt: now.toISOString(),
  };
}
