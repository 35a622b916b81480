// App: a Java program (test/apps/java-http/Main.java: the JDK's HTTP server and HttpURLConnection,
// NIO with a Selector and a half-close, a Socket's options), run by the host's JDK natively in a
// fresh netns and in a container (hostRo rootfs, both platforms under tsor): same report. The
// JVM's sockets go through its own epoll-based NIO and libnet, with many threads.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness } from "./harness.js";
import { appBundle, platformRuns, requireHostBinary } from "../apps/apps.js";
import { repoRoot } from "../lib/bundle.js";
import { progCommand } from "../syscalls/runner.js";

const h = new Harness("apps-java");
after(() => h.cleanup());

const SRC = path.join(repoRoot(), "test", "apps", "java-http", "Main.java");

test(`a Java HTTP server, client and NIO channels under ${h.rtm.name} report what they do natively`, () => {
  requireHostBinary("/usr/bin/java", "openjdk-17-jdk-headless");
  // /usr/bin/java goes through /etc/alternatives, and the JDK's conf/security files link into
  // /etc/java-<n>-openjdk: the container (which has no host /etc) gets the real binary and that
  // directory bound read-only.
  const java = fs.realpathSync("/usr/bin/java");
  const home = path.dirname(path.dirname(java));
  const etc = path.dirname(path.dirname(fs.realpathSync(path.join(home, "conf", "security", "java.security"))));
  const native = spawnSync("unshare", ["--net", "sh", "-c", progCommand(`${java} ${SRC}`)], { encoding: "utf8", timeout: 120_000 });
  assert.equal(native.status, 0, `native run: ${native.stdout}${native.stderr}`);
  assert.match(native.stdout, /^http: 30\/30 bodies intact/m);

  const b = appBundle(h, `exec ${java} /srv/Main.java\n`, {
    files: { "srv/Main.java": fs.readFileSync(SRC) },
    mutate: (c) => {
      if (etc.startsWith("/etc/")) c.mounts.push({ destination: etc, type: "bind", source: etc, options: ["rbind", "ro"] });
    },
  });
  for (const { flags, where } of platformRuns(h)) {
    const r = h.rt(["run", ...flags, "--bundle", b.dir, h.id("java")], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${where}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, native.stdout, `${where}: the report differs from the native run`);
  }
});
