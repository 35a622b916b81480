// Flags that hand things to the container: --console-socket (pty master over SCM_RIGHTS),
// --preserve-fds, --no-new-keyring; and exec --tty.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, startConsoleReceiver } from "./harness.js";

const h = new Harness("tfd");
after(() => h.cleanup());

describe("console socket", () => {
  test("create --console-socket sends the pty master; the process has a tty on stdin/stdout", async () => {
    const rx = await startConsoleReceiver(h);
    const b = h.bundle({ args: ["sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo both-tty"], terminal: true });
    h.createStart(b, "tty", ["--console-socket", rx.socket]);
    const out = (await rx.output).replace(/\r/g, "");
    assert.match(out, /^\/dev\/pts\/\d+$/m);
    assert.match(out, /^both-tty$/m);
  });

  test("input written to the pty master reaches the process", async () => {
    const rx = await startConsoleReceiver(h, "ping\n");
    const b = h.bundle({ args: ["sh", "-c", "read line; echo got-$line"], terminal: true });
    h.createStart(b, "tty", ["--console-socket", rx.socket]);
    assert.match((await rx.output).replace(/\r/g, ""), /^got-ping$/m);
  });

  test("run -d with terminal and --console-socket works like create+start", async () => {
    const rx = await startConsoleReceiver(h);
    const b = h.bundle({ args: ["sh", "-c", "tty"], terminal: true });
    h.ok(["run", "-d", "--console-socket", rx.socket, "--bundle", b.dir, h.id()]);
    assert.match((await rx.output).replace(/\r/g, ""), /^\/dev\/pts\/\d+$/m);
  });

  test("exec --tty --detach --console-socket gives the exec'd process a tty", async () => {
    const { id } = await h.started(h.bundle({ args: ["sleep", "1000"] }));
    const rx = await startConsoleReceiver(h);
    h.ok(["exec", "--tty", "--detach", "--console-socket", rx.socket, id, "sh", "-c", "tty; echo exec-tty"]);
    const out = (await rx.output).replace(/\r/g, "");
    assert.match(out, /^\/dev\/pts\/\d+$/m);
    assert.match(out, /^exec-tty$/m);
  });

  test("the process without a terminal has no tty", () => {
    const r = h.run(h.bundle({ args: ["sh", "-c", "[ -t 0 ] || [ -t 1 ] && echo tty || echo no-tty"] }));
    assert.equal(r.stdout, "no-tty\n");
  });
});

describe("--preserve-fds", () => {
  test("create --preserve-fds 1 passes fd 3 into the container", async () => {
    const file = path.join(h.dir("fd"), "fd3.out");
    const fd = fs.openSync(file, "w");
    const b = h.bundle({ args: ["sh", "-c", "echo through-fd3 >&3"] });
    try {
      await h.finished(b, "fds", ["--preserve-fds", "1"], { extraFds: [fd] });
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(fs.readFileSync(file, "utf8"), "through-fd3\n");
  });

  test("without --preserve-fds an extra fd is not passed in", () => {
    const file = path.join(h.dir("fd"), "fd3.out");
    const fd = fs.openSync(file, "w");
    try {
      const b = h.bundle({ args: ["sh", "-c", "echo through-fd3 >&3"] });
      const r = h.rt(["run", "--bundle", b.dir, h.id()], { extraFds: [fd] });
      assert.notEqual(r.code, 0);
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(fs.readFileSync(file, "utf8"), "");
  });
});

describe("session keyring", () => {
  const keysBundle = () =>
    h.bundle({
      args: ["cat", "/proc/keys"],
      mutate: (c) => (c.linux.maskedPaths = c.linux.maskedPaths.filter((p: string) => p !== "/proc/keys")),
    });

  test("by default the container gets a new session keyring named after its id", () => {
    const r = h.run(keysBundle(), "key");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(r.id), r.stdout);
  });

  test("create --no-new-keyring does not create a keyring for the container", async () => {
    const b = keysBundle();
    const out = path.join(h.dir("keys"), "stdout");
    const { id } = await h.finished(b, "nokey", ["--no-new-keyring"], { stdoutFile: out });
    const keys = fs.readFileSync(out, "utf8");
    assert.match(keys, /keyring/);
    assert.ok(!keys.includes(id), keys);
  });
});
