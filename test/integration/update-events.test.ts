// runc's cgroup verbs on a running container: `update` (flags and --resources JSON) changes the
// limits the kernel enforces, `events` reports the cgroup's counters as JSON lines; and
// checkpoint/restore, which tsor refuses clearly (no CRIU). Last, `docker update` through a
// private dockerd, whose runc shim calls `tsor update --resources -` (tsor only).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, cgroupValue, mentions, waitFor } from "./harness.js";
import { BUSYBOX_IMAGE, PrivateDockerd, dockerSkipReason } from "../lib/dockerd.js";

const h = new Harness("upd");
after(() => h.cleanup());

const MiB = 2 ** 20;
const sleeper = () => h.bundle({ args: ["sleep", "1000"] });
const isV2 = (pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n").every((l) => l.startsWith("0::"));

describe("update", () => {
  test("--pids-limit, --memory, --cpu-quota/--cpu-period reach the cgroup files", async () => {
    const { id, pid } = await h.started(sleeper());
    h.ok(["update", "--pids-limit", "42", "--memory", "64m", "--cpu-quota", "50000", "--cpu-period", "100000", id]);
    assert.equal(cgroupValue(pid, "pids", "pids.max", "pids.max"), "42");
    assert.equal(cgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max"), String(64 * MiB));
    if (isV2(pid)) assert.equal(cgroupValue(pid, "cpu", "", "cpu.max"), "50000 100000");
    else assert.equal(cgroupValue(pid, "cpu", "cpu.cfs_quota_us", ""), "50000");
  });

  test("--cpu-quota alone keeps the period set before", async () => {
    const { id, pid } = await h.started(sleeper());
    h.ok(["update", "--cpu-quota", "30000", "--cpu-period", "50000", id]);
    h.ok(["update", "--cpu-quota", "20000", id]);
    if (isV2(pid)) assert.equal(cgroupValue(pid, "cpu", "", "cpu.max"), "20000 50000");
    else assert.equal(cgroupValue(pid, "cpu", "cpu.cfs_period_us", ""), "50000");
  });

  test("--resources - reads OCI LinuxResources JSON from stdin", async () => {
    const { id, pid } = await h.started(sleeper());
    const json = JSON.stringify({ memory: { limit: 48 * MiB }, pids: { limit: 17 } });
    h.ok(["update", "--resources", "-", id], { input: json });
    assert.equal(cgroupValue(pid, "pids", "pids.max", "pids.max"), "17");
    assert.equal(cgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max"), String(48 * MiB));
  });

  test("--resources FILE ignores the other flags", async () => {
    const { id, pid } = await h.started(sleeper());
    const file = path.join(h.dir("res"), "resources.json");
    fs.writeFileSync(file, JSON.stringify({ pids: { limit: 23 } }));
    h.ok(["update", "--resources", file, "--pids-limit", "99", id]);
    assert.equal(cgroupValue(pid, "pids", "pids.max", "pids.max"), "23");
  });

  test("a pids limit is enforced: fork fails once it is reached", async () => {
    // The container's own shell forks, once the limit is set (a `runtime exec` would itself be
    // counted, and runc's Go runtime may fail to start its threads under so low a limit).
    // busybox sh gives up at the first failed fork; it notes each background job that started.
    const b = h.bundle({
      args: [
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; " +
          "ok=0; for i in 1 2 3 4 5 6 7 8; do sleep 30 & ok=$((ok+1)); echo $ok > /tmp/n; done 2>/tmp/err; echo all > /tmp/n",
      ],
    });
    const { id } = await h.started(b, "pids");
    h.ok(["update", "--pids-limit", "4", id]);
    const tmp = path.join(b.dir, "rootfs", "tmp");
    fs.writeFileSync(path.join(tmp, "go"), "");
    const err = await waitFor("the shell to fail a fork", () => {
      const text = fs.existsSync(path.join(tmp, "err")) ? fs.readFileSync(path.join(tmp, "err"), "utf8") : "";
      return mentions(text, "fork") ? text : undefined;
    });
    const started = fs.readFileSync(path.join(tmp, "n"), "utf8").trim();
    assert.ok(Number(started) >= 1 && Number(started) < 8, `${started} of 8 background sleeps started under pids.max=4 (${err})`);
  });

  test("a value that is not a size fails naming the flag, and changes nothing", async () => {
    const { id, pid } = await h.started(sleeper());
    const before = cgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max");
    const r = h.rt(["update", "--memory", "lots", id]);
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, "memory", "lots"), r.stderr);
    assert.equal(cgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max"), before);
  });

  test("malformed --resources JSON fails naming the field", async () => {
    const { id } = await h.started(sleeper());
    const r = h.rt(["update", "-r", "-", id], { input: JSON.stringify({ pids: { limit: "many" } }) });
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, "pids", "limit"), r.stderr);
  });

  test("an unknown container is an error, exit 1", () => {
    const r = h.rt(["update", "--pids-limit", "5", "no-such-container"]);
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, "does not exist"), r.stderr);
  });
});

