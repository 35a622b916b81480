// App: HAProxy (the host's, hostRo rootfs) in front of python3's http.server, in one container:
// requests on separate connections and on one kept-alive connection come back from the backend,
// and a request HAProxy refuses (403) while its 300 kB body is on the way leaves it serving the
// next one. (HAProxy drains a closing connection with recv(NULL, MSG_TRUNC), src/sock.c
// sock_drain: the sentry discards as TCP does, where a socketpair end would answer EFAULT.) Under
// tsor on both platforms.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness } from "./harness.js";
import { appBundle, platformRuns, requireHostBinary } from "../apps/apps.js";
import { repoRoot } from "../lib/bundle.js";

const h = new Harness("apps-haproxy");
after(() => h.cleanup());

const CONFIG = path.join(repoRoot(), "test", "apps", "haproxy", "haproxy.cfg");

const SCRIPT = `
mkdir -p /srv/www && echo hello-from-backend > /srv/www/index.html
python3 -m http.server 8000 --bind 127.0.0.1 --directory /srv/www > /tmp/py.log 2>&1 &
trap 'kill "$(cat /tmp/haproxy.pid 2>/dev/null)" 2>/dev/null || true; kill %1 2>/dev/null || true' EXIT
wait_for "the backend" curl -sf -o /dev/null http://127.0.0.1:8000/
haproxy -f /etc/haproxy.cfg -D
wait_for "haproxy" curl -sf -o /dev/null http://127.0.0.1:8080/
ok=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  [ "$(curl -sf http://127.0.0.1:8080/index.html)" = hello-from-backend ] && ok=$((ok+1))
done
echo "separate connections: $ok/10"
echo "one kept-alive connection: $(curl -sf http://127.0.0.1:8080/index.html http://127.0.0.1:8080/index.html http://127.0.0.1:8080/index.html | grep -c hello-from-backend)/3"
head -c 300000 /dev/zero > /tmp/body
curl -s -o /dev/null -w "refused with a body: %{http_code}\\n" --data-binary @/tmp/body http://127.0.0.1:8080/deny
curl -s -o /dev/null -w "next request: %{http_code}\\n" http://127.0.0.1:8080/index.html
`;

test(`HAProxy in front of an HTTP server under ${h.rtm.name}`, () => {
  requireHostBinary("/usr/sbin/haproxy", "haproxy");
  requireHostBinary("/usr/bin/python3", "python3");
  requireHostBinary("/usr/bin/curl", "curl");
  const b = appBundle(h, SCRIPT, { files: { "etc/haproxy.cfg": fs.readFileSync(CONFIG) } });
  for (const { flags, where } of platformRuns(h)) {
    const r = h.rt(["run", ...flags, "--bundle", b.dir, h.id("haproxy")], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${where}: ${r.stdout}${r.stderr}`);
    const lines = r.stdout.split("\n");
    for (const want of ["separate connections: 10/10", "one kept-alive connection: 3/3", "refused with a body: 403", "next request: 200"]) {
      assert.ok(lines.includes(want), `${where}: no "${want}" line:\n${r.stdout}\n${r.stderr}`);
    }
  }
});
