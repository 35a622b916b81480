// sentry/vsock/epoll.ts: an epoll registration of a socket follows the file that replaces it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { test } from "node:test";

import { native } from "../../native/index.js";
import { AppEpolls, findRegistration } from "../../sentry/vsock/epoll.js";
import type { Task } from "../../sentry/platform/platform.js";

const FDINFO = `pos:\t0
flags:\t02000002
mnt_id:\t17
ino:\t1038
tfd:        4 events:       19 data:                5  pos:0 ino:125bc4a sdev:9
tfd:        7 events: 80002005 data:     7f00dead0001  pos:0 ino:aa sdev:9
tfd:        7 events:        1 data:                0  pos:0 ino:bb sdev:9
`;

test("findRegistration: events and data of the line with that fd number and inode", () => {
  assert.deepEqual(findRegistration(FDINFO, 4, 0x125bc4an), { events: 0x19, data: 5n });
  assert.deepEqual(findRegistration(FDINFO, 7, 0xaan), { events: 0x80002005, data: 0x7f00dead0001n });
  assert.deepEqual(findRegistration(FDINFO, 7, 0xbbn), { events: 1, data: 0n });
  assert.equal(findRegistration(FDINFO, 4, 0xaan), null, "another file under that number");
  assert.equal(findRegistration(FDINFO, 5, 0x125bc4an), null, "not registered");
  assert.equal(findRegistration("pos:\t0\n", 4, 1n), null, "an empty epoll instance");
});

test("epollHolds: a file that is not an epoll instance, or no fd at all, cannot be asked", () => {
  const [a, b] = native.socketpair();
  try {
    assert.throws(() => native.epollHolds(process.pid, a, b), (e: any) => e.code === "EINVAL");
    assert.throws(() => native.epollHolds(process.pid, a, 1_000_000), (e: any) => e.code === "EBADF");
  } finally {
    native.closeFd(a);
    native.closeFd(b);
  }
});

test("edgeWatchFd: news on a fd that stays readable (more bytes, a hang-up), once per wake-up", () => {
  const [a, b] = native.socketpair();
  const POLLIN = 0x1;
  const POLLRDHUP = 0x2000;
  let ep = -1;
  try {
    native.sendNow(a, Buffer.from("m"));
    ep = native.edgeWatchFd(b, POLLIN | POLLRDHUP);
    assert.equal(native.edgeWatchDrain(ep) & POLLIN, POLLIN, "already readable when added");
    assert.equal(native.edgeWatchDrain(ep), 0, "still readable, but nothing new");
    native.sendNow(a, Buffer.from("x"));
    assert.equal(native.edgeWatchDrain(ep) & POLLIN, POLLIN, "more bytes");
    assert.equal(native.edgeWatchDrain(ep), 0);
    native.shutdownFd(a);
    assert.equal(native.edgeWatchDrain(ep) & POLLRDHUP, POLLRDHUP, "the peer's hang-up");
    assert.throws(() => native.edgeWatchFd(b, 0), /events/, "no events to watch");
  } finally {
    if (ep >= 0) native.closeFd(ep);
    native.closeFd(a);
    native.closeFd(b);
  }
});

// A process with an epoll instance watching one end of a socketpair (EPOLLIN|EPOLLOUT|EPOLLET;
// Python's epoll keeps the fd as the data), and a second epoll instance that does not watch it;
// it prints its fds and waits. With LOW set it closes its stdin first, so the watched socket is
// fd 0, the number the sentry's private fd table hands out first too.
const CHILD = `
import select, socket, os, time
if os.environ.get("LOW"): os.close(0)
a, b = socket.socketpair()
e1 = select.epoll(); e2 = select.epoll()
e1.register(a.fileno(), select.EPOLLIN | select.EPOLLOUT | select.EPOLLET)
print(e1.fileno(), e2.fileno(), a.fileno(), flush=True)
time.sleep(60)
`;

async function carryCase(low: boolean): Promise<void> {
  const child = spawn("python3", ["-c", CHILD], { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, LOW: low ? "1" : "" } });
  try {
    // Its one line may come in more than one chunk.
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve(out);
      });
      child.on("exit", (code) => reject(new Error(`the child exited (${code}) before printing its fds: ${JSON.stringify(out)}`)));
    });
    const [ep1, ep2, fd] = line.trim().split(/\s+/).map(Number) as [number, number, number];
    assert.ok([ep1, ep2, fd].every(Number.isInteger), `the child's fds: ${JSON.stringify(line)}`);
    if (low) assert.equal(fd, 0, "the watched socket is fd 0");
    const pid = child.pid!;
    const pidfd = native.pidfdOpen(pid);
    const task: Task = {
      tid: pid,
      tgid: pid,
      getFd: (n) => native.pidfdGetfd(pidfd, n),
      readMemory: () => assert.fail("not read"),
      writeMemory: () => assert.fail("not written"),
      stillPending: () => true,
    };
    const old = task.getFd(fd);
    const oldIno = native.fstatIno(old).ino;
    const fdinfo = (ep: number) => fs.readFileSync(`/proc/${pid}/fdinfo/${ep}`, "utf8");
    const before = findRegistration(fdinfo(ep1), fd, oldIno);
    assert.ok(before, `the child registered its socket:\n${fdinfo(ep1)}`);

    const [mine, peer] = native.socketpair();
    try {
      new AppEpolls().carry(task, fd, oldIno, old, mine);
      const newIno = native.fstatIno(mine).ino;
      assert.deepEqual(findRegistration(fdinfo(ep1), fd, newIno), before, "same events and data, same fd number");
      assert.equal(findRegistration(fdinfo(ep1), fd, oldIno), null, "the old file's registration is gone, though the file is still open (ours)");
      assert.equal(findRegistration(fdinfo(ep2), fd, newIno), null, "an instance that did not watch the socket is left alone");
    } finally {
      native.closeFd(old);
      native.closeFd(mine);
      native.closeFd(peer);
      native.closeFd(pidfd);
    }
  } finally {
    child.kill();
  }
}

test("carry: the epoll instance that holds the old file gets the same registration for the new one", () => carryCase(false));

test("carry: also for fd 0 (the private fd table moves its own fds out of the way)", () => carryCase(true));
