// App: busybox (static) httpd serving a page that busybox wget fetches, in a busybox rootfs with
// its own network namespace.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Harness } from "./harness.js";
import { BUSYBOX } from "../lib/bundle.js";
import { appBundle, requireHostBinary, runApp } from "../apps/apps.js";

const h = new Harness("apps-bbhttpd");
after(() => h.cleanup());

const PAGE = "<html><body>hello from busybox httpd</body></html>\n".repeat(200);

const SCRIPT = `
httpd -f -p 127.0.0.1:8081 -h /www &
httpd_pid=$!
trap 'kill $httpd_pid 2>/dev/null || true' EXIT
wait_for "httpd to answer" wget -q -O /dev/null http://127.0.0.1:8081/index.html
wget -q -O /tmp/got http://127.0.0.1:8081/index.html
echo "md5: $(md5sum < /tmp/got | cut -d' ' -f1)"
echo "bytes: $(wc -c < /tmp/got)"
wget -q -O /dev/null http://127.0.0.1:8081/missing.html && echo "missing: served" || echo "missing: refused"
kill $httpd_pid
trap - EXIT
echo "stopped"
`;

test(`busybox httpd fetched by wget under ${h.rtm.name}`, () => {
  requireHostBinary(BUSYBOX, "busybox-static");
  const want = createHash("md5").update(PAGE).digest("hex");
  const r = runApp(h, appBundle(h, SCRIPT, { busybox: true, files: { "www/index.html": PAGE } }), "bbhttpd");
  const lines = r.stdout.split("\n");
  assert.ok(lines.includes(`md5: ${want}`), `page differs (want md5 ${want}):\n${r.stdout}\n${r.stderr}`);
  assert.ok(lines.includes(`bytes: ${Buffer.byteLength(PAGE)}`), r.stdout);
  assert.ok(lines.includes("missing: refused"), `a 404 was not reported as one:\n${r.stdout}`);
  assert.ok(lines.includes("stopped"), r.stdout);
});
