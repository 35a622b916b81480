// The sentry's supervision contract (tsor only; runc has no sentry): the app never outlives its
// supervisor, and what is left after such a death is still cleaned up by delete.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, cgroupDirsOf, pidAlive, waitFor } from "./harness.js";
import { allowNetAdmin, buildPrograms, containerArgs, installPrograms } from "../syscalls/runner.js";

const h = new Harness("sentry");
after(() => h.cleanup());

describe("sentry supervision", { skip: h.rtm.isRunc ? "runc has no sentry" : false }, () => {
  test("killing the sentry kills the container; state says stopped; delete leaves nothing", async () => {
    const { id, pid } = await h.started(h.bundle({ args: ["sleep", "300"] }));
    const snap = h.snapshot(id);
    const sentry = h.sentryPid(id)!;
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
    process.kill(h.sentryPid(id)!, "SIGKILL");
    await run;
    await waitFor("the app to die with the run process", () => (pidAlive(s.pid) ? undefined : true));
    h.ok(["delete", "--force", id]);
  });

  test("the sentry runs in a sibling of the container's cgroup, charged with its memory; pause leaves it running; delete removes it", async () => {
    const { id, pid } = await h.started(h.bundle({ args: ["sleep", "300"] }));
    const sentry = h.sentryPid(id)!;
    const raw = JSON.parse(fs.readFileSync(path.join(h.root, id, "state.json"), "utf8"));
    const containerPath: string = raw.tsor.cgroupsPath;
    const expected = path.posix.join(path.posix.dirname(containerPath), `tsor-sentry-${id}`);
    assert.equal(raw.tsor.sentryCgroup?.path, expected);
    const lines = fs.readFileSync(`/proc/${sentry}/cgroup`, "utf8").trim().split("\n");
    const memory = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l)) ?? lines.find((l) => l.startsWith("0::"));
    assert.ok(memory?.endsWith(`:${expected}`), `sentry's cgroup: ${lines.join(" | ")}`);
    const app = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8");
    assert.ok(app.includes(containerPath) && !app.includes("tsor-sentry-"), `app's cgroup: ${app}`);
    const dirs = cgroupDirsOf(sentry);
    const memDir = dirs.find((d) => fs.existsSync(path.join(d, "memory.usage_in_bytes")) || fs.existsSync(path.join(d, "memory.current")));
    if (memDir) {
      const file = fs.existsSync(path.join(memDir, "memory.current")) ? "memory.current" : "memory.usage_in_bytes";
      const charged = Number(fs.readFileSync(path.join(memDir, file), "utf8"));
      // The CLI moved it in while Node was starting: its heap is charged there (~18 MiB here).
      assert.ok(charged > 4 * 2 ** 20, `sentry cgroup charged ${charged} bytes`);
    }
    // Paused: the app's cgroup is frozen, the sentry's is not.
    h.ok(["pause", id]);
    assert.equal(h.state(id)?.status, "paused");
    const frozen = (dir: string) =>
      fs.existsSync(path.join(dir, "freezer.state"))
        ? fs.readFileSync(path.join(dir, "freezer.state"), "utf8").trim() === "FROZEN"
        : fs.existsSync(path.join(dir, "cgroup.events")) && /^frozen 1$/m.test(fs.readFileSync(path.join(dir, "cgroup.events"), "utf8"));
    assert.ok(cgroupDirsOf(pid).some(frozen), "the app's cgroup is frozen");
    assert.ok(!dirs.some(frozen), "the sentry's is not");
    h.ok(["resume", id]);
    assert.equal(h.state(id)?.status, "running");
    const snap = h.snapshot(id);
    assert.ok(snap.cgroupDirs.some((d) => d.includes("tsor-sentry-")), `snapshot: ${snap.cgroupDirs.join(" ")}`);
    h.ok(["kill", id, "KILL"]);
    await h.waitStatus(id, "stopped");
    await waitFor("the sentry to exit", () => (pidAlive(sentry) ? undefined : true));
    for (const d of dirs) assert.ok(!fs.existsSync(d), `the sentry removed ${d} on its way out`);
    h.ok(["delete", id]);
    h.assertNothingLeft(snap);
  });

  test("a foreground run moves itself into the sentry cgroup and out again: nothing left", async () => {
    const b = h.bundle({ args: ["sleep", "300"] });
    const id = h.id("fgcg");
    const run = h.rtAsync(["run", "--bundle", b.dir, id]);
    await waitFor("the container to run", () => (h.state(id)?.status === "running" ? true : undefined));
    const sentry = h.sentryPid(id)!;
    const dirs = cgroupDirsOf(sentry);
    assert.ok(dirs.some((d) => d.includes("tsor-sentry-")), `run process cgroups: ${dirs.join(" ")}`);
    h.ok(["kill", id, "KILL"]);
    await run;
    for (const d of dirs) assert.ok(!fs.existsSync(d), `${d} left after run`);
    assert.equal(h.state(id), undefined);
  });

  test("a tsor-netd the sentry starts leaves the sentry's cgroup (it serves the node, not the pod)", async () => {
    const name = `cg-${process.pid}`;
    const stateDir = h.dir("netd-cg");
    const env: NodeJS.ProcessEnv = { ...process.env, TSOR_NETD_NAME: name, TSOR_NETD_STATE_DIR: stateDir, TSOR_NETD_SOCKET: path.join(stateDir, "netd.sock") };
    delete env.TSOR_NETD_SPAWN;
    const b = h.bundle({ args: ["sleep", "300"] });
    const id = h.id("netdcg");
    const r = h.rt(["create", "--bundle", b.dir, id], { env });
    assert.equal(r.code, 0, r.stderr);
    let netd: number | undefined;
    try {
      netd = await waitFor("the auto-started netd's pid file", () => {
        const f = path.join(stateDir, "netd.pid");
        return fs.existsSync(f) ? Number(fs.readFileSync(f, "utf8").trim()) || undefined : undefined;
      });
      const cg = fs.readFileSync(`/proc/${netd}/cgroup`, "utf8");
      assert.ok(!cg.includes("tsor-sentry-"), `netd's cgroup: ${cg}`);
    } finally {
      h.ok(["delete", "--force", id]);
      if (netd !== undefined && pidAlive(netd)) process.kill(netd, "SIGTERM");
    }
  });

  // sockopt_conn_edges sets TCP_NODELAY (-7 and 1) and TCP_KEEPIDLE/KEEPINTVL/KEEPCNT (their min
  // and max) with optlen 4 on both ends of a connection: 16 calls the addon takes; its other
  // calls (out of range, optlen 8 or 2, a bad pointer) reach the sentry's JS. The syscall suite
  // checks that the outputs match Linux either way.
  test("the addon answers the per-connection TCP options itself (seccomp), exactly those; TSOR_FAST_SETSOCKOPT=0 turns it off", () => {
    buildPrograms();
    const b = h.bundle({ args: containerArgs("sockopt_conn_edges"), mutate: allowNetAdmin });
    installPrograms(b.rootfs, ["sockopt_conn_edges"]);
    const answered = (env: NodeJS.ProcessEnv, flags: string[]): string[] => {
      const log = path.join(h.dir("fastlog"), "sentry.log");
      const r = h.rt(["--debug", "--log", log, "--log-format", "json", "run", ...flags, "--bundle", b.dir, h.id("fast")], { env });
      assert.equal(r.code, 0, r.stderr);
      return fs.readFileSync(log, "utf8").split("\n").filter((l) => l.includes("fast setsockopt")).map((l) => String(JSON.parse(l).answered));
    };
    assert.deepEqual(answered(process.env, ["--platform", "seccomp"]), ["16"]);
    assert.deepEqual(answered({ ...process.env, TSOR_FAST_SETSOCKOPT: "0" }, ["--platform", "seccomp"]), ["0"]);
    assert.deepEqual(answered(process.env, ["--platform", "ptrace"]), [], "ptrace: no fast path");
  });
});
