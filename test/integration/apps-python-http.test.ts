// App: python3's http.server (the host's python3, hostRo rootfs) serving a file that curl fetches,
// both inside one container in its own network namespace; the content must come back unchanged.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Harness } from "./harness.js";
import { appBundle, requireHostBinary, runApp } from "../apps/apps.js";

const h = new Harness("apps-py");
after(() => h.cleanup());

const SCRIPT = `
python3 -m http.server 8000 --bind 127.0.0.1 --directory /srv/www > /tmp/py.log 2>&1 &
py_pid=$!
trap 'kill $py_pid 2>/dev/null || true; cat /tmp/py.log >&2' EXIT
wait_for "http.server to answer" curl -sf -o /dev/null http://127.0.0.1:8000/
curl -sf -o /tmp/got http://127.0.0.1:8000/data.bin
echo "sha256: $(sha256sum < /tmp/got | cut -d' ' -f1)"
cmp /srv/www/data.bin /tmp/got && echo "cmp: same"
kill $py_pid
wait $py_pid || true
trap - EXIT
echo "stopped"
`;

test(`python3 http.server fetched by curl under ${h.rtm.name}`, () => {
  requireHostBinary("/usr/bin/python3", "python3");
  requireHostBinary("/usr/bin/curl", "curl");
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const want = createHash("sha256").update(data).digest("hex");
  const r = runApp(h, appBundle(h, SCRIPT, { files: { "srv/www/data.bin": data } }), "py");
  const lines = r.stdout.split("\n");
  assert.ok(lines.includes(`sha256: ${want}`), `fetched file differs from the served one (want ${want}):\n${r.stdout}\n${r.stderr}`);
  assert.ok(lines.includes("cmp: same"), r.stdout);
  assert.ok(lines.includes("stopped"), r.stdout);
});
