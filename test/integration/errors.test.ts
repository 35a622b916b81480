// Error cases: exit status, one stderr line naming the culprit, and nothing left behind.
// runc and tsor word their errors differently, so only key words are checked.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, mentions, type RunResult } from "./harness.js";

const h = new Harness("err");
after(() => h.cleanup());

/** Exit `code`, exactly one non-empty stderr line, and it mentions one of `culprits`. */
function assertError(r: RunResult, culprits: string[], code = 1): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `one stderr line: ${r.stderr}`);
  assert.ok(culprits.some((c) => mentions(lines[0]!, c)), `stderr names one of ${culprits.join(" | ")}: ${lines[0]}`);
}

/** The root holds no container: list is empty and no state dir exists. */
function assertRootEmpty(): void {
  assert.deepEqual(h.listIds(), []);
  assert.deepEqual(fs.readdirSync(h.root), []);
}

const NOT_FOUND = ["does not exist", "not found", "no such", "unknown"];

describe("unknown container id", () => {
  const verbs: [string, (id: string) => string[], number][] = [
    ["state", (id) => ["state", id], 1],
    ["start", (id) => ["start", id], 1],
    ["kill", (id) => ["kill", id, "KILL"], 1],
    ["delete", (id) => ["delete", id], 1],
    ["pause", (id) => ["pause", id], 1],
    ["resume", (id) => ["resume", id], 1],
    ["ps", (id) => ["ps", id], 1],
    // runc exec reports its own failures with 255 (the exit codes below are the process's)
    ["exec", (id) => ["exec", id, "true"], 255],
  ];
  for (const [verb, argv, code] of verbs) {
    test(`${verb} of an unknown id fails with exit ${code} and says the container does not exist`, () => {
      const id = "no-such-container";
      assertError(h.rt(argv(id)), [id, ...NOT_FOUND], code);
    });
  }

  test("delete --force of an unknown id succeeds silently (runc)", () => {
    const r = h.rt(["delete", "--force", "no-such-container"]);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe("create failures", () => {
  test("create with an id already in use fails and keeps the first container", () => {
    const id = h.id("dup");
    h.ok(["create", "--bundle", h.bundle({ args: ["sleep", "1000"] }).dir, id]);
    const first = h.state(id)!;
    const r = h.rt(["create", "--bundle", h.bundle({ args: ["sleep", "1000"] }).dir, id]);
    assertError(r, [id, "exists", "in use"]);
    assert.deepEqual(h.state(id), first);
    h.ok(["delete", "--force", id]);
  });

  test("create with a missing bundle directory fails and leaves nothing", () => {
    const missing = path.join(h.tmp, "no-such-bundle");
    assertError(h.rt(["create", "--bundle", missing, h.id()]), [missing, "no such"]);
    assertRootEmpty();
  });

  test("create with a bundle without config.json fails and leaves nothing", () => {
    const b = h.bundle();
    fs.rmSync(path.join(b.dir, "config.json"));
    assertError(h.rt(["create", "--bundle", b.dir, h.id()]), ["config.json"]);
    assertRootEmpty();
  });

  test("create with malformed JSON in config.json fails and leaves nothing", () => {
    const b = h.bundle();
    fs.writeFileSync(path.join(b.dir, "config.json"), '{"ociVersion": "1.0.2", bad');
    // runc: "invalid character 'b' looking for beginning of object key string"
    assertError(h.rt(["create", "--bundle", b.dir, h.id()]), ["json", "config", "invalid character", "parse"]);
    assertRootEmpty();
  });

  test("create with process.args as a string fails naming the field and leaves nothing", () => {
    const b = h.bundle();
    b.config.process.args = "sleep 1000";
    b.write();
    assertError(h.rt(["create", "--bundle", b.dir, h.id()]), ["args"]);
    assertRootEmpty();
  });

  test("create whose process is not in the rootfs fails and leaves nothing", () => {
    const b = h.bundle({ args: ["/no/such/binary"] });
    assertError(h.rt(["create", "--bundle", b.dir, h.id()]), ["/no/such/binary", "no such file"]);
    assertRootEmpty();
  });

  test("run whose process is not in the rootfs fails and leaves nothing", () => {
    const b = h.bundle({ args: ["/no/such/binary"] });
    const r = h.rt(["run", "--bundle", b.dir, h.id()]);
    assert.notEqual(r.code, 0);
    assert.ok(mentions(r.stderr, "/no/such/binary") || mentions(r.stderr, "no such file"), r.stderr);
    assertRootEmpty();
  });
});

describe("usage errors", () => {
  test("a verb without its container id is a usage error", () => {
    const r = h.rt(["state"]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.length > 0);
  });

  test("an unknown verb fails", () => {
    const r = h.rt(["no-such-verb"]);
    assert.notEqual(r.code, 0);
  });
});
