// The trap server's ptrace side: `tsor exec` asks it to seize the exec'd process with one
// `seize <pid>` line; it refuses what is not a request and any process outside the container's
// mount namespace (the seizing itself is tested in test/integration/exec-trap.test.ts).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { PassthroughDispatch } from "../../sentry/platform/index.js";
import { SEIZE_REQUEST, TrapServer } from "../../sentry/trapserver.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const skip = process.getuid?.() !== 0 ? "needs root (a mount namespace for the container)" : false;

/** One request line on the server's socket; the answer line. */
function ask(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let answer = "";
    c.setEncoding("utf8");
    c.on("data", (d: string) => (answer += d));
    c.on("error", reject);
    c.on("close", () => resolve(answer.trim()));
    c.write(line);
  });
}

describe("trap server: seize requests (ptrace)", { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-trapsrv-"));
  const socket = path.join(dir, "trap.sock");
  let container: ChildProcess;
  let outsider: ChildProcess;
  let server: TrapServer;

  before(async () => {
    // The "container": a process in a mount namespace of its own.
    container = spawn("unshare", ["-m", "sleep", "60"], { stdio: "ignore" });
    outsider = spawn("sleep", ["60"], { stdio: "ignore" });
    // unshare(1) execs sleep in place once the namespace is made.
    const mnt = (pid: number | string) => fs.readlinkSync(`/proc/${pid}/ns/mnt`);
    for (let i = 0; i < 200 && mnt(container.pid!) === mnt("self"); i++) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(mnt(container.pid!), mnt("self"), "unshare -m made a mount namespace");
    server = new TrapServer(socket, PassthroughDispatch, quiet, { platform: "ptrace", containerPid: container.pid });
    server.start();
  });

  after(() => {
    server?.stop();
    container?.kill("SIGKILL");
    outsider?.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a line that is not a seize request", async () => {
    assert.match(await ask(socket, "hello\n"), /^error bad request "hello"/);
    assert.match(await ask(socket, `${SEIZE_REQUEST} -1\n`), /^error bad request/);
  });

  it("refuses a process outside the container's mount namespace", async () => {
    assert.equal(await ask(socket, `${SEIZE_REQUEST} ${outsider.pid}\n`), `error process ${outsider.pid} is not in the container`);
    assert.equal(server.active, 0);
  });
});