describe("events", () => {
  test("--stats prints one stats line with cpu, memory and pids, then exits", async () => {
    const { id } = await h.started(sleeper());
    h.ok(["update", "--pids-limit", "31", id]);
    const out = h.ok(["events", "--stats", id]);
    const lines = out.trim().split("\n");
    assert.equal(lines.length, 1, out);
    const e = JSON.parse(lines[0]!);
    assert.equal(e.type, "stats");
    assert.equal(e.id, id);
    assert.ok(e.data.memory.usage.usage > 0, "memory.usage.usage");
    assert.equal(typeof e.data.memory.usage.limit, "number");
    assert.ok(e.data.pids.current >= 1, "pids.current");
    assert.equal(e.data.pids.limit, 31);
    assert.ok(e.data.cpu.usage.total > 0, "cpu.usage.total");
  });

  test("--interval streams stats lines until the container is deleted", async () => {
    const { id } = await h.started(sleeper());
    const outFile = path.join(h.dir("events"), "stdout");
    const running = h.rtAsync(["events", "--interval", "200ms", id], { stdoutFile: outFile });
    await waitFor("two stats lines", () => {
      const text = fs.existsSync(outFile) ? fs.readFileSync(outFile, "utf8") : "";
      return text.split("\n").filter((l) => l.includes('"type":"stats"')).length >= 2 ? true : undefined;
    });
    h.ok(["delete", "--force", id]);
    const r = await running;
    assert.equal(r.signal, null, "events ended by itself");
    for (const line of r.stdout.trim().split("\n")) assert.equal(JSON.parse(line).id, id);
  });

  test("an OOM kill in the container is an oom line", async () => {
    const { id } = await h.started(sleeper());
    h.ok(["update", "--memory", "16m", "--memory-swap", "16m", id]);
    const outFile = path.join(h.dir("events"), "stdout");
    const running = h.rtAsync(["events", "--interval", "300ms", id], { stdoutFile: outFile });
    const lines = () => (fs.existsSync(outFile) ? fs.readFileSync(outFile, "utf8").split("\n").filter(Boolean) : []);
    try {
      await waitFor("the first stats line", () => (lines().length > 0 ? true : undefined));
      // A string that doubles until the OOM killer takes the shell.
      const r = h.rt(["exec", id, "sh", "-c", "x=0123456789abcdef; while :; do x=$x$x; done"], { timeoutMs: 30_000 });
      assert.equal(r.code, 137, `the shell was OOM-killed: ${r.code} ${r.stderr}`);
      await waitFor("an oom line", () => (lines().some((l) => JSON.parse(l).type === "oom") ? true : undefined));
      assert.deepEqual(JSON.parse(lines().find((l) => JSON.parse(l).type === "oom")!), { type: "oom", id });
    } finally {
      h.rt(["delete", "--force", id]);
      await running;
    }
  });

  test("an unknown container is an error, exit 1", () => {
    const r = h.rt(["events", "--stats", "no-such-container"]);
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, "does not exist"), r.stderr);
  });

  test("a stopped container has no stats", async () => {
    const { id } = await h.finished(h.bundle({ args: ["true"] }));
    const r = h.rt(["events", "--stats", id]);
    assert.notEqual(r.code, 0);
    assert.ok(mentions(r.stderr, "not running"), r.stderr);
  });
});

describe("checkpoint and restore", { skip: h.rtm.isRunc ? "runc implements them with CRIU" : false }, () => {
  test("checkpoint fails clearly: not supported", async () => {
    const { id } = await h.started(sleeper());
    const r = h.rt(["checkpoint", "--image-path", h.dir("img"), id]);
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, "checkpoint", "not supported"), r.stderr);
    assert.equal(h.state(id)?.status, "running", "the container is untouched");
  });

  test("restore fails clearly: not supported", () => {
    const r = h.rt(["restore", "--image-path", h.dir("img"), h.id("restore")]);
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, "restore", "not supported"), r.stderr);
  });

  test("features says checkpoint is not enabled", () => {
    const f = JSON.parse(h.ok(["features"]));
    assert.equal(f.annotations["org.opencontainers.runc.checkpoint.enabled"], "false");
  });
});

/** The host pid of the one process whose command line is exactly `argv`. */
function pidOf(argv: string[]): number | undefined {
  const want = argv.join("\0") + "\0";
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, "utf8") === want) return Number(name);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

describe("docker update (the runc shim's update --resources -)", { skip: dockerSkipReason(h.rtm.isRunc) }, () => {
  let d: PrivateDockerd | undefined;
  before(async () => {
    d = new PrivateDockerd();
    await d.start();
  });
  after(async () => {
    await d?.stop();
  });

  test("--memory, --memory-swap, --pids-limit reach the container's cgroup", async () => {
    // A command line no other process has, to find the container's process on the host.
    const argv = ["sleep", String(100_000 + (process.pid % 100_000))];
    const id = d!.ok(["run", "-d", "--runtime=tsor", "--network", "none", BUSYBOX_IMAGE, ...argv]).trim();
    try {
      const pid = await waitFor("the container's sleep", () => pidOf(argv));
      d!.ok(["update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "50", id]);
      assert.equal(cgroupValue(pid, "pids", "pids.max", "pids.max"), "50");
      assert.equal(cgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max"), String(64 * MiB));
    } finally {
      d!.docker(["rm", "-f", id]);
    }
  });
});
