// sentry/vsock/closewatch.ts: the app's last close of a socket, seen through inotify.
import assert from "node:assert/strict";
import * as fs from "node:fs";
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

test("close watch: rewatch gives an active watch another callback, and refuses an ended one", async () => {
  const w = new CloseWatcher((e) => assert.fail(e));
  try {
    const [a, b] = native.socketpair();
    const seen: string[] = [];
    const wa = w.watch(a, () => seen.push("first"));
    const wb = w.watch(b, () => seen.push("b"));
    assert.equal(w.rewatch(wa, () => seen.push("second")), true);
    w.unwatch(wb);
    assert.equal(w.rewatch(wb, () => seen.push("b again")), false, "an ended watch stays ended");
    native.closeFd(a);
    native.closeFd(b);
    assert.ok(await until(() => seen.length > 0));
    await sleep(50);
    assert.deepEqual(seen, ["second"]);
    assert.equal(w.rewatch(wa, () => seen.push("third")), false, "a reported watch is over");
  } finally {
    w.dispose();
  }
});

/** Watches held by this process's inotify instances (/proc/self/fdinfo lists one line each). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== "anon_inode:inotify") continue;
    n += fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").split("\n").filter((l) => l.startsWith("inotify wd:")).length;
  }
  return n;
}

test("close watch: a reported watch is removed a little later, in a batch, and dispose removes the rest", async () => {
  const w = new CloseWatcher((e) => assert.fail(e));
  try {
    const before = inotifyWatches();
    const [a, b] = native.socketpair();
    let closes = 0;
    w.watch(a, () => closes++);
    native.closeFd(a);
    w.poll(); // the close is queued once close(2) returned (task_work before the return)
    assert.equal(closes, 1);
    assert.equal(w.pendingRemovals, 1);
    assert.equal(inotifyWatches(), before + 1, "still held right after the report");
    assert.ok(await until(() => w.pendingRemovals === 0), "removed after the delay");
    assert.equal(inotifyWatches(), before);
    native.closeFd(b);

    // A full batch goes at once, without waiting for the timer.
    const pairs = Array.from({ length: 128 }, () => native.socketpair());
    for (const [x] of pairs) w.watch(x, () => closes++);
    for (const [x] of pairs) native.closeFd(x);
    w.poll();
    assert.equal(closes, 1 + 128);
    assert.equal(w.pendingRemovals, 0);
    assert.equal(inotifyWatches(), before);
    for (const [, y] of pairs) native.closeFd(y);
  } finally {
    w.dispose();
  }
});
