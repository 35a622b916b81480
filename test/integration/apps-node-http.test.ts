// App: a Node.js http server (the host's node, hostRo rootfs) loaded by wrk, both inside one
// container in its own network namespace. Asserts only that wrk completed requests without errors.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Harness } from "./harness.js";
import { appBundle, requireHostBinary, runApp } from "../apps/apps.js";

const h = new Harness("apps-node");
after(() => h.cleanup());

const SERVER = `const http = require("node:http");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("hello from node " + req.url + "\\n");
});
server.listen(8080, "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

const SCRIPT = `
node /srv/server.js > /tmp/node.log 2>&1 &
node_pid=$!
trap 'kill $node_pid 2>/dev/null || true; cat /tmp/node.log >&2' EXIT
wait_for "node to listen" grep -q listening /tmp/node.log
echo "curl: $(curl -sf http://127.0.0.1:8080/probe)"
wrk -t1 -c10 -d2s http://127.0.0.1:8080/ > /tmp/wrk.out
cat /tmp/wrk.out
requests=$(sed -n 's/^ *\\([0-9][0-9]*\\) requests in .*/\\1/p' /tmp/wrk.out)
# wrk prints these lines only when they are not zero
socket_errors=$(sed -n 's/^ *Socket errors: connect \\([0-9]*\\), read \\([0-9]*\\), write \\([0-9]*\\), timeout \\([0-9]*\\).*/\\1+\\2+\\3+\\4/p' /tmp/wrk.out)
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\\([0-9]*\\).*/\\1/p' /tmp/wrk.out)
echo "wrk: requests=\${requests:-0} errors=$(( \${socket_errors:-0} + \${non2xx:-0} ))"
kill $node_pid
wait $node_pid
trap - EXIT
echo "stopped"
`;

test(`node http server loaded by wrk under ${h.rtm.name}`, () => {
  requireHostBinary("/usr/bin/node", "nodejs");
  requireHostBinary("/usr/bin/wrk", "wrk");
  const r = runApp(h, appBundle(h, SCRIPT, { files: { "srv/server.js": SERVER } }), "node");
  const lines = r.stdout.split("\n");
  assert.ok(lines.includes("curl: hello from node /probe"), `curl did not get the page:\n${r.stdout}\n${r.stderr}`);
  const m = r.stdout.match(/^wrk: requests=(\d+) errors=(\d+)$/m);
  assert.ok(m, `no wrk summary:\n${r.stdout}\n${r.stderr}`);
  assert.ok(Number(m[1]) > 0, `wrk completed no requests:\n${r.stdout}`);
  assert.equal(Number(m[2]), 0, `wrk saw errors:\n${r.stdout}`);
  assert.ok(lines.includes("stopped"), `node did not stop:\n${r.stdout}\n${r.stderr}`);
});
