// The state store: id rules, atomic reserve (duplicate ids), load errors naming the id,
// read-modify-write, listing, pid-reuse guard and the public view runc prints.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { StateStore, appNamespacePath, processAlive, processStartTime, publicState, validateId, type ContainerState } from "../../oci/state.js";
import { UserError } from "../../oci/cli.js";

function tempStore(t: { after: (fn: () => void) => void }): StateStore {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-state-"));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return new StateStore(path.join(root, "run"));
}

function sample(id: string): ContainerState {
  return {
    ociVersion: "1.2.0",
    id,
    pid: 4242,
    status: "created",
    bundle: "/b",
    rootfs: "/b/rootfs",
    created: "2026-01-01T00:00:00.000Z",
    owner: "",
    annotations: {},
    tsor: { sentryPid: 1, cgroupsPath: "/tsor/" + id, cgroupPaths: {}, namespaces: {}, hooks: {}, configPath: "/x" },
  };
}

test("ids follow runc's pattern; bad ones are refused with the id named", () => {
  for (const ok of ["a", "abc-1.2_3+x", "A".repeat(64)]) validateId(ok);
  for (const bad of ["", ".", "..", "a/b", "a b", "ü", "x\n"]) {
    assert.throws(() => validateId(bad), (e: unknown) => e instanceof UserError && (bad === "" || e.message.includes(bad)));
  }
});

test("reserve is atomic: a second reserve of the same id is a UserError naming it", (t) => {
  const s = tempStore(t);
  s.reserve("c1");
  assert.throws(() => s.reserve("c1"), /container with id exists: c1/);
});

test("load of an unknown id names the id; a corrupt state file names the file", (t) => {
  const s = tempStore(t);
  assert.throws(() => s.load("nope"), /container does not exist: nope/);
  s.reserve("bad");
  fs.writeFileSync(path.join(s.dir("bad"), "state.json"), "{not json");
  assert.throws(() => s.load("bad"), /corrupt state file .*state\.json/);
});

test("save/load/update round trip and leave no temp files behind", (t) => {
  const s = tempStore(t);
  s.reserve("c2");
  s.save(sample("c2"));
  s.update("c2", (st) => (st.status = "running"));
  assert.equal(s.load("c2").status, "running");
  assert.deepEqual(fs.readdirSync(s.dir("c2")), ["state.json"]);
});

test("ids() lists only directories with a state file, sorted; remove() forgets", (t) => {
  const s = tempStore(t);
  for (const id of ["b", "a", "half"]) s.reserve(id);
  s.save(sample("b"));
  s.save(sample("a"));
  assert.deepEqual(s.ids(), ["a", "b"]);
  s.remove("a");
  assert.deepEqual(s.ids(), ["b"]);
  assert.equal(s.exists("a"), false);
});

test("ids() of a root that does not exist yet is empty", () => {
  assert.deepEqual(new StateStore("/nonexistent/tsor-root").ids(), []);
});

test("processAlive checks the start time, so a reused pid is not our process", () => {
  const t = processStartTime(process.pid);
  assert.ok(t !== undefined && t > 0);
  assert.equal(processAlive(process.pid, t), true);
  assert.equal(processAlive(process.pid, t + 1), false);
  assert.equal(processAlive(0), false);
  assert.equal(processAlive(2 ** 22 + 1), false);
});

test("publicState has runc's fields, pid 0 once stopped, annotations only when present", () => {
  const st = sample("p");
  assert.deepEqual(Object.keys(publicState(st)), ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]);
  assert.equal(publicState({ ...st, status: "stopped" }).pid, 0);
  assert.deepEqual(publicState({ ...st, annotations: { k: "v" } }).annotations, { k: "v" });
});

test("a namespace path through a container's sentry becomes its app's (CRI under --report-sentry-pid)", (t) => {
  const s = tempStore(t);
  s.reserve("sandbox");
  const st = sample("sandbox");
  st.tsor.sentryPid = process.pid;
  st.tsor.sentryStartTime = processStartTime(process.pid);
  st.pid = 4242;
  s.save(st);
  assert.equal(appNamespacePath(s, `/proc/${process.pid}/ns/net`), "/proc/4242/ns/net");
  assert.equal(appNamespacePath(s, `/proc/${process.pid}/ns/ipc`), "/proc/4242/ns/ipc");
  assert.equal(appNamespacePath(s, "/proc/1/ns/net"), "/proc/1/ns/net");
  assert.equal(appNamespacePath(s, "/run/netns/pod-a"), "/run/netns/pod-a");
});
