// Control sockets whose path is longer than sun_path (docker's state dirs): served and reached
// through an fd on their directory, the fd closed afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { controlRequest, serveControl } from "../../sentry/control.js";
import { withSocketPath } from "../../sentry/sockpath.js";

test("a control socket under a 150-byte directory serves and answers; no fd is left open", async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-sockpath-"));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const dir = path.join(base, "runtime-tsor", "moby", "a".repeat(64), "b".repeat(40));
  fs.mkdirSync(dir, { recursive: true });
  const sock = path.join(dir, "sentry.sock");
  assert.ok(sock.length > 108);
  const fds = fs.readdirSync("/proc/self/fd").length;
  const server = await serveControl(sock, async () => ({ ok: true, pid: 42 }));
  try {
    assert.ok(fs.statSync(sock).isSocket(), "bound at the long path itself");
    assert.deepEqual(await controlRequest(sock, { op: "ping" }), { ok: true, pid: 42 });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  assert.equal(fs.readdirSync("/proc/self/fd").length, fds);
});

test("a short path is used as it is", () => {
  assert.equal(withSocketPath("/run/x.sock", (p) => p), "/run/x.sock");
});
