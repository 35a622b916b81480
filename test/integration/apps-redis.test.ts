// App: redis-server with redis-benchmark and redis-cli, all inside one container (host binaries,
// hostRo rootfs) in its own network namespace; every connection is TCP over the container's lo.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Harness } from "./harness.js";
import { appBundle, requireHostBinary, runApp } from "../apps/apps.js";

const h = new Harness("apps-redis");
after(() => h.cleanup());

const SCRIPT = `
redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --dir /tmp --daemonize yes --logfile /tmp/redis.log
trap 'cat /tmp/redis.log >&2' EXIT
wait_for "redis PING" sh -c '[ "$(redis-cli -h 127.0.0.1 -p 6390 ping)" = PONG ]'
redis-benchmark -h 127.0.0.1 -p 6390 -n 2000 -c 10 -t set,get -q | tr '\\r' '\\n' | grep 'requests per second' | tail -n 2 > /tmp/bench
cat /tmp/bench
echo "set: $(redis-cli -h 127.0.0.1 -p 6390 SET tsor:key "hello from tsor")"
echo "get: $(redis-cli -h 127.0.0.1 -p 6390 GET tsor:key)"
redis-cli -h 127.0.0.1 -p 6390 shutdown nosave || true
wait_for "redis to stop" sh -c '! redis-cli -h 127.0.0.1 -p 6390 ping'
trap - EXIT
echo "stopped"
`;

test(`redis-server, redis-benchmark and redis-cli under ${h.rtm.name}`, () => {
  for (const [bin, pkg] of [["/usr/bin/redis-server", "redis-server"], ["/usr/bin/redis-benchmark", "redis-tools"], ["/usr/bin/redis-cli", "redis-tools"]]) {
    requireHostBinary(bin!, pkg!);
  }
  const r = runApp(h, appBundle(h, SCRIPT), "redis");
  const rates = r.stdout.split("\n").filter((l) => /requests per second/.test(l));
  for (const op of ["SET", "GET"]) {
    const line = rates.find((l) => l.startsWith(`${op}:`));
    assert.ok(line, `no ${op} line from redis-benchmark:\n${r.stdout}\n${r.stderr}`);
    const rps = Number(line.match(/^\S+:\s*([\d.]+) requests per second/)?.[1]);
    assert.ok(rps > 0, `${op}: ${line}`);
  }
  const lines = r.stdout.split("\n");
  for (const want of ["set: OK", "get: hello from tsor", "stopped"]) {
    assert.ok(lines.includes(want), `no "${want}" line:\n${r.stdout}`);
  }
});
