import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { HookError, runHooks } from "../../gofer/hooks.js";

const SH = "/bin/sh";

describe("gofer runHooks", () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-hooks-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const state = { ociVersion: "1.2.0", id: "c1", status: "creating", pid: 42, bundle: "/b" };

  it("gives the state JSON on stdin, exactly the hook's env and args[0] as argv[0]", async () => {
    const out = path.join(dir, "ok");
    await runHooks("prestart", [{ path: SH, args: ["my-hook", "-c", 'cat > "$OUT.stdin"; env > "$OUT.env"; echo "$0" > "$OUT.argv0"'], env: [`OUT=${out}`, "FOO=bar baz"] }], state);
    assert.deepEqual(JSON.parse(fs.readFileSync(`${out}.stdin`, "utf8")), state);
    const env = fs.readFileSync(`${out}.env`, "utf8");
    assert.match(env, /^FOO=bar baz$/m);
    assert.doesNotMatch(env, /^(HOME|USER|NODE_\w*)=/m, "the runtime's env does not leak into hooks");
    assert.equal(fs.readFileSync(`${out}.argv0`, "utf8"), "my-hook\n");
  });

  it("runs hooks in order", async () => {
    const log = path.join(dir, "order");
    const hook = (n: number) => ({ path: SH, args: ["sh", "-c", `echo ${n} >> ${log}`] });
    await runHooks("poststart", [hook(1), hook(2), hook(3)], state);
    assert.equal(fs.readFileSync(log, "utf8"), "1\n2\n3\n");
  });

  it("names the kind, index, path and exit status of a failing hook", async () => {
    await assert.rejects(runHooks("createRuntime", [{ path: "/bin/false" }], state), (e: unknown) => {
      assert.ok(e instanceof HookError);
      assert.equal(e.message, "createRuntime hook #0 (/bin/false) exited with status 1");
      assert.equal(e.exitCode, 1);
      return true;
    });
    await assert.rejects(
      runHooks("prestart", [{ path: "/bin/true" }, { path: SH, args: ["sh", "-c", "echo broken >&2; exit 3"] }], state),
      /^HookError: prestart hook #1 \(\/bin\/sh\) exited with status 3: broken$/,
    );
  });

  it("reports a hook killed by a signal and one that cannot start", async () => {
    await assert.rejects(runHooks("poststop", [{ path: SH, args: ["sh", "-c", "kill -TERM $$"] }], state), /poststop hook #0 \(\/bin\/sh\) killed by signal SIGTERM/);
    await assert.rejects(runHooks("prestart", [{ path: path.join(dir, "missing") }], state), /prestart hook #0 \(.*missing\) failed to start: .*ENOENT/);
  });

  it("kills a hook after its timeout", async () => {
    const t0 = Date.now();
    await assert.rejects(runHooks("createRuntime", [{ path: SH, args: ["sh", "-c", "sleep 30"], timeout: 1 }], state), (e: unknown) => {
      assert.ok(e instanceof HookError);
      assert.match(e.message, /^createRuntime hook #0 \(\/bin\/sh\) timed out after 1s$/);
      assert.equal(e.signal, "SIGKILL");
      return true;
    });
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `took ${took} ms`);
  });

  it("does not wait for a daemon the hook left holding stderr", async () => {
    const t0 = Date.now();
    await runHooks("poststart", [{ path: SH, args: ["sh", "-c", "sleep 3 & exit 0"] }], state);
    assert.ok(Date.now() - t0 < 2000);
  });

  it("does not fail on a hook that ignores its stdin", async () => {
    await runHooks("prestart", [{ path: "/bin/true" }], { big: "x".repeat(1 << 20) });
  });

  it("with keepGoing runs the rest and rejects with the first failure", async () => {
    const mark = path.join(dir, "after-failure");
    await assert.rejects(
      runHooks("poststop", [{ path: "/bin/false" }, { path: SH, args: ["sh", "-c", `touch ${mark}`] }, { path: "/bin/false", args: ["false", "again"] }], state, { keepGoing: true }),
      /poststop hook #0 \(\/bin\/false\) exited with status 1/,
    );
    assert.ok(fs.existsSync(mark));
  });
});
