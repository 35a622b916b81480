// netstack/receive.ts: a session socket read on the event loop, message by message.
import assert from "node:assert/strict";
import { openSync, readlinkSync } from "node:fs";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { native } from "../../native/index.js";
import { receiveMessages } from "../../netstack/receive.js";

test("receiveMessages: each message with its fds, in order, then one end at EOF", async () => {
  const c = native.constants;
  const [a, b] = native.socketpair(c.SOCK_SEQPACKET);
  native.setNonblock(b, true);
  const got: string[] = [];
  const fds: number[] = [];
  let ends = 0;
  let endErr: Error | undefined;
  receiveMessages(b, 1, (m) => {
    got.push(m.data.toString());
    fds.push(...m.fds);
  }, (err) => {
    ends++;
    endErr = err;
  });
  const file = openSync("/dev/null", "r");
  native.sendFds(a, Buffer.from("one"), [file]);
  native.sendFds(a, Buffer.from("two"), []);
  native.sendFds(a, Buffer.from("three"), []);
  for (let i = 0; i < 100 && got.length < 3; i++) await sleep(5);
  assert.deepEqual(got, ["one", "two", "three"], "messages keep their boundaries and order");
  assert.equal(fds.length, 1);
  assert.equal(readlinkSync(`/proc/self/fd/${fds[0]}`), "/dev/null");
  native.closeFd(a);
  for (let i = 0; i < 100 && ends === 0; i++) await sleep(5);
  assert.equal(ends, 1, "EOF ends the session once");
  assert.equal(endErr, undefined, "EOF is no error");
  for (const fd of [file, fds[0]!, b]) native.closeFd(fd);
});

test("receiveMessages: stop() ends the watch without a call; shutdown(2) is seen as the end", async () => {
  const c = native.constants;
  const [a, b] = native.socketpair(c.SOCK_SEQPACKET);
  native.setNonblock(b, true);
  let calls = 0;
  const stop = receiveMessages(b, 0, () => calls++, () => calls++);
  stop();
  native.sendFds(a, Buffer.from("ignored"), []);
  await sleep(30);
  assert.equal(calls, 0);

  let ended = false;
  receiveMessages(b, 0, () => calls++, () => (ended = true));
  await sleep(10);
  assert.equal(calls, 1, "the message sent before is read by the new watch");
  native.shutdownFd(b);
  for (let i = 0; i < 100 && !ended; i++) await sleep(5);
  assert.ok(ended, "our own shutdown(2) is how a session is dropped");
  for (const fd of [a, b]) native.closeFd(fd);
});
