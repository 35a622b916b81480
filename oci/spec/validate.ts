// Reading and checking a bundle's config.json. The first problem found is reported as one line
// that names its JSON path ("config.json: process.args: must not be empty"); the checks beyond
// the schema are the ones runc makes before it creates anything, so a config runc accepts is
// accepted here (where runc only warns, so do we).
import * as fs from "node:fs";
import * as path from "node:path";
import type * as z from "zod";
import { UserError } from "../cli.js";
import { CAPABILITIES, HOOKS } from "../known.js";
import { findJsonError } from "./json.js";
import { CAPABILITY_SETS, ResourcesSchema, RuntimeSpecSchema, type LinuxResources, type Namespace, type RuntimeSpec } from "./schema.js";

export const CONFIG_FILE = "config.json";

/**
 * A config that cannot be used. The message is one line: "<source>: <path>: <detail>", the
 * source being "config.json" unless the caller named another (e.g. "--process p.json").
 */
export class SpecError extends UserError {
  constructor(readonly detail: string, readonly source: string = CONFIG_FILE) {
    super(`${source}: ${detail}`);
    this.name = "SpecError";
  }
}

export interface ParseOptions {
  /** What the JSON came from, the first word of every message. Default "config.json". */
  source?: string;
  /**
   * Receives each warning (a config runc accepts but should not be written that way), already
   * prefixed with the source. Default: printed on stderr as "tsor: warning: ...".
   */
  warn?: (message: string) => void;
}

/** A string is shorthand for `{ source }`. */
export type ParseOptionsArg = ParseOptions | string;

function resolveOptions(arg: ParseOptionsArg): ParseOptions {
  return typeof arg === "string" ? { source: arg } : arg;
}

type PathSegment = string | number;

/** `linux.namespaces[1].type`, `linux.sysctl["net.ipv4.ip_forward"]`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(String(s))}]`;
  }
  return out;
}

function at(segments: readonly PathSegment[], detail: string): SpecError {
  return new SpecError(segments.length ? `${formatPath(segments)}: ${detail}` : detail);
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** A value as it appears in a message: short JSON for scalars, the type for containers. */
function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 64 ? `${v.slice(0, 61)}...` : v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  return typeName(v);
}

function valueAt(root: unknown, segments: readonly PropertyKey[]): unknown {
  let v = root;
  for (const s of segments) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[s];
  }
  return v;
}

const EXPECTED_NAMES: Record<string, string> = { record: "object" };

/** One zod issue as "path: detail". */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): SpecError {
  const value = valueAt(input, issue.path);
  const segments = issue.path.map((s) => (typeof s === "number" ? s : String(s)));
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return at(segments, "required");
      return at(segments, `expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected}, received ${typeName(value)}`);
    case "invalid_value":
      return at(segments, `invalid value ${show(value)} (expected one of ${issue.values.map(String).join(", ")})`);
    case "too_small":
      return at(segments, issue.minimum === 1 ? "must not be empty" : `expected at least ${issue.minimum}`);
    case "too_big":
      return at(segments, `expected at most ${issue.maximum}`);
    case "custom": {
      const params = issue.params as { showInput?: boolean } | undefined;
      return at(segments, params?.showInput ? `${issue.message}, received ${show(value)}` : issue.message);
    }
    default:
      return at(segments, issue.message);
  }
}

/**
 * A deep copy without null-valued properties: Go runtimes decode `"seccomp": null` as absent,
 * and configs written by Go tools sometimes contain them.
 */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out;
}

const KNOWN_CAPABILITIES: ReadonlySet<string> = new Set(CAPABILITIES);

/** runc ignores capability names it does not know, with a warning; so does tsor. */
function dropUnknownCapabilities(raw: unknown, warn: (m: string) => void): void {
  const caps = valueAt(raw, ["process", "capabilities"]);
  if (caps === null || typeof caps !== "object") return;
  const sets = caps as Record<string, unknown>;
  for (const set of CAPABILITY_SETS) {
    const list = sets[set];
    if (!Array.isArray(list)) continue;
    const unknown = list.filter((c): c is string => typeof c === "string" && !KNOWN_CAPABILITIES.has(c));
    if (unknown.length === 0) continue;
    warn(`process.capabilities.${set}: ignoring unknown capabilities ${unknown.join(", ")}`);
    sets[set] = list.filter((c) => !unknown.includes(c as string));
  }
}

