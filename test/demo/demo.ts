// `make demo`: a busybox container under tsor, step by step through the runc-style verbs, then
// the same start-up measured against runc. (Issue 5 turns this into the pod-to-pod demo.)
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TSOR, makeBusyboxBundle } from "../lib/bundle.js";
import { formatStartup, measureStartup } from "../bench/startup.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-demo-"));
const root = path.join(tmp, "root");
const id = "tsor-demo";

/**
 * Run a verb and show its output. `create` hands our stdout to the container (as runc does), so
 * its output is not captured: a pipe would stay open as long as the container lives.
 */
function tsor(args: string[], show = true): string {
  if (show) console.log(`$ tsor ${args.join(" ")}`);
  const capture = args[0] !== "create";
  const r = spawnSync(TSOR, ["--root", root, ...args], { encoding: "utf8", stdio: ["ignore", capture ? "pipe" : "inherit", capture ? "pipe" : "inherit"] });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  if (show && out.trim()) console.log(out.trimEnd().replace(/^/gm, "  "));
  if (r.status !== 0 && args[0] !== "run") throw new Error(`tsor ${args[0]} failed (${r.status})`);
  return out;
}

function cleanup(): void {
  spawnSync(TSOR, ["--root", root, "delete", "--force", id], { stdio: "ignore" });
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

try {
  const script = [
    "echo \"hello from $(hostname): pid $$, uid $(id -u)\"",
    "echo \"network interfaces: $(ls /sys/class/net | tr '\\n' ' ')\"",
    "echo \"mounts: $(cut -d' ' -f2 /proc/mounts | tr '\\n' ' ')\"",
    "sleep 1",
  ].join("; ");
  const bundle = makeBusyboxBundle(path.join(tmp, "bundle"), ["sh", "-c", script], (c) => {
    c.hostname = "tsor-demo";
  });
  console.log("== a busybox container under tsor ==");
  tsor(["create", "--bundle", bundle, id]);
  tsor(["state", id]);
  tsor(["start", id]);
  tsor(["ps", id]);
  tsor(["list"]);
  spawnSync("sleep", ["1.5"]);
  tsor(["state", id]);
  tsor(["delete", id]);
  console.log("\n== one-shot run with an exit code ==");
  // A foreground run returns once the container has exited, so its output can be captured.
  const run = spawnSync(TSOR, ["--root", root, "run", "--bundle", makeBusyboxBundle(path.join(tmp, "b2"), ["sh", "-c", "echo bye; exit 7"]), `${id}-2`], { encoding: "utf8" });
  console.log(`$ tsor run ${id}-2   ->  stdout ${JSON.stringify(run.stdout)}, exit code ${run.status}`);
  console.log("\n== start-up time, measured now against Debian's runc ==");
  console.log(formatStartup(measureStartup(7), 7));
} finally {
  cleanup();
}
