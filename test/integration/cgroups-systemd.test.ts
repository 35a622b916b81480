// `--systemd-cgroup` (tsor only: runc's systemd driver needs systemd over D-Bus, which this
// machine has not): linux.cgroupsPath "slice:prefix:name" puts the container in the directory
// systemd gives that unit, under the slices it names, with its limits; delete removes the scope
// (the slices are the caller's, as kubelet's and docker's are).
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, cgroupValue, pidAlive } from "./harness.js";

const h = new Harness("sdcg");
const slice = `tsortest${process.pid}`;
after(() => {
  h.cleanup();
  // The slices the test's path named (tsor made them, as systemd would have): deepest first, in
  // every hierarchy (v2 at the mount itself, v1 and hybrid below it).
  const mounts = ["/sys/fs/cgroup", ...fs.readdirSync("/sys/fs/cgroup").map((m) => path.join("/sys/fs/cgroup", m))];
  for (const mount of mounts) {
    for (const rel of [`${slice}.slice/${slice}-pods.slice`, `${slice}.slice`]) {
      try {
        fs.rmdirSync(path.join(mount, rel));
      } catch {
        /* not there */
      }
    }
  }
});

describe("--systemd-cgroup", { skip: h.rtm.isRunc ? "runc's systemd driver needs systemd (D-Bus)" : false }, () => {
  test("the container runs in <slices>/<prefix>-<name>.scope with its limits; state keeps that path; delete removes it", async () => {
    const id = h.id("sd");
    const b = h.bundle({
      args: ["sleep", "300"],
      mutate: (c) => {
        c.linux.cgroupsPath = `${slice}-pods.slice:tsor-test:${id}`;
        c.linux.resources = { ...(c.linux.resources ?? {}), pids: { limit: 42 } };
      },
    });
    h.ok(["--systemd-cgroup", "create", "--bundle", b.dir, id]);
    h.ok(["start", id]);
    const s = await h.waitStatus(id, "running");
    const expected = `/${slice}.slice/${slice}-pods.slice/tsor-test-${id}.scope`;
    const own = fs.readFileSync(`/proc/${s.pid}/cgroup`, "utf8");
    assert.ok(own.split("\n").some((l) => l.endsWith(`:${expected}`)), `app's cgroup: ${own}`);
    assert.equal(cgroupValue(s.pid, "pids", "pids.max", "pids.max"), "42");
    const raw = JSON.parse(fs.readFileSync(path.join(h.root, id, "state.json"), "utf8"));
    assert.equal(raw.tsor.cgroupsPath, expected);
    assert.equal(raw.tsor.sentryCgroup?.path, `/${slice}.slice/${slice}-pods.slice/tsor-sentry-${id}`);
    // Later commands work from the state, without the flag (as containerd's shim calls them).
    h.ok(["update", "--pids-limit", "50", id]);
    assert.equal(cgroupValue(s.pid, "pids", "pids.max", "pids.max"), "50");
    const snap = h.snapshot(id);
    h.ok(["kill", id, "KILL"]);
    await h.waitStatus(id, "stopped");
    h.ok(["delete", id]);
    h.assertNothingLeft(snap);
    assert.ok(!pidAlive(s.pid));
  });

  test("a cgroupfs path is refused with runc's message, naming the field; nothing is left", () => {
    const id = h.id("bad");
    const b = h.bundle({ mutate: (c) => (c.linux.cgroupsPath = `/${slice}/plain`) });
    const r = h.rt(["--systemd-cgroup", "run", "--bundle", b.dir, id]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--systemd-cgroup: cgroup: expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "\/tsortest\d+\/plain"/);
    assert.equal(h.state(id), undefined);
  });
});