// ---- checks beyond the schema (runc's, in runc's order where it has one) ---------------------

type Check = (spec: RuntimeSpec, warn: (m: string) => void) => void;

const checkRoot: Check = (spec) => {
  if (spec.root.path === "") throw at(["root", "path"], "must not be empty");
};

const checkProcess: Check = (spec) => {
  const p = spec.process;
  if (!p.args || p.args.length === 0) throw at(["process", "args"], "must not be empty");
  if (p.cwd === "") throw at(["process", "cwd"], "must not be empty");
  if (!path.posix.isAbsolute(p.cwd)) throw at(["process", "cwd"], `must be an absolute path, got ${show(p.cwd)}`);
  const seen = new Map<string, number>();
  p.rlimits?.forEach((r, i) => {
    if (seen.has(r.type)) throw at(["process", "rlimits", i, "type"], `duplicate rlimit ${show(r.type)}`);
    seen.set(r.type, i);
  });
};

/** runc makes a relative destination absolute with a warning (and plans to refuse it). */
const checkMounts: Check = (spec, warn) => {
  spec.mounts?.forEach((m, i) => {
    if (m.destination === "") throw at(["mounts", i, "destination"], "must not be empty");
    if (!path.posix.isAbsolute(m.destination)) {
      const fixed = path.posix.join("/", m.destination);
      warn(`${formatPath(["mounts", i, "destination"])}: ${show(m.destination)} is not absolute, using ${show(fixed)}`);
      m.destination = fixed;
    }
  });
};

/** True if the config has a namespace of this type (new or joined). */
export function hasNamespace(spec: RuntimeSpec, type: Namespace["type"]): boolean {
  return spec.linux?.namespaces?.some((n) => n.type === type) ?? false;
}

const checkNamespaces: Check = (spec, warn) => {
  const namespaces = spec.linux?.namespaces ?? [];
  const seen = new Set<string>();
  namespaces.forEach((ns, i) => {
    if (seen.has(ns.type)) throw at(["linux", "namespaces", i, "type"], `duplicate namespace ${show(ns.type)}`);
    seen.add(ns.type);
    if (ns.path !== undefined && ns.path !== "" && !path.posix.isAbsolute(ns.path)) {
      throw at(["linux", "namespaces", i, "path"], `must be an absolute path, got ${show(ns.path)}`);
    }
  });
  const user = namespaces.find((n) => n.type === "user");
  for (const key of ["uidMappings", "gidMappings"] as const) {
    const mappings = spec.linux?.[key];
    const count = mappings?.length ?? 0;
    if (user && !user.path && count === 0) throw at(["linux", key], "required when creating a user namespace");
    if (!user && count > 0) warn(`${formatPath(["linux", key])}: ignored without a user namespace`);
  }
  if (spec.linux?.timeOffsets && !seen.has("time")) throw at(["linux", "timeOffsets"], "requires a time namespace");
};

const checkUts: Check = (spec) => {
  for (const key of ["hostname", "domainname"] as const) {
    if (spec[key] && !hasNamespace(spec, "uts")) throw at([key], "requires a private uts namespace");
  }
};

/** Sysctls in the ipc namespace (runc's list) and the prefixes that follow a namespace. */
const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

const checkSysctl: Check = (spec) => {
  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    const where = ["linux", "sysctl", key];
    const name = key.replaceAll("/", ".");
    if (IPC_SYSCTLS.has(name) || name.startsWith("fs.mqueue.")) {
      if (!hasNamespace(spec, "ipc")) throw at(where, "not allowed without a private ipc namespace");
    } else if (name.startsWith("net.")) {
      if (!hasNamespace(spec, "network")) throw at(where, "not allowed without a private network namespace");
    } else if (name === "kernel.hostname" || name === "kernel.domainname") {
      if (!hasNamespace(spec, "uts")) throw at(where, "not allowed without a private uts namespace");
      throw at(where, `conflicts with the ${name.slice("kernel.".length)} field`);
    } else {
      throw at(where, "not in a separate kernel namespace");
    }
  }
};

