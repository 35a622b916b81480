// create / start / state / kill / delete / run: the lifecycle verbs.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, mentions, waitFor, pidAlive } from "./harness.js";

const h = new Harness("life");
after(() => h.cleanup());

const SLEEPER = ["sleep", "1000"];

describe("create", () => {
  test("create --bundle leaves the container in state created with a live init pid", () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    h.ok(["create", "--bundle", b.dir, id]);
    const s = h.state(id)!;
    assert.equal(s.status, "created");
    assert.ok(s.pid > 0 && pidAlive(s.pid), "init process exists");
  });

  test("create -b is the short form of --bundle", () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    h.ok(["create", "-b", b.dir, id]);
    assert.equal(h.state(id)!.bundle, b.dir);
  });

  test("create without --bundle uses the current directory", () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    h.ok(["create", id], { cwd: b.dir });
    assert.equal(h.state(id)!.bundle, b.dir);
  });

  test("create --pid-file writes the init pid reported by state", () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    const pidFile = path.join(h.dir("pid"), "pid");
    h.ok(["create", "--bundle", b.dir, "--pid-file", pidFile, id]);
    assert.equal(Number(fs.readFileSync(pidFile, "utf8").trim()), h.state(id)!.pid);
  });

  test("the process does not run before start", () => {
    const b = h.bundle({ args: ["sh", "-c", "echo started > /tmp/mark; sleep 1000"] });
    const id = h.id();
    h.ok(["create", "--bundle", b.dir, id]);
    assert.ok(!fs.existsSync(path.join(b.rootfs, "tmp", "mark")));
  });

  test("create --no-pivot runs the container (MS_MOVE + chroot)", async () => {
    const b = h.bundle({ args: ["sh", "-c", "ls / > /tmp/root-listing; sleep 1000"] });
    const id = h.id();
    h.ok(["create", "--no-pivot", "--bundle", b.dir, id]);
    h.ok(["start", id]);
    const listing = await waitFor("listing", () => {
      const f = path.join(b.rootfs, "tmp", "root-listing");
      return fs.existsSync(f) && fs.readFileSync(f, "utf8").includes("bin") ? fs.readFileSync(f, "utf8") : undefined;
    });
    assert.match(listing, /^proc$/m);
  });
});

describe("start", () => {
  test("start runs the process and the status becomes running", async () => {
    const b = h.bundle({ args: ["sh", "-c", "echo started > /tmp/mark; sleep 1000"] });
    const id = h.id();
    h.ok(["create", "--bundle", b.dir, id]);
    h.ok(["start", id]);
    await waitFor("mark", () => (fs.existsSync(path.join(b.rootfs, "tmp", "mark")) ? true : undefined));
    assert.equal(h.state(id)!.status, "running");
  });

  test("a container whose process exited is stopped and keeps its state until delete", async () => {
    const { id, state } = await h.finished(h.bundle({ args: ["true"] }));
    assert.equal(state.id, id);
    assert.deepEqual(h.listIds().includes(id), true);
  });

  test("start on a running container fails", async () => {
    const { id } = await h.started(h.bundle({ args: SLEEPER }));
    const r = h.rt(["start", id]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.length > 0);
  });
});

describe("state", () => {
  test("state prints the OCI state JSON fields", async () => {
    const b = h.bundle({ args: SLEEPER, mutate: (c) => (c.annotations = { "org.tsor.test": "yes" }) });
    const id = h.id();
    h.ok(["create", "--bundle", b.dir, id]);
    const s = h.state(id)!;
    assert.equal(typeof s.ociVersion, "string");
    assert.equal(s.id, id);
    assert.equal(typeof s.pid, "number");
    assert.equal(s.status, "created");
    assert.equal(s.bundle, b.dir);
    assert.equal(s.rootfs, b.rootfs);
    assert.ok(!Number.isNaN(Date.parse(s.created)), `created is a timestamp: ${s.created}`);
    // runc 1.1.5 prints "owner": "" for root; tsor may print the user or omit it
    if ("owner" in s) assert.equal(typeof s.owner, "string");
    assert.deepEqual(s.annotations, { "org.tsor.test": "yes" });
  });

  test("state of a stopped container reports pid 0 (runc)", async () => {
    const { state } = await h.finished(h.bundle({ args: ["true"] }));
    assert.equal(state.pid, 0);
  });
});

