// oci/launcher.ts: a CommonJS bundle runs through vm.Script as require would run it, with a V8
// code cache written beside it by the first run and taken by the next; a changed bundle or a
// cache V8 refuses is no error (compiled afresh, the cache written again); the built bundles
// have no import(), which code from a cache cannot run on Node 20.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";

import { cacheFileOf, loadBundle } from "../../oci/launcher.js";
import { repoRoot } from "../lib/bundle.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-launcher-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeBundle(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, body);
  return file;
}

const BODY = `"use strict";
const path = require("node:path");
exports.where = () => [__filename, __dirname, module.filename];
exports.strict = (function () { return this; })() === undefined;
exports.sum = (n) => { let s = 0; for (let i = 0; i < n; i++) s += i; return s; };
exports.base = path.basename(__filename);
`;

test("runs the bundle as a CommonJS module: exports, require, __filename, strict mode", () => {
  const file = writeBundle("a.cjs", BODY);
  const b = loadBundle(file);
  assert.deepEqual((b.exports.where as () => string[])(), [file, dir, file]);
  assert.equal(b.exports.base, "a.cjs");
  assert.equal(b.exports.strict, true);
});

test("the built bundles have no import(): code from a cache could not run it (oci/launcher.ts)", { skip: !fs.existsSync(path.join(repoRoot(), "dist", "bundle", "tsor.cjs")) && "no bundle (make build)" }, () => {
  for (const name of ["tsor.cjs", "sentry.cjs"]) {
    const text = fs.readFileSync(path.join(repoRoot(), "dist", "bundle", name), "utf8");
    assert.deepEqual(text.match(/\bimport\s*\(/g) ?? [], [], name);
  }
});

test("the first run writes the cache, the next takes it; once taken it is not written again", () => {
  const file = writeBundle("b.cjs", BODY);
  const first = loadBundle(file);
  assert.equal(first.cached, false);
  assert.equal(fs.existsSync(cacheFileOf(file)), false);
  (first.exports.sum as (n: number) => number)(10);
  first.saveCache();
  const cache = cacheFileOf(file);
  assert.ok(fs.statSync(cache).size > 0, "cache written");
  const second = loadBundle(file);
  assert.equal(second.cached, true, "V8 took the cache");
  assert.equal((second.exports.sum as (n: number) => number)(10), 45);
  const mtime = fs.statSync(cache).mtimeMs;
  second.saveCache();
  assert.equal(fs.statSync(cache).mtimeMs, mtime, "not rewritten");
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("b.cjs.") && !f.endsWith(".v8cache")), [], "no temporary file left");
});

test("a rebuilt bundle gets a cache of its own", () => {
  const file = writeBundle("c.cjs", BODY);
  const b = loadBundle(file);
  b.saveCache();
  const old = cacheFileOf(file);
  // Same length, other code: the name (size and mtime) keeps the old cache away from it.
  fs.writeFileSync(file, BODY.replace("s += i", "s -= i"));
  fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.notEqual(cacheFileOf(file), old);
  const rebuilt = loadBundle(file);
  assert.equal(rebuilt.cached, false);
  assert.equal((rebuilt.exports.sum as (n: number) => number)(10), -45, "the new code ran");
});

test("a cache V8 refuses is compiled around and replaced", () => {
  // A source this process never compiled (V8's in-process compilation cache would answer first).
  const file = writeBundle("e.cjs", `${BODY}// e\n`);
  fs.writeFileSync(cacheFileOf(file), Buffer.alloc(64, 7));
  const refused = loadBundle(file);
  assert.equal(refused.cached, false);
  assert.equal((refused.exports.sum as (n: number) => number)(4), 6);
  refused.saveCache();
  assert.ok(fs.statSync(cacheFileOf(file)).size > 64, "replaced by a real cache");
});

test("a tree that cannot be written runs without a cache", { skip: process.getuid?.() === 0 && "root writes anyway" }, () => {
  const ro = fs.mkdtempSync(path.join(dir, "ro-"));
  const file = path.join(ro, "d.cjs");
  fs.writeFileSync(file, BODY);
  fs.chmodSync(ro, 0o555);
  try {
    const b = loadBundle(file);
    b.saveCache();
    assert.equal(fs.existsSync(cacheFileOf(file)), false);
  } finally {
    fs.chmodSync(ro, 0o755);
  }
});
