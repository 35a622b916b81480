// Test pods made the way a kubelet's container runtime makes them: a named network namespace,
// then the CNI reference plugins (/usr/lib/cni, Debian's containernetworking-plugins) invoked
// through the CNI protocol — CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_PATH in the
// environment, the network config as JSON on stdin, the result JSON on stdout. Like containerd,
// `lo` is brought up by the loopback plugin as its own network and `eth0` by the pod network,
// here a one-plugin conflist: bridge (isGateway, no masquerade) with host-local IPAM on a test
// subnet. No default route is installed: test pods reach each other and the bridge, nothing else.
//
// Everything is idempotent and leaves nothing behind: cleanup() runs CNI DEL in reverse, deletes
// the netns and, when the last pod on the bridge is gone, the bridge and the IPAM data dir. A pod
// left over by a crashed run is torn down by the next createPod() of the same name. Pods of
// several test processes can share one bridge: creating and tearing down take a lock (a
// directory) so that no process deletes the bridge while another attaches to it.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const CNI_PATH = "/usr/lib/cni";
export const NETNS_DIR = "/var/run/netns";
/** The CNI spec version the configs are written for (Debian bookworm's plugins speak 0.1.0-1.0.0). */
export const CNI_VERSION = "1.0.0";

export const DEFAULT_POD_NETWORK = {
  /** CNI network name; host-local keeps its leases under <dataDir>/<name>. */
  name: "tsor-test",
  bridge: "tsor-test0",
  subnet: "10.88.77.0/24",
};

/** How long createPod/cleanup wait for another process's pod setup on the same bridge. */
const LOCK_TIMEOUT_MS = 30_000;
/** A CNI plugin that has not answered in this long is killed and the step fails. */
const PLUGIN_TIMEOUT_MS = 20_000;
/** Linux: a netns name is a file name; an interface (the bridge) name at most 15 bytes. */
const POD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const IFNAMSIZ_MAX = 15;

export interface PodOptions {
  bridge?: string;
  subnet?: string;
  network?: string;
  /** host-local's data dir; default <tmpdir>/tsor-cni/<bridge>, shared by the bridge's pods. */
  dataDir?: string;
}

export interface TestPod {
  name: string;
  /** /var/run/netns/<name>: what a bundle's linux.namespaces network path is set to. */
  netnsPath: string;
  ip: string;
  /** The pod's bridge and gateway address (the bridge's own IP). */
  bridge: string;
  gateway: string;
  containerId: string;
  /** CNI DEL (reverse order), netns delete, bridge delete if last. Idempotent. */
  cleanup(): Promise<void>;
}

interface Network {
  name: string;
  bridge: string;
  subnet: string;
  dataDir: string;
  lockDir: string;
}

type PluginConf = Record<string, unknown> & { type: string };
interface NetConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

