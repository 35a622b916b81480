// The cgroup manager against the real kernel (root only): create a cgroup under a unique name,
// put a `sleep` in it, set limits and read them back, freeze/thaw, list, kill, destroy. Cleans
// up (child process, cgroup dirs, the unique parent) even when an assertion fails.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmdirSync } from "node:fs";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { createCgroupManager, detectCgroupLayout, type CgroupLayout, type CgroupManager } from "../../oci/cgroups/index.js";

const isRoot = process.getuid?.() === 0;
let layout: CgroupLayout | undefined;
try {
  layout = detectCgroupLayout(readFileSync("/proc/self/mountinfo", "utf8"));
} catch {
  // no cgroups mounted: skip
}
const layoutOk = layout !== undefined;
const skip = !isRoot ? "needs root" : !layoutOk ? "no cgroup hierarchy mounted" : false;

const parent = `tsor-it-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const id = "ctr";
const MiB = 2 ** 20;

function procState(pid: number): string {
  const m = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? m[1]! : "?";
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Kill the child, destroy the cgroup, remove our unique parent: whatever the test got to. */
async function cleanup(m: CgroupManager | undefined, child: ChildProcess | undefined): Promise<void> {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (!m) return;
  await m.thaw().catch(() => undefined);
  await m.destroy({ kill: true }).catch(() => undefined);
  // destroy keeps parents: remove our unique one too.
  for (const dir of new Set(Object.values(m.paths()))) {
    try {
      rmdirSync(dir.slice(0, dir.indexOf(`/${parent}/`) + parent.length + 1));
    } catch {
      // already gone
    }
  }
}

describe("cgroups on this host", { skip }, () => {
  let m: CgroupManager | undefined;
  let child: ChildProcess | undefined;
  after(() => cleanup(m, child));

  it("runs a process under limits, freezes, kills and removes it", async () => {
    m = createCgroupManager({ id, cgroupsPath: `/${parent}/${id}` });
    const paths = m.paths();
    m.create();
    for (const dir of Object.values(paths)) assert.ok(existsSync(dir), `${dir} was created`);

    child = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = child.pid!;
    assert.ok(pid > 0);
    m.apply(pid);
    assert.deepEqual(m.pids(), [pid]);

    const warnings = m.set({ memory: { limit: 64 * MiB }, pids: { limit: 32 } });
    assert.deepEqual(warnings, []);
    if (m.mode === "v2") {
      assert.equal(readFileSync(`${paths[""]}/memory.max`, "utf8").trim(), String(64 * MiB));
      assert.equal(readFileSync(`${paths[""]}/pids.max`, "utf8").trim(), "32");
    } else {
      assert.equal(readFileSync(`${paths.memory}/memory.limit_in_bytes`, "utf8").trim(), String(64 * MiB));
      assert.equal(readFileSync(`${paths.pids}/pids.max`, "utf8").trim(), "32");
      assert.ok(readFileSync(`${paths.memory}/cgroup.procs`, "utf8").split("\n").includes(String(pid)));
    }

    const before = procState(pid);
    assert.equal(before, "S");
    await m.freeze();
    assert.equal(m.state(), "frozen");
    // Frozen tasks sit in the refrigerator: not "S" sleeping any more (D on v1, kernel-dependent on v2).
    if (m.mode !== "v2") assert.notEqual(procState(pid), "S", "frozen task state");
    await m.thaw();
    assert.equal(m.state(), "thawed");
    await until("task to wake", () => procState(pid) === "S");

    const exited = once(child, "exit");
    await m.killAll("SIGKILL");
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, "SIGKILL");
    await until("cgroup to empty", () => m!.pids().length === 0);

    await m.destroy();
    for (const dir of Object.values(paths)) assert.ok(!existsSync(dir), `${dir} was removed`);
    await m.destroy(); // idempotent
  });
});

// On a hybrid host the cgroup2 hierarchy (/sys/fs/cgroup/unified) has no limit controllers but
// has the v2 core: drive the v2 manager there to check cgroup.freeze/events/kill on a real kernel.
const hybridSkip = skip || (layout?.mode !== "hybrid" ? "not a hybrid host (v2 hosts run the test above on v2)" : false);

describe("cgroup v2 core on the hybrid host's unified hierarchy", { skip: hybridSkip }, () => {
  let m: CgroupManager | undefined;
  let child: ChildProcess | undefined;
  after(() => cleanup(m, child));

  it("freezes via cgroup.freeze, kills via cgroup.kill, removes the directory", async () => {
    const unified = layout!.unified!;
    m = createCgroupManager({ id: "v2", cgroupsPath: `/${parent}/v2`, layout: { mode: "v2", v1: {}, unified } });
    const dir = m.paths()[""]!;
    assert.equal(dir, `${unified}/${parent}/v2`);
    m.create();
    assert.ok(existsSync(`${dir}/cgroup.freeze`));

    child = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = child.pid!;
    m.apply(pid);
    assert.deepEqual(m.pids(), [pid]);
    assert.match(readFileSync(`/proc/${pid}/cgroup`, "utf8"), new RegExp(`^0::/${parent}/v2$`, "m"));

    await m.freeze();
    assert.equal(m.state(), "frozen");
    assert.match(readFileSync(`${dir}/cgroup.events`, "utf8"), /^frozen 1$/m);
    await m.thaw();
    assert.equal(m.state(), "thawed");

    const exited = once(child, "exit");
    await m.killAll(); // SIGKILL: cgroup.kill when the kernel has it
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, "SIGKILL");
    await until("cgroup to empty", () => m!.pids().length === 0);
    await m.destroy();
    assert.ok(!existsSync(dir));
  });
});
