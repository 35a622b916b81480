// The platform's trap filter through the CLI (tsor only: `--platform` and `--network` are
// tsor's, DESIGN.md "Processes"). The filter's behaviour call by call is tested in
// test/unit/platform-seccomp.test.ts; here: it is on by default (also under
// --platform ptrace), off with --network host-kernel, and the flags refuse what is not there.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, sleep } from "./harness.js";

const h = new Harness("trap");
after(() => h.cleanup());
const skip = h.rtm.isRunc && "--platform/--network are tsor's own flags";

/** The app's Seccomp_filters count, from inside the container. */
function filters(extra: string[]): number {
  const b = h.bundle({ args: ["grep", "Seccomp_filters", "/proc/self/status"] });
  const r = h.run(b, "f", extra);
  assert.equal(r.code, 0, r.stderr);
  const m = /^Seccomp_filters:\s+(\d+)$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  return Number(m[1]);
}

describe("trap filter", { skip }, () => {
  test("installed by default (seccomp platform), not with --network host-kernel", () => {
    assert.equal(filters([]), 1);
    assert.equal(filters(["--platform", "seccomp", "--network", "tsor"]), 1);
    assert.equal(filters(["--platform", "ptrace"]), 1);
    assert.equal(filters(["--network", "host-kernel"]), 0);
  });

  test("--platform ptrace keeps a group stop (SIGSTOP) until SIGCONT, as without a tracer", async () => {
    const b = h.bundle({ args: ["sh", "-c", "kill -STOP $$; echo resumed > /tmp/resumed; exec sleep 1000"] });
    const resumed = path.join(b.dir, "rootfs", "tmp", "resumed");
    const id = h.createStart(b, "stop", ["--platform", "ptrace"]);
    const { pid } = await h.waitStatus(id, "running");
    const state = () => fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "")[0];
    for (let i = 0; i < 100 && !"tT".includes(state()); i++) await sleep(50);
    assert.ok("tT".includes(state()), `the app never stopped (state ${state()})`);
    await sleep(300);
    assert.ok("tT".includes(state()), `the stop was not kept (state ${state()})`);
    assert.ok(!fs.existsSync(resumed), "the app ran on before SIGCONT");
    h.ok(["kill", id, "CONT"]);
    for (let i = 0; i < 100 && !fs.existsSync(resumed); i++) await sleep(50);
    assert.ok(fs.existsSync(resumed), "SIGCONT did not resume the app");
    h.ok(["kill", id, "KILL"]);
    await h.waitStatus(id, "stopped");
    h.ok(["delete", id]);
  });

  test("stacks with the config's profile, also without no_new_privs for a non-root app", () => {
    // no_new_privs off: both filters load before the switch to uid 1000 (CAP_SYS_ADMIN needed).
    const b = h.bundle({
      args: ["sh", "-c", "grep Seccomp_filters /proc/self/status; id -u"],
      mutate: (c) => {
        c.process.noNewPrivileges = false;
        c.process.user = { uid: 1000, gid: 1000 };
        c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["sethostname"], action: "SCMP_ACT_ERRNO" }] };
      },
    });
    const r = h.run(b, "stack");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Seccomp_filters:\s+2$/m);
    assert.match(r.stdout, /^1000$/m);
  });

  test("--platform/--network name what they accept", () => {
    const b = h.bundle({ args: ["true"] });
    for (const [flags, words] of [
      [["--platform", "kvm"], /--platform kvm: unknown platform \(one of seccomp, ptrace\)/],
      [["--network", "none"], /--network none: unknown mode \(one of tsor, host-kernel\)/],
    ] as const) {
      const r = h.run(b, "bad", [...flags]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, words);
    }
    assert.deepEqual(h.listIds(), []);
    assert.deepEqual(fs.readdirSync(h.root), []);
  });

  test("io_uring_setup is refused with ENOSYS on both platforms (its socket operations would bypass the sentry); host-kernel leaves it to the kernel", () => {
    // The errno of io_uring_setup(4, &params), or "ok" if it made a ring.
    const probe = `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
r = libc.syscall(425, 4, params)
print("io_uring_setup", "ok" if r >= 0 else ctypes.get_errno())`;
    const b = h.bundle({ hostRo: true, args: ["python3", "-c", probe] });
    for (const platform of ["seccomp", "ptrace"]) {
      const r = h.run(b, `uring-${platform}`, ["--platform", platform]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "io_uring_setup 38", `--platform ${platform}: ENOSYS (38) expected`);
    }
    const host = h.run(b, "uring-host", ["--network", "host-kernel"]);
    assert.equal(host.code, 0, host.stderr);
    assert.notEqual(host.stdout.trim(), "", host.stderr);
    assert.notEqual(host.stdout.trim(), "io_uring_setup 38", "host-kernel: the kernel's own answer (a ring on this machine)");
  });
});