interface CniResult {
  interfaces?: { name: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
}

function network(opts: PodOptions): Network {
  const bridge = opts.bridge ?? DEFAULT_POD_NETWORK.bridge;
  if (bridge.length > IFNAMSIZ_MAX) throw new Error(`pods: bridge name "${bridge}" is longer than ${IFNAMSIZ_MAX} bytes`);
  const base = path.join(os.tmpdir(), "tsor-cni");
  return {
    name: opts.network ?? DEFAULT_POD_NETWORK.name,
    bridge,
    subnet: opts.subnet ?? DEFAULT_POD_NETWORK.subnet,
    dataDir: opts.dataDir ?? path.join(base, bridge),
    lockDir: path.join(base, `${bridge}.lock`),
  };
}

/** The pod network as a conflist would hold it. */
function podConflist(net: Network): NetConfList {
  return {
    cniVersion: CNI_VERSION,
    name: net.name,
    plugins: [{
      type: "bridge",
      bridge: net.bridge,
      isGateway: true,
      ipMasq: false,
      ipam: { type: "host-local", ranges: [[{ subnet: net.subnet }]], dataDir: net.dataDir },
    }],
  };
}

/** The loopback network containerd and CRI-O run for every pod. */
function loopbackConflist(): NetConfList {
  return { cniVersion: CNI_VERSION, name: "cni-loopback", plugins: [{ type: "loopback" }] };
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), PLUGIN_TIMEOUT_MS);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`pods: ${cmd}: ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => {}); // a plugin that exits without reading stdin
    child.stdin.end(opts.input ?? "");
  });
}

async function ip(...args: string[]): Promise<Ran> {
  return run("ip", args);
}

/** Invokes one plugin of a conflist as libcni does; returns its parsed result (ADD) or {}. */
async function invokePlugin(
  list: NetConfList, plugin: PluginConf, command: "ADD" | "DEL", containerId: string, netnsPath: string,
  ifname: string, prevResult: CniResult | undefined,
): Promise<CniResult> {
  const exe = path.join(CNI_PATH, plugin.type);
  const conf = { cniVersion: list.cniVersion, name: list.name, ...plugin, ...(prevResult ? { prevResult } : {}) };
  const env = {
    ...process.env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: netnsPath,
    CNI_IFNAME: ifname,
    CNI_PATH,
  };
  const r = await run(exe, [], { env, input: JSON.stringify(conf) });
  if (r.code !== 0) {
    // A CNI error is JSON on stdout: {"code": n, "msg": "...", "details": "..."}.
    let why = (r.stdout || r.stderr).trim();
    try {
      const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
      why = `code ${e.code}: ${e.msg}${e.details ? ` (${e.details})` : ""}`;
    } catch {}
    throw new Error(`pods: CNI ${command} ${plugin.type} (network ${list.name}, ${ifname}, container ${containerId}) failed: ${why}`);
  }
  return command === "ADD" ? (JSON.parse(r.stdout) as CniResult) : {};
}

/** ADD: the plugins in order, each given the previous one's result. */
async function cniAdd(list: NetConfList, containerId: string, netnsPath: string, ifname: string): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) result = await invokePlugin(list, plugin, "ADD", containerId, netnsPath, ifname, result);
  return result ?? {};
}

/** DEL: the plugins in reverse order, each given the cached ADD result when there is one. */
async function cniDel(list: NetConfList, containerId: string, netnsPath: string, ifname: string, cached?: CniResult): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) await invokePlugin(list, plugin, "DEL", containerId, netnsPath, ifname, cached);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Runs fn holding the bridge's lock (a directory; a dead holder's lock is taken over). */
async function withLock<T>(net: Network, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  const pidFile = path.join(net.lockDir, "pid");
  for (;;) {
    try {
      fs.mkdirSync(path.dirname(net.lockDir), { recursive: true });
      fs.mkdirSync(net.lockDir);
      fs.writeFileSync(pidFile, String(process.pid));
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue; // another process removed the empty base dir just now
      if (code !== "EEXIST") throw err;
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(pidFile, "utf8"));
      } catch {}
      if (holder > 0 && !processAlive(holder)) {
        fs.rmSync(net.lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`pods: ${net.lockDir} held by pid ${holder || "?"} for ${LOCK_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(net.lockDir, { recursive: true, force: true });
    try {
      fs.rmdirSync(path.dirname(net.lockDir)); // only when no bridge has pods or a lock
    } catch {}
  }
}

function bridgePorts(bridge: string): string[] | undefined {
  try {
    return fs.readdirSync(`/sys/class/net/${bridge}/brif`);
  } catch {
    return undefined; // no such bridge
  }
}

/** Every teardown step, each attempted even if an earlier one fails; call with the lock held. */
async function teardown(net: Network, name: string, containerId: string, cached?: CniResult): Promise<void> {
  const netnsPath = path.join(NETNS_DIR, name);
  const errors: string[] = [];
  const step = async (f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      errors.push((err as Error).message);
    }
  };
  // CNI DEL must be idempotent and tolerate a missing netns: the spec's rule, which the
  // reference plugins follow. The pod network first, loopback last: reverse of ADD.
  await step(() => cniDel(podConflist(net), containerId, netnsPath, "eth0", cached));
  await step(() => cniDel(loopbackConflist(), containerId, netnsPath, "lo"));
  if (fs.existsSync(netnsPath)) {
    await step(async () => {
      const r = await ip("netns", "delete", name);
      if (r.code !== 0) throw new Error(`pods: ip netns delete ${name}: ${r.stderr.trim()}`);
    });
  }
  const ports = bridgePorts(net.bridge);
  if (ports !== undefined && ports.length === 0) {
    await step(async () => {
      const r = await ip("link", "delete", net.bridge, "type", "bridge");
      if (r.code !== 0) throw new Error(`pods: ip link delete ${net.bridge}: ${r.stderr.trim()}`);
    });
  }
  if (ports === undefined || ports.length === 0) fs.rmSync(net.dataDir, { recursive: true, force: true });
  if (errors.length > 0) throw new Error(errors.join("; "));
}

