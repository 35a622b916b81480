// sentry/vsock/closewatch.ts: the app's last close of a socket, seen through inotify.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { native } from "../../native/index.js";
import { CloseWatcher } from "../../sentry/vsock/closewatch.js";
import { dupOwnFd } from "../../sentry/vsock/kernel.js";

/** Waits until `cond` holds or `ms` passed (the event comes through the event loop). */
async function until(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
  return cond();
}

test("close watch: reported once, at the last close only (a dup keeps the file open)", async () => {
  const w = new CloseWatcher((e) => assert.fail(e));
  try {
    const [a, b] = native.socketpair();
    let closes = 0;
    w.watch(a, () => closes++);
    assert.equal(w.size, 1);
    const copy = dupOwnFd(a);
    native.closeFd(a);
    native.sendNow(b, Buffer.from("x"));
    await sleep(50);
    assert.equal(closes, 0, "a copy is still open, and data is no event");
    native.closeFd(copy);
    assert.ok(await until(() => closes === 1), "the last close is reported");
    assert.equal(w.size, 0);
    await sleep(50);
    assert.equal(closes, 1, "once");
    native.closeFd(b);
  } finally {
    w.dispose();
  }
});

test("close watch: unwatch ends a watch without a report; several sockets are told apart", async () => {
  const w = new CloseWatcher((e) => assert.fail(e));
  try {
    const [a, b] = native.socketpair();
    const seen: string[] = [];
    const wa = w.watch(a, () => seen.push("a"));
    w.watch(b, () => seen.push("b"));
    w.unwatch(wa);
    native.closeFd(a);
    native.closeFd(b);
    assert.ok(await until(() => seen.length > 0));
    await sleep(50);
    assert.deepEqual(seen, ["b"]);
  } finally {
    w.dispose();
  }
});
