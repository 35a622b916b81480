// containerd: a CRI runtime handler `tsor` that runs containers with the runc v2 shim
// (io.containerd.runc.v2) and tsor as the shim's runc binary (options.BinaryName). Kubernetes
// selects it with a RuntimeClass whose handler is CONTAINERD_HANDLER.
//
// The file is edited as text so that its comments and layout survive: the handler's tables are
// appended as one delimited block; a --force replacement first cuts the old handler's tables.
// smol-toml parses before and after, and every edit is checked to change nothing but the handler.
import { isDeepStrictEqual } from "node:util";
import { parse, TomlError } from "smol-toml";
import { UserError } from "../cli.js";
import { fileRecord, nothingToUndo, readConfig, restoreOrCurrent, type InstallPlan, type UninstallPlan } from "./files.js";
import type { ContainerdRecord } from "./state.js";

/** The CRI runtime handler name, which a RuntimeClass's `handler` must equal. */
export const CONTAINERD_HANDLER = "tsor";
/** The shim: containerd's runc v2 shim drives tsor exactly as it drives runc. */
export const RUNC_V2_SHIM = "io.containerd.runc.v2";
export const DEFAULT_CONTAINERD_CONFIG = "/etc/containerd/config.toml";

export type ContainerdConfigVersion = 2 | 3;

/**
 * Where CRI runtimes live: config version 2 (containerd 1.x, read by 2.x too) and version 3
 * (containerd 2.x, where the CRI plugin was split and runtimes moved to cri.v1.runtime).
 */
export const CRI_RUNTIMES: Record<ContainerdConfigVersion, readonly string[]> = {
  2: ["plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes"],
  3: ["plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes"],
};

/** The version tsor install writes into a new (or empty) file: both containerd 1.7 and 2.x read it. */
export const NEW_CONFIG_VERSION: ContainerdConfigVersion = 2;

const BLOCK_BEGIN = "# BEGIN tsor runtime handler (added by `tsor install --containerd`; `tsor uninstall --containerd` removes it)";
const BLOCK_END = "# END tsor runtime handler";

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The parsed TOML; a syntax error names the file, line and column. */
export function parseContainerdToml(file: string, text: string): Table {
  try {
    return parse(text) as Table;
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = e.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new UserError(`${file}:${e.line}:${e.column}: invalid TOML: ${reason}; left unchanged`);
    }
    throw e;
  }
}

/** The config version of a parsed file; version 1 (no `version` key) is refused. */
function configVersion(file: string, config: Table): ContainerdConfigVersion | "empty" {
  const v = config.version;
  if (v === 2 || v === 3) return v;
  if (v === undefined && Object.keys(config).length === 0) return "empty";
  if (v === undefined) {
    throw new UserError(`${file}: containerd config version 1 (no \`version\` key) is not supported; convert it with \`containerd config migrate\` or add \`version = 2\`; left unchanged`);
  }
  throw new UserError(`${file}: unknown containerd config version ${JSON.stringify(v)} (2 and 3 are supported); left unchanged`);
}

function getPath(t: Table, keys: readonly string[]): unknown {
  let cur: unknown = t;
  for (const k of keys) cur = isTable(cur) ? cur[k] : undefined;
  return cur;
}

/** A copy of `t` with `keys` set to `value` (or deleted when undefined). */
function withPath(t: Table, keys: readonly string[], value: unknown): Table {
  const [k, ...rest] = keys;
  const out: Table = { ...t };
  if (rest.length === 0) {
    if (value === undefined) delete out[k!];
    else out[k!] = value;
    return out;
  }
  const child = isTable(t[k!]) ? (t[k!] as Table) : {};
  out[k!] = withPath(child, rest, value);
  return out;
}

/** `plugins."io.containerd.grpc.v1.cri".containerd`: bare keys where TOML allows them. */
function dottedKey(keys: readonly string[]): string {
  return keys.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k))).join(".");
}

/** The handler's value as tsor writes it. */
function handlerValue(binaryName: string, systemdCgroup: boolean): Table {
  return { runtime_type: RUNC_V2_SHIM, options: { BinaryName: binaryName, ...(systemdCgroup ? { SystemdCgroup: true } : {}) } };
}

/**
 * Whether the config's runc handler uses the systemd cgroup driver (options.SystemdCgroup, as
 * kubeadm sets it): tsor's handler then does too, so that containerd hands it the same
 * "slice:prefix:name" cgroup paths under kubelet's pod slices (oci/cgroups/systemd.ts).
 */
function runcUsesSystemdCgroup(config: Table, version: ContainerdConfigVersion): boolean {
  return getPath(config, [...CRI_RUNTIMES[version], "runc", "options", "SystemdCgroup"]) === true;
}

