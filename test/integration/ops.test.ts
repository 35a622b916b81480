// Verbs on an existing container: exec, pause/resume, list, ps.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, cgroupValue, pidAlive, procState, waitFor } from "./harness.js";

const h = new Harness("ops");
after(() => h.cleanup());

const sleeper = () => h.bundle({ args: ["sleep", "1000"] });

describe("exec", () => {
  test("exec ARGS runs in the container and its stdout is passed through", async () => {
    const { id } = await h.started(h.bundle({ args: ["sleep", "1000"], mutate: (c) => (c.hostname = "exec-box") }));
    const r = h.rt(["exec", id, "hostname"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "exec-box\n");
  });

  test("exec propagates the exit code of the process", async () => {
    const { id } = await h.started(sleeper());
    assert.equal(h.rt(["exec", id, "sh", "-c", "exit 7"]).code, 7);
  });

  test("exec joins the container's pid namespace", async () => {
    const { id } = await h.started(sleeper());
    assert.equal(h.ok(["exec", id, "sh", "-c", "head -c 5 /proc/1/comm"]), "sleep");
  });

  test("exec --cwd sets the working directory", async () => {
    const { id } = await h.started(sleeper());
    assert.equal(h.ok(["exec", "--cwd", "/tmp", id, "pwd"]), "/tmp\n");
  });

  test("exec --env adds environment variables (repeatable)", async () => {
    const { id } = await h.started(sleeper());
    const out = h.ok(["exec", "--env", "ONE=1", "--env", "TWO=2", id, "env"]);
    assert.match(out, /^ONE=1$/m);
    assert.match(out, /^TWO=2$/m);
  });

  test("exec -e is the short form of --env", async () => {
    // runc (urfave/cli) refuses mixing -e and --env in one command line
    const { id } = await h.started(sleeper());
    assert.match(h.ok(["exec", "-e", "SHORT=yes", id, "env"]), /^SHORT=yes$/m);
  });

  test("exec --user UID:GID runs as that user", async () => {
    const { id } = await h.started(sleeper());
    const out = h.ok(["exec", "--user", "1000:1001", id, "grep", "-E", "^(Uid|Gid):", "/proc/self/status"]);
    assert.match(out, /^Uid:\s+1000\s/m);
    assert.match(out, /^Gid:\s+1001\s/m);
  });

  test("exec --process FILE runs the process described in the JSON file", async () => {
    const { id } = await h.started(sleeper());
    const file = path.join(h.dir("proc"), "process.json");
    fs.writeFileSync(file, JSON.stringify({
      terminal: false, user: { uid: 0, gid: 0 }, args: ["sh", "-c", "echo $FROM_FILE; pwd"],
      env: ["PATH=/bin", "FROM_FILE=yes"], cwd: "/etc",
    }));
    assert.equal(h.ok(["exec", "--process", file, id]), "yes\n/etc\n");
  });

  test("exec --detach --pid-file returns while the process runs and records its pid", async () => {
    const { id } = await h.started(sleeper());
    const pidFile = path.join(h.dir("pid"), "pid");
    h.ok(["exec", "--detach", "--pid-file", pidFile, id, "sleep", "999"]);
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    assert.ok(pid > 0 && pidAlive(pid), "exec'd process runs");
    const cmdline = () => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    await waitFor("execve of sleep", () => (cmdline() === "sleep\x00999\x00" ? true : undefined));
  });

  test("exec into a stopped container fails", async () => {
    const { id } = await h.finished(h.bundle({ args: ["true"] }));
    const r = h.rt(["exec", id, "true"]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.length > 0);
  });
});

describe("pause and resume", () => {
  test("pause freezes the container: state paused, process frozen", async () => {
    const { id, pid } = await h.started(sleeper());
    h.ok(["pause", id]);
    assert.equal(h.state(id)!.status, "paused");
    // cgroup v1 freezer shows frozen tasks as D; SIGSTOP-like freezing shows T
    assert.match(procState(pid), /^[DT]$/);
    assert.match(cgroupValue(pid, "freezer", "freezer.state", "cgroup.freeze"), /^(FROZEN|1)$/);
  });

  test("resume thaws a paused container: state running, process sleeping", async () => {
    const { id, pid } = await h.started(sleeper());
    h.ok(["pause", id]);
    h.ok(["resume", id]);
    assert.equal(h.state(id)!.status, "running");
    await waitFor("process thawed", () => (procState(pid) === "S" ? true : undefined));
  });

  test("resume of a container that is not paused fails", async () => {
    const { id } = await h.started(sleeper());
    const r = h.rt(["resume", id]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.length > 0);
  });

  test("exec into a paused container is refused", async () => {
    const { id } = await h.started(sleeper());
    h.ok(["pause", id]);
    const r = h.rt(["exec", id, "true"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /paused/);
    h.ok(["resume", id]);
  });
});

describe("list", () => {
  test("list -q prints one id per line", async () => {
    const a = await h.started(sleeper());
    const b = await h.started(sleeper());
    const ids = h.listIds();
    assert.ok(ids.includes(a.id) && ids.includes(b.id), ids.join(","));
    assert.ok(ids.every((l) => !/\s/.test(l)), "only ids");
  });

  test("list (table) has an ID PID STATUS BUNDLE CREATED OWNER header and a row per container", async () => {
    const { id, pid } = await h.started(sleeper());
    const out = h.ok(["list"]);
    const [header, ...rows] = out.trim().split("\n");
    assert.deepEqual(header!.trim().split(/\s+/), ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
    const row = rows.map((r) => r.trim().split(/\s+/)).find((r) => r[0] === id);
    assert.ok(row, `row for ${id}`);
    assert.equal(row[1], String(pid));
    assert.equal(row[2], "running");
  });

  test("list --format table is the default table", () => {
    assert.match(h.ok(["list", "--format", "table"]), /^ID\s+PID\s+STATUS/);
  });

  test("list --format json is an array of state objects", async () => {
    const { id, pid } = await h.started(sleeper());
    const arr = JSON.parse(h.ok(["list", "--format", "json"]));
    assert.ok(Array.isArray(arr));
    const e = arr.find((x: { id: string }) => x.id === id);
    assert.ok(e, `entry for ${id}`);
    assert.equal(e.pid, pid);
    assert.equal(e.status, "running");
    assert.equal(typeof e.bundle, "string");
    assert.equal(typeof e.created, "string");
  });

  test("list of an empty root: -q prints nothing, json has no entries (runc prints null)", () => {
    const empty = new Harness("empty");
    try {
      assert.equal(empty.ok(["list", "-q"]).trim(), "");
      const v = JSON.parse(empty.ok(["list", "--format", "json"]));
      assert.ok(v === null || (Array.isArray(v) && v.length === 0), JSON.stringify(v));
    } finally {
      empty.cleanup();
    }
  });
});

describe("ps", () => {
  test("ps --format json lists the host pids of the container's processes", async () => {
    const b = h.bundle({ args: ["sh", "-c", "sleep 1001 & exec sleep 1000"] });
    const { id, pid } = await h.started(b);
    const pids = await waitFor("two processes", () => {
      const v: number[] = JSON.parse(h.ok(["ps", "--format", "json", id]));
      return v.length === 2 ? v : undefined;
    });
    assert.ok(pids.includes(pid));
    for (const p of pids) assert.match(fs.readFileSync(`/proc/${p}/cmdline`, "utf8"), /^sleep\x00100[01]\x00$/);
  });

  test("ps (table) prints a ps header with PID and CMD columns and the init process", async () => {
    const { id, pid } = await h.started(sleeper());
    const out = h.ok(["ps", id]);
    const [header, ...rows] = out.trim().split("\n");
    const cols = header!.trim().split(/\s+/);
    assert.ok(cols.includes("PID") && cols.includes("CMD"), header);
    const pidCol = cols.indexOf("PID");
    assert.ok(rows.some((r) => r.trim().split(/\s+/)[pidCol] === String(pid)), out);
  });
});