/**
 * A pod: netns `name` (under /var/run/netns), lo up, eth0 on the test bridge with an IP from the
 * test subnet. Needs root and the CNI plugins in /usr/lib/cni.
 */
export async function createPod(name: string, opts: PodOptions = {}): Promise<TestPod> {
  if (!POD_NAME.test(name)) throw new Error(`pods: bad pod name "${name}" (letters, digits, _ . -; at most 63)`);
  for (const plugin of ["bridge", "host-local", "loopback"]) {
    if (!fs.existsSync(path.join(CNI_PATH, plugin))) {
      throw new Error(`pods: ${path.join(CNI_PATH, plugin)} is missing (apt-get install containernetworking-plugins)`);
    }
  }
  const net = network(opts);
  const containerId = `tsor-test-${name}`;
  const netnsPath = path.join(NETNS_DIR, name);
  const result = await withLock(net, async () => {
    // A leftover of the same name (a crashed run): tear it down first, as DEL would have.
    if (fs.existsSync(netnsPath)) await teardown(net, name, containerId);
    const r = await ip("netns", "add", name);
    if (r.code !== 0) throw new Error(`pods: ip netns add ${name}: ${r.stderr.trim()}`);
    try {
      await cniAdd(loopbackConflist(), containerId, netnsPath, "lo");
      return await cniAdd(podConflist(net), containerId, netnsPath, "eth0");
    } catch (err) {
      await teardown(net, name, containerId).catch(() => {});
      throw err;
    }
  });
  const eth0 = result.interfaces?.findIndex((i) => i.name === "eth0" && i.sandbox !== undefined) ?? -1;
  const addr = result.ips?.find((a) => (a.interface === undefined || a.interface === eth0) && !a.address.includes(":"));
  if (!addr) {
    await withLock(net, () => teardown(net, name, containerId, result)).catch(() => {});
    throw new Error(`pods: CNI ADD for ${name} gave no IPv4 address: ${JSON.stringify(result)}`);
  }
  let cleaned = false;
  return {
    name,
    netnsPath,
    ip: addr.address.split("/")[0]!,
    bridge: net.bridge,
    gateway: addr.gateway ?? "",
    containerId,
    cleanup: async () => {
      if (cleaned) return;
      await withLock(net, () => teardown(net, name, containerId, result));
      cleaned = true;
    },
  };
}

/** The IPs host-local has leased on the pod network: one per live pod, none after the last cleanup. */
export function podLeases(opts: PodOptions = {}): string[] {
  const net = network(opts);
  try {
    return fs.readdirSync(path.join(net.dataDir, net.name)).filter((f) => isIP(f) !== 0);
  } catch {
    return [];
  }
}

/** A bundle config mutation (makeBusyboxBundle's `mutate`) that joins the pod's netns. */
export function podBundleMutation(pod: Pick<TestPod, "netnsPath">): (config: Record<string, any>) => void {
  return (config) => {
    config.linux ??= {};
    const namespaces: { type: string; path?: string }[] = (config.linux.namespaces ??= []);
    const net = namespaces.find((n) => n.type === "network");
    if (net) net.path = pod.netnsPath;
    else namespaces.push({ type: "network", path: pod.netnsPath });
  };
}

/** argv that runs `argv` inside the pod's netns (`ip netns exec`), as a plain process. */
export function inPod(pod: Pick<TestPod, "name">, argv: string[]): string[] {
  return ["ip", "netns", "exec", pod.name, ...argv];
}
