// App: an outbound connection from a container to a plain server outside TSoR. The test makes a
// named netns (ip netns add, lo up), starts a python3 TCP echo server in it with `ip netns exec`,
// and runs a busybox container joined to that netns (linux.namespaces network path) whose nc
// reaches 127.0.0.1:PORT, served by the non-TSoR process.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Harness, waitFor } from "./harness.js";
import { BUSYBOX } from "../lib/bundle.js";
import { HostNetns, appBundle, requireHostBinary, runApp } from "../apps/apps.js";

const h = new Harness("apps-out");
let netns: HostNetns | undefined;
after(() => {
  netns?.remove();
  h.cleanup();
});

const PORT = 7070;

/** Echoes one line per connection ("echo: <line>") then closes; reports each peer on stdout. */
const ECHO_SERVER = `
import socket, sys
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", ${PORT}))
srv.listen(16)
print("ready", flush=True)
while True:
    conn, peer = srv.accept()
    with conn:
        data = b""
        while not data.endswith(b"\\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        conn.sendall(b"echo: " + data)
    print("served", peer[0], len(data), flush=True)
`;

const SCRIPT = `
for i in 1 2 3; do
  echo "hello $i from the container" | nc -w 5 127.0.0.1 ${PORT} > /tmp/reply
  echo "reply $i: $(cat /tmp/reply)"
done
`;

test(`outbound connection to a server outside ${h.rtm.name}`, async () => {
  requireHostBinary("/usr/bin/python3", "python3");
  requireHostBinary(BUSYBOX, "busybox-static");
  netns = new HostNetns();
  const server = await netns.start(["/usr/bin/python3", "-u", "-c", ECHO_SERVER], "ready");
  let served = "";
  server.stdout!.on("data", (d) => (served += d));
  const b = appBundle(h, SCRIPT, {
    busybox: true,
    mutate: (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "network");
      c.linux.namespaces.push({ type: "network", path: netns!.path });
    },
  });
  const r = runApp(h, b, "out");
  const lines = r.stdout.split("\n");
  for (const i of [1, 2, 3]) {
    assert.ok(lines.includes(`reply ${i}: echo: hello ${i} from the container`), `no echo for client ${i}:\n${r.stdout}\n${r.stderr}`);
  }
  const count = () => served.split("\n").filter((l) => l.startsWith("served 127.0.0.1")).length;
  await waitFor(`the server outside to report 3 connections (it saw: ${served})`, () => (count() >= 3 ? true : undefined), 5_000);
  assert.equal(count(), 3, `the server outside saw: ${served}`);
});
