// Virtual sockets seen from outside the app (tsor only): inside one container a connection is
// a direct socketpair, so no kernel TCP connection exists; a plain client outside TSoR still
// reaches a TSoR server through its kernel listener (the app's own, which the sentry took over).
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, waitFor } from "./harness.js";

const h = new Harness("vsock");
after(() => h.cleanup());

/** TCP states (hex, /proc/net/tcp "st") of the sockets in a netns, as `cat` inside shows them. */
const TCP_ESTABLISHED = "01";
const TCP_LISTEN = "0A";

function webBundle(script: string) {
  const b = h.bundle({ args: ["sh", "-c", script] });
  fs.mkdirSync(path.join(b.rootfs, "www"), { recursive: true });
  fs.writeFileSync(path.join(b.rootfs, "www", "index.html"), "served by a virtual socket\n");
  return b;
}

describe("virtual sockets", { skip: h.rtm.isRunc ? "runc has no virtual sockets" : false }, () => {
  test("a connection inside one container is a socketpair: no ESTABLISHED kernel TCP socket", () => {
    const b = webBundle(
      "httpd -p 8080 -h /www && sleep 0.2 && " +
        // Keep one connection open while /proc/net/tcp is read: wget of a slow CGI is not in busybox, so
        // hold a raw connection with nc reading from a sleep.
        "(sleep 1 | nc 127.0.0.1 8080 >/dev/null &) && sleep 0.3 && " +
        "wget -q -O - http://127.0.0.1:8080/index.html && echo TCP && cat /proc/net/tcp /proc/net/tcp6",
    );
    const r = h.run(b, "pair");
    assert.equal(r.code, 0, r.stderr);
    const [body, table] = r.stdout.split("TCP\n");
    assert.equal(body, "served by a virtual socket\n");
    const states = table!.split("\n").slice(1).map((l) => l.trim().split(/\s+/)[3]).filter((s) => s && /^[0-9A-F]{2}$/.test(s));
    assert.ok(!states.includes(TCP_ESTABLISHED), `no kernel TCP connection expected, /proc/net/tcp:\n${table}`);
    assert.ok(states.includes(TCP_LISTEN), `the listener is a kernel LISTEN socket:\n${table}`);
  });

  test("a plain client outside TSoR reaches a TSoR server through its kernel listener", async () => {
    const { id, pid } = await h.started(webBundle("httpd -f -p 8081 -h /www"), "plain");
    const body = await waitFor("the server to answer a plain client", () => {
      // busybox wget from the host, run in the container's netns but outside the container.
      const r = spawnSync("nsenter", [`--net=/proc/${pid}/ns/net`, "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8081/index.html"], {
        encoding: "utf8",
        timeout: 5000,
      });
      return r.status === 0 ? r.stdout : undefined;
    });
    assert.equal(body, "served by a virtual socket\n");
    h.ok(["delete", "--force", id]);
  });
});
