// Entry point of a sentry process: `node dist/sentry/main.js '<LaunchRequest JSON>'`.
// Spawned detached by `tsor create`; lives as long as the container's first process.
import * as fs from "node:fs";
import { createLogger } from "../oci/log.js";
import { ContainerSupervisor } from "./supervisor.js";
import { STATUS_FD, type LaunchRequest } from "./launch.js";

async function main(): Promise<number> {
  const req = JSON.parse(process.argv[2] ?? "") as LaunchRequest;
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

main().then(
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