const checkHooks: Check = (spec) => {
  for (const name of HOOKS) {
    spec.hooks?.[name]?.forEach((h, i) => {
      if (!path.posix.isAbsolute(h.path)) throw at(["hooks", name, i, "path"], `must be an absolute path, got ${show(h.path)}`);
    });
  }
};

const checkDevices: Check = (spec) => {
  spec.linux?.devices?.forEach((d, i) => {
    if (!path.posix.isAbsolute(d.path)) throw at(["linux", "devices", i, "path"], `must be an absolute path, got ${show(d.path)}`);
    if (d.type === "p") return;
    for (const key of ["major", "minor"] as const) {
      if (d[key] === undefined) throw at(["linux", "devices", i, key], `required for device type ${show(d.type)}`);
    }
  });
};

const CHECKS: Check[] = [checkRoot, checkProcess, checkMounts, checkNamespaces, checkUts, checkSysctl, checkHooks, checkDevices];

function stderrWarning(message: string): void {
  process.stderr.write(`tsor: warning: ${message}\n`);
}

/**
 * Check a parsed config.json and return it typed. Throws SpecError for the first problem.
 * The result is a copy: relative mount destinations are made absolute and unknown capabilities
 * are dropped (both with a warning, as runc does).
 */
export function parseSpec(json: unknown, options: ParseOptionsArg = {}): RuntimeSpec {
  const { source = CONFIG_FILE, warn: sink = stderrWarning } = resolveOptions(options);
  const warn = (m: string): void => sink(`${source}: ${m}`);
  try {
    const raw = withoutNulls(json);
    dropUnknownCapabilities(raw, warn);
    // jitless: zod would compile a fast path per object schema (new Function) on this first
    // parse; for a process that parses config.json once that costs more than it saves (~7.5 vs
    // ~3 ms for a busybox config.json on these machines).
    const result = RuntimeSpecSchema.safeParse(raw, { jitless: true });
    if (!result.success) throw describeIssue(result.error.issues[0]!, raw);
    const spec = result.data;
    for (const check of CHECKS) check(spec, warn);
    return spec;
  } catch (e) {
    if (e instanceof SpecError && e.source !== source) throw new SpecError(e.detail, source);
    throw e;
  }
}

/** JSON.parse, with a syntax error that names its line and column. */
function parseJson(text: string, source: string | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const where = findJsonError(text);
    const detail = where
      ? `invalid JSON at line ${where.line} column ${where.column}: ${where.reason}`
      : `invalid JSON: ${(e as Error).message}`;
    throw new SpecError(detail, source);
  }
}

/** Parse config.json text; a syntax error names its line and column. */
export function parseSpecText(text: string, options: ParseOptionsArg = {}): RuntimeSpec {
  return parseSpec(parseJson(text, resolveOptions(options).source), options);
}

/**
 * Parse an OCI LinuxResources object on its own (`tsor update --resources FILE`, runc's
 * format): the same schema as linux.resources in config.json, errors naming the field
 * ("--resources r.json: memory.limit: expected a 64-bit integer, received \"1g\"").
 */
export function parseResourcesText(text: string, source: string): LinuxResources {
  const raw = withoutNulls(parseJson(text, source));
  const result = ResourcesSchema.safeParse(raw);
  if (!result.success) throw new SpecError(describeIssue(result.error.issues[0]!, raw).detail, source);
  return result.data;
}

/** Read and check `<bundleDir>/config.json`. */
export function loadSpec(bundleDir: string, options: ParseOptionsArg = {}): RuntimeSpec {
  const file = path.join(bundleDir, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new SpecError(`not found in bundle ${bundleDir}`);
    throw new SpecError(`cannot read ${file}: ${err.code ?? err.message}`);
  }
  return parseSpecText(text, options);
}
