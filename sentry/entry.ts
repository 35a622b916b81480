// A sentry process's work, given its launch request: `sentry/main.ts` (the tsc tree) and the
// bundle's launcher (oci/launcher.ts) both call sentryMain. Spawned detached by `tsor create`;
// lives as long as the container's first process.
import * as fs from "node:fs";
import { createLogger } from "../oci/log.js";
import { ContainerSupervisor } from "./supervisor.js";
import { STATUS_FD, type LaunchRequest } from "./launch.js";

async function supervise(requestJson: string): Promise<number> {
  const req = JSON.parse(requestJson) as LaunchRequest;
  const log = createLogger(req, { component: "sentry", id: req.id });
  // The sentry's own stdio belongs to the container; a stray SIGINT/SIGHUP aimed at the CLI's
  // terminal must not take the supervisor down with it.
  process.on("SIGINT", () => {});
  process.on("SIGHUP", () => {});
  process.on("SIGPIPE", () => {});
  const status = fs.createWriteStream("", { fd: STATUS_FD });
  status.on("error", () => {});
  return new ContainerSupervisor(req, log).run(status);
}

/** Supervises the container `requestJson` (a LaunchRequest) describes, then exits with its code. */
export function sentryMain(requestJson: string): void {
  supervise(requestJson).then(
    (code) => process.exit(code),
    (e: unknown) => {
      // Last resort: nothing else may write on stdout/stderr, which are the container's.
      try {
        fs.writeSync(STATUS_FD, JSON.stringify({ error: `sentry: ${e instanceof Error ? e.message : String(e)}` }) + "\n");
      } catch {
        /* the CLI is gone */
      }
      process.exit(1);
    },
  );
}
