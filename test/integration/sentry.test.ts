// The sentry's supervision contract (tsor only; runc has no sentry): the app never outlives its
// supervisor, and what is left after such a death is still cleaned up by delete.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, pidAlive, waitFor } from "./harness.js";

const h = new Harness("sentry");
after(() => h.cleanup());

describe("sentry supervision", { skip: h.rtm.isRunc ? "runc has no sentry" : false }, () => {
  test("killing the sentry kills the container; state says stopped; delete leaves nothing", async () => {
    const { id, pid } = await h.started(h.bundle({ args: ["sleep", "300"] }));
    const snap = h.snapshot(id);
    const raw = JSON.parse(fs.readFileSync(path.join(h.root, id, "state.json"), "utf8"));
    const sentry: number = raw.tsor.sentryPid;
    assert.ok(sentry > 0 && pidAlive(sentry), "sentry runs");
    process.kill(sentry, "SIGKILL");
    await waitFor("the app to die with its sentry", () => (pidAlive(pid) ? undefined : true));
    assert.equal(h.state(id)?.status, "stopped");
    h.ok(["delete", id]);
    h.assertNothingLeft(snap);
  });

  test("a foreground run is its own sentry: killing it kills the container", async () => {
    const b = h.bundle({ args: ["sleep", "300"] });
    const id = h.id("fg");
    const run = h.rtAsync(["run", "--bundle", b.dir, id]);
    const s = await waitFor("the container to run", () => {
      const st = h.state(id);
      return st?.status === "running" ? st : undefined;
    });
    const raw = JSON.parse(fs.readFileSync(path.join(h.root, id, "state.json"), "utf8"));
    process.kill(raw.tsor.sentryPid, "SIGKILL");
    await run;
    await waitFor("the app to die with the run process", () => (pidAlive(s.pid) ? undefined : true));
    h.ok(["delete", "--force", id]);
  });
});
