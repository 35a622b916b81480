// Entry point of a sentry process from the tsc tree: `node dist/sentry/main.js '<LaunchRequest
// JSON>'` (with `make build`'s bundles the launcher runs it instead: oci/launcher.ts).
import { sentryMain } from "./entry.js";

sentryMain(process.argv[2] ?? "");