describe("kill", () => {
  /** A container whose shell has installed `trap TRAP TERM` (it is pid 1: no trap, no death). */
  async function trapping(trap: string) {
    const b = h.bundle({ args: ["sh", "-c", `trap ${trap} TERM; touch /tmp/ready; while true; do sleep 1; done`] });
    const c = await h.started(b);
    await waitFor("trap installed", () => (fs.existsSync(path.join(b.rootfs, "tmp", "ready")) ? true : undefined));
    return { ...c, b };
  }

  for (const sig of ["SIGTERM", "TERM", "15"]) {
    test(`kill ${sig} stops a running container`, async () => {
      const { id } = await trapping("'exit 0'");
      h.ok(["kill", id, sig]);
      await h.waitStatus(id, "stopped");
    });
  }

  test("kill without a signal sends SIGTERM", async () => {
    const { id, b } = await trapping("'echo got-term > /tmp/sig; exit 0'");
    h.ok(["kill", id]);
    await h.waitStatus(id, "stopped");
    assert.equal(fs.readFileSync(path.join(b.rootfs, "tmp", "sig"), "utf8").trim(), "got-term");
  });

  test("kill KILL stops a process that ignores SIGTERM", async () => {
    const { id } = await trapping("''");
    h.ok(["kill", id, "KILL"]);
    await h.waitStatus(id, "stopped");
  });

  test("kill --all signals every process of the container", async () => {
    const b = h.bundle({ args: ["sh", "-c", "sleep 1001 & sleep 1002 & wait"] });
    const { id, pid } = await h.started(b);
    const children = await waitFor("two children", () => {
      const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((x) => x);
      return kids.length === 2 ? kids.map(Number) : undefined;
    });
    h.ok(["kill", "--all", id, "KILL"]);
    await h.waitStatus(id, "stopped");
    for (const c of children) await waitFor(`child ${c} gone`, () => (pidAlive(c) ? undefined : true));
  });

  test("kill KILL of a created (never started) container stops it", async () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    h.ok(["create", "--bundle", b.dir, id]);
    h.ok(["kill", id, "KILL"]);
    await h.waitStatus(id, "stopped");
  });

  test("kill on a stopped container fails", async () => {
    const { id } = await h.finished(h.bundle({ args: ["true"] }));
    const r = h.rt(["kill", id, "KILL"]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.length > 0);
  });
});

describe("delete", () => {
  test("delete of a stopped container leaves nothing behind", async () => {
    const { id } = await h.started(h.bundle({ args: ["sh", "-c", "sleep 1000"] }));
    const snap = h.snapshot(id);
    h.ok(["kill", id, "KILL"]);
    await h.waitStatus(id, "stopped");
    h.ok(["delete", id]);
    h.assertNothingLeft(snap);
  });

  test("delete --force of a running container kills it and leaves nothing behind", async () => {
    const { id } = await h.started(h.bundle({ args: SLEEPER }));
    const snap = h.snapshot(id);
    assert.ok(snap.cgroupDirs.length > 0, "container has its own cgroup");
    h.ok(["delete", "--force", id]);
    h.assertNothingLeft(snap);
  });

  test("delete without --force refuses a running container (exit 1) and keeps it", async () => {
    const { id } = await h.started(h.bundle({ args: SLEEPER }));
    const r = h.rt(["delete", id]);
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, id) || mentions(r.stderr, "running") || mentions(r.stderr, "stopped"), r.stderr);
    assert.equal(h.state(id)!.status, "running");
  });

  test("delete of a created (never started) container removes it (runc: no --force needed)", () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    h.ok(["create", "--bundle", b.dir, id]);
    const snap = h.snapshot(id);
    h.ok(["delete", id]);
    h.assertNothingLeft(snap);
  });
});

describe("run", () => {
  test("run in the foreground passes the container's stdout through", () => {
    const r = h.run(h.bundle({ args: ["echo", "hello from the container"] }));
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "hello from the container\n");
  });

  test("run passes the container's stderr through", () => {
    const r = h.run(h.bundle({ args: ["sh", "-c", "echo oops >&2"] }));
    assert.equal(r.code, 0);
    assert.match(r.stderr, /oops/);
  });

  test("run propagates the exit code (sh -c 'exit 3' -> 3)", () => {
    assert.equal(h.run(h.bundle({ args: ["sh", "-c", "exit 3"] })).code, 3);
  });

  test("run removes the container when the process exits", () => {
    const r = h.run(h.bundle({ args: ["true"] }));
    assert.equal(r.code, 0);
    assert.equal(h.state(r.id), undefined);
    assert.ok(!fs.existsSync(path.join(h.root, r.id)));
  });

  test("run of a process killed by SIGKILL exits 128+9", async () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id("sig");
    const done = h.rtAsync(["run", "--bundle", b.dir, id]);
    await h.waitStatus(id, "running");
    h.ok(["kill", id, "KILL"]);
    const r = await done;
    assert.equal(r.code, 137);
  });

  test("run of a process killed by SIGTERM exits 128+15", () => {
    // without a pid namespace the shell is not an init, so its own SIGTERM kills it
    const b = h.bundle({
      args: ["sh", "-c", "kill -TERM $$; sleep 1000"],
      mutate: (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "pid")),
    });
    assert.equal(h.run(b).code, 143);
  });

  test("run --detach returns while the container keeps running", async () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    const r = h.rt(["run", "--detach", "--bundle", b.dir, id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(h.state(id)!.status, "running");
  });

  test("run -d --pid-file writes the pid of the running process", () => {
    const b = h.bundle({ args: SLEEPER });
    const id = h.id();
    const pidFile = path.join(h.dir("pid"), "pid");
    h.ok(["run", "-d", "--pid-file", pidFile, "--bundle", b.dir, id]);
    assert.equal(Number(fs.readFileSync(pidFile, "utf8").trim()), h.state(id)!.pid);
  });
});