/** The delimited block for config `version` (with a `version` line for an otherwise empty file). */
export function handlerBlock(version: ContainerdConfigVersion, binaryName: string, withVersion: boolean, systemdCgroup = false): string {
  const table = dottedKey([...CRI_RUNTIMES[version], CONTAINERD_HANDLER]);
  return [
    BLOCK_BEGIN,
    ...(withVersion ? [`version = ${version}`, ""] : []),
    `[${table}]`,
    `  runtime_type = ${JSON.stringify(RUNC_V2_SHIM)}`,
    "",
    `[${table}.options]`,
    `  BinaryName = ${JSON.stringify(binaryName)}`,
    ...(systemdCgroup ? ["  SystemdCgroup = true  # as the runc handler: kubelet's systemd cgroup driver"] : []),
    BLOCK_END,
    "",
  ].join("\n");
}

/** The key path of a `[table]` header line, or null when the line is not one. */
function headerPath(line: string): string[] | null {
  if (!/^\s*\[[^[]/.test(line)) return null;
  let t: unknown;
  try {
    t = parse(line);
  } catch {
    return null;
  }
  const keys: string[] = [];
  while (isTable(t) && Object.keys(t).length === 1) {
    const k = Object.keys(t)[0]!;
    keys.push(k);
    t = t[k];
  }
  return isTable(t) && Object.keys(t).length === 0 ? keys : null;
}

const isHeaderLine = (line: string): boolean => /^\s*\[/.test(line) && (headerPath(line) !== null || /^\s*\[\[.*\]\]\s*(#.*)?$/.test(line));

/**
 * Cuts every table whose header lies under `prefix` (the header line through the line before
 * the next header). Returns the remaining text and the cut pieces.
 */
function cutTables(text: string, prefix: readonly string[]): { rest: string; cut: string[] } {
  const lines = text.split("\n");
  const keep: string[] = [];
  const cut: string[] = [];
  for (let i = 0; i < lines.length; ) {
    const p = headerPath(lines[i]!);
    if (p && p.length >= prefix.length && prefix.every((k, j) => p[j] === k)) {
      let end = i + 1;
      while (end < lines.length && !isHeaderLine(lines[end]!)) end++;
      cut.push(lines.slice(i, end).join("\n") + "\n");
      i = end;
    } else keep.push(lines[i++]!);
  }
  return { rest: keep.join("\n"), cut };
}

/** Text to put between existing content and an appended block. */
function separator(text: string): string {
  return text === "" ? "" : text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
}

export function planContainerdInstall(o: { file: string; binaryName: string; force: boolean; record?: ContainerdRecord }): InstallPlan<ContainerdRecord> {
  const { file, binaryName, record } = o;
  if (record && record.file !== file) {
    throw new UserError(`containerd: tsor is recorded as installed in ${record.file}, not ${file}; run tsor uninstall --containerd first`);
  }
  const before = readConfig(file);
  const config = before === null ? {} : parseContainerdToml(file, before);
  const found = configVersion(file, config);
  const version = found === "empty" ? NEW_CONFIG_VERSION : found;
  const handlerKeys = [...CRI_RUNTIMES[version], CONTAINERD_HANDLER];
  const table = `[${dottedKey(handlerKeys)}]`;
  const existing = getPath(config, handlerKeys);
  const systemdCgroup = runcUsesSystemdCgroup(config, version);
  const wanted = handlerValue(binaryName, systemdCgroup);
  if (isDeepStrictEqual(prune(existing), prune(wanted))) {
    return { change: { file, before, after: before }, summary: `containerd: ${file} already has ${table} with BinaryName ${binaryName}; nothing to change` };
  }
  if (existing !== undefined && !o.force) {
    const systemdWas = isTable(existing) ? getPath(existing, ["options", "SystemdCgroup"]) : undefined;
    const was = isTable(existing)
      ? `runtime_type ${JSON.stringify(existing.runtime_type)}, BinaryName ${JSON.stringify(getPath(existing, ["options", "BinaryName"]))}` +
        (systemdWas !== undefined || systemdCgroup ? `, SystemdCgroup ${JSON.stringify(systemdWas ?? false)} where the runc handler's is ${systemdCgroup}` : "")
      : JSON.stringify(existing);
    throw new UserError(`${file}: ${table} already exists (${was}); left unchanged (--force replaces it)`);
  }
  let base = before ?? "";
  let removed: string[] = [];
  if (existing !== undefined) {
    const { rest, cut } = cutTables(base, handlerKeys);
    if (!parsesTo(rest, withPath(config, handlerKeys, undefined))) {
      throw new UserError(`${file}: ${table} is not written as plain [table] sections tsor can cut out; edit it by hand; left unchanged`);
    }
    base = rest;
    removed = cut;
  }
  const inserted = separator(base) + handlerBlock(version, binaryName, found === "empty", systemdCgroup);
  const after = base + inserted;
  const expected = withPath(found === "empty" ? { version } : config, handlerKeys, wanted);
  if (!parsesTo(after, expected)) {
    throw new UserError(`${file}: appending ${table} would not give a valid config (is the CRI plugin section an inline table?); add the block from deploy/containerd/config.toml by hand; left unchanged`);
  }
  const change = { file, before, after };
  const own = record !== undefined && existing !== undefined ? record : undefined;
  return {
    change,
    summary: `containerd: ${existing === undefined ? "add" : "replace"} runtime handler ${table} ${existing === undefined ? "to" : "in"} ${file} (config version ${version}, ${RUNC_V2_SHIM}, BinaryName ${binaryName}${systemdCgroup ? ", SystemdCgroup as the runc handler" : ""})`,
    record: (applied, now) => ({
      ...fileRecord(change, applied, now, own),
      version,
      binaryName,
      inserted,
      removed: own ? own.removed : removed,
    }),
  };
}

const UNPARSABLE = Symbol("unparsable");

function tryParse(text: string): unknown {
  try {
    return parse(text);
  } catch {
    return UNPARSABLE;
  }
}

/** Tables with empty tables left out: a cut header may take implicit parent tables with it. */
function prune(v: unknown): unknown {
  if (!isTable(v)) return v;
  const out: Table = {};
  for (const [k, child] of Object.entries(v)) {
    const p = prune(child);
    if (!(isTable(p) && Object.keys(p).length === 0)) out[k] = p;
  }
  return out;
}

/** `text` parses to `expected`, up to empty tables. */
function parsesTo(text: string, expected: unknown): boolean {
  const got = tryParse(text);
  return got !== UNPARSABLE && isDeepStrictEqual(prune(got), prune(expected));
}

export function planContainerdUninstall(record: ContainerdRecord): UninstallPlan {
  const file = record.file;
  const current = restoreOrCurrent("containerd", record);
  if (typeof current !== "string") return current;
  const config = parseContainerdToml(file, current);
  const handlerKeys = [...CRI_RUNTIMES[record.version], CONTAINERD_HANDLER];
  if (getPath(config, handlerKeys) === undefined) return nothingToUndo("containerd", file, current, `${file} has no [${dottedKey(handlerKeys)}] any more`);
  // A `version` line install wrote into an empty file goes with the block, unless other tables
  // were added since: then it stays where the block was, so they keep their meaning.
  const base = withPath(config, handlerKeys, undefined);
  const wroteVersion = /^version = /m.test(record.inserted);
  const keepVersion = wroteVersion && Object.keys(prune(withPath(base, ["version"], undefined)) as Table).length > 0;
  const lead = record.inserted.slice(0, Math.max(0, record.inserted.indexOf(BLOCK_BEGIN)));
  const replacement = keepVersion ? `${lead}version = ${record.version}\n` : "";
  // The block as install appended it, else the text between its two delimiter lines.
  let rest: string;
  const at = current.lastIndexOf(record.inserted);
  if (at >= 0) rest = current.slice(0, at) + replacement + current.slice(at + record.inserted.length);
  else {
    const begin = current.indexOf(BLOCK_BEGIN);
    const end = current.indexOf(BLOCK_END, begin);
    if (begin < 0 || end < 0) throw new UserError(`${file}: the tsor block that tsor install added was changed or removed; edit it by hand; left unchanged`);
    rest = current.slice(0, begin) + (keepVersion ? `version = ${record.version}\n` : "") + current.slice(end + BLOCK_END.length).replace(/^\n/, "");
  }
  const after = rest + (record.removed.length ? separator(rest) + record.removed.join("") : "");
  const old = record.removed.length ? tryParse(record.removed.join("")) : undefined;
  const restored = withPath(base, handlerKeys, isTable(old) ? getPath(old, handlerKeys) : undefined);
  if (!parsesTo(after, wroteVersion && !keepVersion ? withPath(restored, ["version"], undefined) : restored)) {
    throw new UserError(`${file}: removing the tsor block would change more than the tsor handler; edit it by hand; left unchanged`);
  }
  const put = record.removed.length ? " and put back the tables it replaced" : "";
  return { change: { file, before: current, after }, summary: `containerd: remove the tsor runtime handler from ${file}${put}`, backup: true };
}
