// App: nginx as a reverse proxy (the host's nginx, hostRo rootfs) in front of python3's
// http.server, both inside one container; curl fetches a file through the proxy. nginx registers
// each upstream socket with epoll before it connects (ngx_event_connect_peer: ngx_add_conn, then
// connect), so the connection that replaces the socket must inherit that registration, or the
// proxy never hears the upstream answer (vsock/epoll.ts). Keep-alive to the upstream is off:
// every request opens a new upstream connection. nginx also serves the file itself with sendfile
// and tcp_nopush (TCP_CORK set and cleared around the response, which the trap filter answers).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Harness } from "./harness.js";
import { NGINX_FILES, appBundle, nginxConfig, requireHostBinary, runApp } from "../apps/apps.js";

const h = new Harness("apps-nginx");
after(() => h.cleanup());

const REQUESTS = 5;

const NGINX_CONF = nginxConfig(`  server {
    listen 127.0.0.1:8080;
    location / {
      proxy_pass http://127.0.0.1:8001;
      proxy_connect_timeout 5s;
      proxy_read_timeout 5s;
    }
    # Served by nginx itself as Debian's nginx.conf does: sendfile, with TCP_CORK around it.
    location /direct/ { alias /srv/www/; sendfile on; tcp_nopush on; }
  }`);

const SCRIPT = `
python3 -m http.server 8001 --bind 127.0.0.1 --directory /srv/www > /tmp/py.log 2>&1 &
py_pid=$!
trap 'kill $py_pid 2>/dev/null || true; [ -f /tmp/nginx.pid ] && kill $(cat /tmp/nginx.pid) 2>/dev/null || true; cat /tmp/py.log /tmp/nginx-error.log >&2 2>/dev/null || true' EXIT
wait_for "http.server to answer" curl -sf -o /dev/null http://127.0.0.1:8001/
nginx -c /etc/nginx-proxy.conf
wait_for "nginx to answer" curl -sf -o /dev/null --max-time 8 http://127.0.0.1:8080/
for i in $(seq ${REQUESTS}); do
  curl -sf --max-time 8 -o /tmp/got http://127.0.0.1:8080/data.bin
  echo "sha256 $i: $(sha256sum < /tmp/got | cut -d' ' -f1)"
done
curl -sf --max-time 8 -o /tmp/direct http://127.0.0.1:8080/direct/data.bin
echo "sha256 direct: $(sha256sum < /tmp/direct | cut -d' ' -f1)"
echo "server: $(curl -sf --max-time 8 -o /dev/null -D - http://127.0.0.1:8080/data.bin | tr -d '\\r' | grep -i '^server:' | cut -d' ' -f2 | cut -d/ -f1)"
kill $(cat /tmp/nginx.pid)
kill $py_pid
wait $py_pid || true
trap - EXIT
echo "stopped"
`;

test(`nginx proxying to python3 http.server, fetched by curl under ${h.rtm.name}`, () => {
  requireHostBinary("/usr/sbin/nginx", "nginx-light");
  requireHostBinary("/usr/bin/python3", "python3");
  requireHostBinary("/usr/bin/curl", "curl");
  const data = randomBytes(512 * 1024 + 3);
  const want = createHash("sha256").update(data).digest("hex");
  const r = runApp(h, appBundle(h, SCRIPT, { files: { "srv/www/data.bin": data, "etc/nginx-proxy.conf": NGINX_CONF, ...NGINX_FILES } }), "nginx");
  const lines = r.stdout.split("\n");
  for (let i = 1; i <= REQUESTS; i++) {
    assert.ok(lines.includes(`sha256 ${i}: ${want}`), `request ${i} through nginx differs from the served file (want ${want}):\n${r.stdout}\n${r.stderr}`);
  }
  assert.ok(lines.includes(`sha256 direct: ${want}`), `nginx's own sendfile answer differs (want ${want}):\n${r.stdout}`);
  assert.ok(lines.includes("server: nginx"), `the answer did not come through nginx:\n${r.stdout}`);
  assert.ok(lines.includes("stopped"), r.stdout);
});
