// docker: the `runtimes.tsor` entry of dockerd's daemon.json. Merged into the existing JSON
// object (every other key kept, in its order, with the file's indentation); `--runtime=tsor`
// then selects it. dockerd re-reads `runtimes` on SIGHUP.
import * as fs from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { UserError } from "../cli.js";
import { fileRecord, nothingToUndo, readConfig, restoreOrCurrent, type InstallPlan, type UninstallPlan } from "./files.js";
import { findJsonError } from "../spec/json.js";
import type { DockerRecord } from "./state.js";

/** The runtime name: `docker run --runtime=tsor`. */
export const DOCKER_RUNTIME = "tsor";
export const DEFAULT_DOCKER_CONFIG = "/etc/docker/daemon.json";
export const DEFAULT_DOCKER_PIDFILE = "/var/run/docker.pid";

/** A daemon.json runtime: dockerd runs `path runtimeArgs... <runc verb and flags>`. */
export interface DockerEntry {
  path: string;
  runtimeArgs: string[];
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** daemon.json's object; absent or blank is `{}`. Errors name the file (and line, column). */
export function parseDaemonJson(file: string, text: string | null): JsonObject {
  if (text === null || text.trim() === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const at = findJsonError(text);
    const where = at ? `:${at.line}:${at.column}` : "";
    const reason = (e as Error).message.replace(/ in JSON at position \d+.*$/, "").replace(/, ".*" is not valid JSON$/s, "");
    throw new UserError(`${file}${where}: invalid JSON: ${reason}; left unchanged`);
  }
  if (!isObject(v)) throw new UserError(`${file}: expected a JSON object at the top, found ${Array.isArray(v) ? "an array" : typeof v}; left unchanged`);
  return v;
}

/** JSON with the indentation `like` uses (two spaces when it shows none), newline-terminated. */
function formatJson(value: JsonObject, like: string | null): string {
  const indent = /^([ \t]+)"/m.exec(like ?? "")?.[1] ?? "  ";
  return JSON.stringify(value, null, indent) + "\n";
}

/** The runtimes object of `config` (undefined when absent); a non-object is an error. */
function runtimesOf(file: string, config: JsonObject): JsonObject | undefined {
  const r = config.runtimes;
  if (r !== undefined && !isObject(r)) throw new UserError(`${file}: "runtimes" is not a JSON object; left unchanged`);
  return r;
}

export function planDockerInstall(o: { file: string; entry: DockerEntry; force: boolean; record?: DockerRecord }): InstallPlan<DockerRecord> {
  const { file, entry, record } = o;
  if (record && record.file !== file) {
    throw new UserError(`docker: tsor is recorded as installed in ${record.file}, not ${file}; run tsor uninstall --docker first`);
  }
  const before = readConfig(file);
  const config = parseDaemonJson(file, before);
  const runtimes = runtimesOf(file, config);
  const existing = runtimes?.[DOCKER_RUNTIME];
  if (isDeepStrictEqual(existing, entry)) {
    return { change: { file, before, after: before }, summary: `docker: ${file} already has runtimes.${DOCKER_RUNTIME} (${entry.path}); nothing to change` };
  }
  if (existing !== undefined && !o.force) {
    throw new UserError(`${file}: runtimes.${DOCKER_RUNTIME} already exists as ${JSON.stringify(existing)}; left unchanged (--force replaces it)`);
  }
  const after = formatJson({ ...config, runtimes: { ...runtimes, [DOCKER_RUNTIME]: entry } }, before);
  const change = { file, before, after };
  // Replacing what an earlier tsor install wrote: its record still says what came before tsor.
  const own = record !== undefined && existing !== undefined ? record : undefined;
  return {
    change,
    summary: `docker: ${existing === undefined ? "add" : "replace"} runtimes.${DOCKER_RUNTIME} ${existing === undefined ? "to" : "in"} ${file} (path ${entry.path})`,
    record: (applied, now) => ({
      ...fileRecord(change, applied, now, own),
      entry,
      createdRuntimes: own ? own.createdRuntimes : runtimes === undefined,
      previous: own ? own.previous : (existing ?? null),
    }),
  };
}

export function planDockerUninstall(record: DockerRecord): UninstallPlan {
  const file = record.file;
  const current = restoreOrCurrent("docker", record);
  if (typeof current !== "string") return current;
  const config = parseDaemonJson(file, current);
  const runtimes = runtimesOf(file, config);
  const existing = runtimes?.[DOCKER_RUNTIME];
  if (existing === undefined) return nothingToUndo("docker", file, current, `${file} has no runtimes.${DOCKER_RUNTIME} any more`);
  if (!isDeepStrictEqual(existing, record.entry)) {
    throw new UserError(`${file}: runtimes.${DOCKER_RUNTIME} was changed since tsor install (now ${JSON.stringify(existing)}); left unchanged`);
  }
  const rest: JsonObject = { ...runtimes };
  if (record.previous !== null) rest[DOCKER_RUNTIME] = record.previous;
  else delete rest[DOCKER_RUNTIME];
  const next: JsonObject = { ...config, runtimes: rest };
  if (record.createdRuntimes && Object.keys(rest).length === 0) delete next.runtimes;
  const put = record.previous !== null ? " and put back the entry it replaced" : "";
  return { change: { file, before: current, after: formatJson(next, current) }, summary: `docker: remove runtimes.${DOCKER_RUNTIME} from ${file}${put}`, backup: true };
}

/** SIGHUP to the dockerd whose pid `pidFile` holds (dockerd reloads `runtimes` on it). */
export function reloadDockerd(pidFile: string): string {
  const cannot = (why: string): UserError => new UserError(`cannot reload dockerd: ${why}; the runtime is registered and is used once dockerd reloads or starts`);
  let text: string;
  try {
    text = fs.readFileSync(pidFile, "utf8").trim();
  } catch (e) {
    throw cannot(`${pidFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (is dockerd running?)`);
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) throw cannot(`${pidFile} holds ${JSON.stringify(text)}, not a pid`);
  let comm: string;
  try {
    comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    throw cannot(`pid ${pid} (from ${pidFile}) is not running`);
  }
  if (comm !== "dockerd") throw cannot(`pid ${pid} (from ${pidFile}) is ${comm}, not dockerd; nothing was signalled`);
  process.kill(pid, "SIGHUP");
  return `docker: sent SIGHUP to dockerd (pid ${pid}); it re-reads daemon.json`;
}
