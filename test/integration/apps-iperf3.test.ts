// App: iperf3, server (daemon) and client inside one container (host binaries, hostRo rootfs):
// two parallel streams one way, then one stream in reverse (-R: the server sends). iperf3 drives
// its data sockets through a control connection, non-blocking connects, select(), SO_SNDBUF and
// getsockopt(TCP_INFO / TCP_CONGESTION) on every stream; its JSON report must show both tests
// complete, with no error, and bytes received.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Harness } from "./harness.js";
import { appBundle, requireHostBinary, runApp } from "../apps/apps.js";

const h = new Harness("apps-iperf3");
after(() => h.cleanup());

// One server per test (5201 and 5202, 0x1451 and 0x1452): iperf3's server closes its listener
// after a test and listens again, and a client that comes in between is refused, natively too
// (the gap is wider under tsor, whose listen and bind are trapped). A server is up once its
// listener shows in the netns's /proc/net/tcp.
const SCRIPT = `
for port in 5201 5202; do
  iperf3 -s -p $port -B 127.0.0.1 -D --pidfile /tmp/iperf3-$port.pid --logfile /tmp/server-$port.log
done
trap 'kill "$(cat /tmp/iperf3-5201.pid)" "$(cat /tmp/iperf3-5202.pid)" 2>/dev/null || true; cat /tmp/server-*.log >&2' EXIT
wait_for "iperf3 to listen" sh -c "grep -qi ':1451 00000000:0000 0A' /proc/net/tcp && grep -qi ':1452 00000000:0000 0A' /proc/net/tcp"
echo "=== forward"
iperf3 -c 127.0.0.1 -p 5201 -t 1 -P 2 -J
echo "=== reverse"
iperf3 -c 127.0.0.1 -p 5202 -t 1 -R -J
echo "=== done"
`;

interface Report {
  error?: string;
  start: { connected: unknown[]; test_start: { reverse: number; num_streams: number } };
  end: { sum_sent: { bytes: number }; sum_received: { bytes: number } };
}

function report(out: string, from: string, to: string): Report {
  const text = out.slice(out.indexOf(`=== ${from}\n`) + `=== ${from}\n`.length, out.indexOf(`=== ${to}\n`));
  return JSON.parse(text) as Report;
}

test(`iperf3 client and server under ${h.rtm.name}: two streams, then reverse`, () => {
  requireHostBinary("/usr/bin/iperf3", "iperf3");
  const r = runApp(h, appBundle(h, SCRIPT), "iperf3");
  assert.ok(r.stdout.includes("=== done\n"), `iperf3 did not finish:\n${r.stdout}\n${r.stderr}`);
  const fwd = report(r.stdout, "forward", "reverse");
  const rev = report(r.stdout, "reverse", "done");
  for (const [name, rep, streams, reverse] of [["forward", fwd, 2, 0], ["reverse", rev, 1, 1]] as const) {
    assert.equal(rep.error, undefined, `${name}: ${rep.error}`);
    assert.equal(rep.start.test_start.num_streams, streams, name);
    assert.equal(rep.start.test_start.reverse, reverse, name);
    assert.equal(rep.start.connected.length, streams, `${name}: connected streams`);
    assert.ok(rep.end.sum_received.bytes > 1024 * 1024, `${name}: ${rep.end.sum_received.bytes} bytes received`);
    assert.ok(rep.end.sum_sent.bytes >= rep.end.sum_received.bytes, `${name}: sent >= received`);
  }
});
