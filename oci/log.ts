// Structured logs with pino. containerd and docker pass `--log FILE --log-format json` and read
// the last error back from FILE, so the JSON shape follows runc's logrus output: level as a
// label, "msg", "time".
import { pino, type Logger } from "pino";
import type { GlobalOptions } from "./cli.js";

export type { Logger };

export function createLogger(opts: Pick<GlobalOptions, "log" | "logFormat" | "debug">, bindings: Record<string, unknown> = {}): Logger {
  const level = opts.debug ? "debug" : "info";
  if (!opts.log) return pino({ level, enabled: false });
  const json = opts.logFormat === "json";
  const dest = pino.destination({ dest: opts.log, sync: true, mkdir: true, append: true });
  return pino(
    {
      level,
      base: bindings,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    json ? dest : textStream(dest),
  );
}

/** `--log-format text`: one human line per record, like logrus's text formatter. */
function textStream(dest: pino.DestinationStream): pino.DestinationStream {
  return {
    write(line: string) {
      try {
        const r = JSON.parse(line) as Record<string, unknown>;
        const { time, level, msg, ...rest } = r;
        const extra = Object.entries(rest)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(" ");
        dest.write(`time="${String(time)}" level=${String(level)} msg=${JSON.stringify(msg ?? "")}${extra ? " " + extra : ""}\n`);
      } catch {
        dest.write(line);
      }
    },
  };
}
