// App: python3's asyncio streams (test/apps/python-asyncio/aio.py: a server hashing what it reads
// until EOF, 20 clients with a half-close each), the host's python3 natively in a fresh netns and
// in a container (hostRo rootfs, both platforms under tsor): same report. asyncio connects
// non-blocking and waits for the socket to turn writable in its epoll, then reads SO_ERROR.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness } from "./harness.js";
import { appBundle, platformRuns, requireHostBinary } from "../apps/apps.js";
import { repoRoot } from "../lib/bundle.js";
import { progCommand } from "../syscalls/runner.js";

const h = new Harness("apps-aio");
after(() => h.cleanup());

const SRC = path.join(repoRoot(), "test", "apps", "python-asyncio", "aio.py");

test(`python3 asyncio streams under ${h.rtm.name} report what they do natively`, () => {
  requireHostBinary("/usr/bin/python3", "python3");
  const native = spawnSync("unshare", ["--net", "sh", "-c", progCommand(`/usr/bin/python3 ${SRC}`)], { encoding: "utf8", timeout: 60_000 });
  assert.equal(native.status, 0, `native run: ${native.stdout}${native.stderr}`);
  assert.match(native.stdout, /^asyncio: 20 \/20 intact/m);
  const b = appBundle(h, "exec /usr/bin/python3 /srv/aio.py\n", { files: { "srv/aio.py": fs.readFileSync(SRC) } });
  for (const { flags, where } of platformRuns(h)) {
    const r = h.rt(["run", ...flags, "--bundle", b.dir, h.id("aio")]);
    assert.equal(r.code, 0, `${where}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, native.stdout, `${where}: the report differs from the native run`);
  }
});
