// NetnsKernel's connection template (sentry/vsock/kernel.ts): a loopback connection measured
// once in the container's netns, whose TCP_INFO and TCP_WINDOW_CLAMP a connection's getsockopt
// answers with; none where the netns cannot make one (lo down); for a peer behind an interface
// of another MTU, one measured at that MTU. Needs root (ip netns).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { AF_INET, AF_INET6 } from "../../sentry/vsock/address.js";
import { NetnsKernel } from "../../sentry/vsock/kernel.js";

const isRoot = process.getuid?.() === 0;
const ns = `tsor-unit-template-${process.pid}`;
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "inherit"] });

describe("NetnsKernel.connectionTemplate", { skip: !isRoot && "needs root (ip netns)" }, () => {
  before(() => ip("netns", "add", ns));
  after(() => ip("netns", "del", ns));

  it("is null while lo is down, and measured once lo is up", () => {
    const down = new NetnsKernel(`/run/netns/${ns}`);
    assert.equal(down.connectionTemplate(AF_INET), null);
    down.close();
    ip("-n", ns, "link", "set", "lo", "up");
    const k = new NetnsKernel(`/run/netns/${ns}`);
    // IPv6 where the host has it (a kernel booted with ipv6.disable has no ::1).
    const families = fs.existsSync("/proc/sys/net/ipv6") ? ([AF_INET, AF_INET6] as const) : ([AF_INET] as const);
    for (const family of families) {
      const t = k.connectionTemplate(family);
      assert.ok(t, `family ${family}`);
      for (const side of [t.client, t.server]) {
        assert.equal(side.tcpInfo.length, 232, "struct tcp_info in full");
        assert.equal(side.tcpInfo[0], 1, "TCP_ESTABLISHED");
        assert.ok(side.tcpInfo.readUInt32LE(16) > 536, "an MSS from lo's MTU");
        assert.ok(side.windowClamp > 0);
      }
      assert.equal(k.connectionTemplate(family), t, "measured once");
    }
    k.close();
    // Its ports were reset, not left in TIME_WAIT.
    const tcp = execFileSync("ip", ["netns", "exec", ns, "cat", "/proc/net/tcp", "/proc/net/tcp6"], { encoding: "utf8" });
    assert.equal(tcp.split("\n").filter((l) => /^\s*\d+:/.test(l)).length, 0, tcp);
  });

  it("a peer behind an interface of another MTU: that MTU's values, as a veth of it shows them", () => {
    // A veth pair inside the netns stands for the pod's: only its MTU and route matter here.
    ip("-n", ns, "link", "add", "eth0", "mtu", "1400", "type", "veth", "peer", "name", "eth1", "mtu", "1400");
    ip("-n", ns, "addr", "add", "10.77.0.2/24", "dev", "eth0");
    ip("-n", ns, "link", "set", "eth1", "up");
    ip("-n", ns, "link", "set", "eth0", "up");
    const k = new NetnsKernel(`/run/netns/${ns}`);
    try {
      const lo = k.connectionTemplate(AF_INET)!;
      const pod = k.connectionTemplate(AF_INET, Buffer.from([10, 77, 0, 5]))!;
      for (const side of [pod.client, pod.server]) {
        assert.equal(side.tcpInfo.readUInt32LE(60), 1400, "tcpi_pmtu");
        assert.equal(side.tcpInfo.readUInt32LE(16), 1348, "tcpi_snd_mss: 1400 - 40 - 12 (timestamps)");
        assert.equal(side.tcpInfo.readUInt32LE(84), 1348, "tcpi_advmss");
        assert.equal(side.tcpInfo.readUInt32LE(96), 13480, "tcpi_rcv_space: 10 segments");
      }
      assert.equal(k.connectionTemplate(AF_INET, Buffer.from([10, 77, 0, 9])), pod, "one template per MTU");
      assert.equal(k.connectionTemplate(AF_INET, Buffer.from([127, 0, 0, 1])), lo, "loopback's own");
      assert.equal(k.connectionTemplate(AF_INET, Buffer.from([10, 77, 0, 2])), lo, "the pod's own address: over lo");
      assert.equal(k.connectionTemplate(AF_INET, Buffer.from([192, 0, 2, 1])), lo, "no route: loopback's, as without a peer");
    } finally {
      k.close();
      ip("-n", ns, "link", "del", "eth0");
    }
  });

  it("not measurable at once (lo's SYNs dropped): none, and not tried again for a second", async () => {
    const synDrop = (op: "-A" | "-D") => execFileSync("ip", ["netns", "exec", ns, "iptables", op, "INPUT", "-i", "lo", "-p", "tcp", "--syn", "-j", "DROP"]);
    synDrop("-A");
    const k = new NetnsKernel(`/run/netns/${ns}`);
    try {
      assert.equal(k.connectionTemplate(AF_INET), null);
      synDrop("-D");
      assert.equal(k.connectionTemplate(AF_INET), null, "within the retry delay: not measured again");
      await new Promise((r) => setTimeout(r, 1100));
      assert.ok(k.connectionTemplate(AF_INET), "measured once the delay passed");
    } finally {
      k.close();
    }
  });
});
