// implements `events` (runc events.go): the container's cgroup counters as JSON lines
// `{"type":"stats","id":ID,"data":{...}}` every --interval, an `{"type":"oom","id":ID}` line when
// the OOM killer strikes, until the container stops; `--stats` prints one reading and returns.
import type { Runtime } from "./container.js";
import { NotRunningError } from "./container.js";
import { UserError } from "./cli.js";
import { eventJson, type U64 } from "./cgroups/stats.js";

/** How often OOM kills and the container's end are looked for between two stats lines. */
const WATCH_MS = 200;

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "1m30s", "250ms", "1.5h") in milliseconds, as urfave/cli reads --interval. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (t === "0") return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let i = t.startsWith("-") || t.startsWith("+") ? 1 : 0;
  if (i >= t.length) throw new UserError(`invalid duration ${JSON.stringify(text)} (e.g. 5s, 500ms, 1m30s)`);
  while (i < t.length) {
    part.lastIndex = i;
    const m = part.exec(t);
    if (!m) throw new UserError(`invalid duration ${JSON.stringify(text)} (e.g. 5s, 500ms, 1m30s)`);
    ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    i = part.lastIndex;
  }
  return t.startsWith("-") ? -ms : ms;
}

export interface EventsOptions {
  /** One stats line, then return. */
  stats: boolean;
  intervalMs: number;
  write: (line: string) => void;
  /** Resolves after `ms` (the seam for tests). */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function streamEvents(rt: Runtime, id: string, opts: EventsOptions): Promise<void> {
  if (!(opts.intervalMs > 0)) throw new UserError("duration interval must be greater than 0");
  const sleep = opts.sleep ?? realSleep;
  const first = rt.usage(id); // unknown or stopped container: the error is the command's
  if (opts.stats) {
    opts.write(eventJson({ type: "stats", id, data: first.stats }));
    return;
  }
  let ooms: U64 = first.oomKills;
  let sinceStats = 0;
  for (;;) {
    const step = Math.min(WATCH_MS, opts.intervalMs - sinceStats);
    await sleep(step);
    sinceStats += step;
    let now;
    try {
      now = rt.usage(id);
    } catch (e) {
      // The container stopped or was deleted: runc's stream ends when its cgroup goes.
      if (e instanceof NotRunningError || (e instanceof UserError && /does not exist/.test(e.message))) return;
      throw e;
    }
    if (now.oomKills !== ooms) {
      ooms = now.oomKills;
      opts.write(eventJson({ type: "oom", id }));
    }
    if (sinceStats >= opts.intervalMs) {
      sinceStats = 0;
      opts.write(eventJson({ type: "stats", id, data: now.stats }));
    }
  }
}
