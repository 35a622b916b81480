// containerd's CRI through `tsor install --containerd`: a private containerd (root, state and
// sockets under a temp dir, its CRI plugin on its own CNI bridge) whose runtime handler `tsor`
// our installer adds, and images imported offline. The test plays kubelet over CRI v1
// (test/cri/client.ts): two pods with runtime_handler "tsor", an httpd in pod A, a sleeper in
// pod B that fetches from pod A's IP by ExecSync (a TCP connection from one pod to another),
// ExecSync's exit code, then stop and remove, and nothing left (no tsor state, netns or shim).
// Also `ctr run` with tsor-shim-runtime as the runc binary, with and without the systemd cgroup
// driver. Root only; a tsor test.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBusyboxRootfs, repoRoot, TSOR } from "../lib/bundle.js";
import { CNI_PATH, NETNS_DIR } from "../lib/pods.js";
import { CriClient, type PodSandboxConfig } from "../cri/client.js";
import { runtime } from "./harness.js";
import { killMentioning, processesMentioning, stopDaemon, unmountUnder } from "../lib/daemons.js";

const CONTAINERD = "/usr/bin/containerd";
const CTR = "/usr/bin/ctr";
const SHIM_RUNTIME = path.join(repoRoot(), "bin", "tsor-shim-runtime");
/** One image for the sandbox (its default command sleeps) and the containers. */
const IMAGE = "docker.io/library/tsor-bb:test";
const BRIDGE = "tsor-cri0";
const SUBNET = "10.88.95.0/24";
/** The runc shim's default runc root; runc (here tsor) keeps its state in <root>/<namespace>/<id>. */
const RUNC_ROOT = "/run/containerd/runc";
const CMD_TIMEOUT_MS = 30_000;
const HELLO = "hello from pod A\n";

const skip = runtime().isRunc
  ? "a tsor test (containerd's CRI with tsor's runtime handler)"
  : process.getuid?.() !== 0
    ? "needs root (containerd)"
    : !fs.existsSync(CONTAINERD) || !fs.existsSync(CTR)
      ? "no containerd/ctr (apt-get install containerd)"
      : false;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A bounded child command. */
function run(cmd: string, args: string[], timeoutMs = CMD_TIMEOUT_MS): Result {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
    throw new Error(`${cmd} ${args.join(" ")}: no answer in ${timeoutMs} ms (stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)})`);
  }
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A docker-archive tar (manifest.json, config, one uncompressed layer) of a busybox rootfs. */
function buildImage(dir: string, rootfs: string, out: string): void {
  const layer = path.join(dir, "layer.tar");
  const t = run("tar", ["-C", rootfs, "-cf", layer, "."]);
  assert.equal(t.code, 0, t.stderr);
  const diffId = "sha256:" + createHash("sha256").update(fs.readFileSync(layer)).digest("hex");
  const config = JSON.stringify({
    architecture: process.arch === "x64" ? "amd64" : process.arch,
    os: "linux",
    config: { Env: ["PATH=/bin"], Cmd: ["sleep", "3600"], WorkingDir: "/" },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created_by: "tsor containerd.test.ts" }],
  });
  const configName = createHash("sha256").update(config).digest("hex") + ".json";
  fs.writeFileSync(path.join(dir, configName), config);
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify([{ Config: configName, RepoTags: ["tsor-bb:test"], Layers: ["layer.tar"] }]));
  const a = run("tar", ["-C", dir, "-cf", out, "manifest.json", configName, "layer.tar"]);
  assert.equal(a.code, 0, a.stderr);
}


function netnsNames(): string[] {
  try {
    return fs.readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

describe("containerd CRI with runtime handler tsor (a private containerd configured by tsor install --containerd)", { skip, timeout: 240_000 }, () => {
  let tmp = "";
  let sock = "";
  let containerd: ChildProcess | undefined;
  let cri: CriClient | undefined;
  let netnsBefore: string[] = [];
  const ctr = (args: string[], timeoutMs = CMD_TIMEOUT_MS) => run(CTR, ["-a", sock, ...args], timeoutMs);
  const log = () => (tmp ? fs.readFileSync(path.join(tmp, "containerd.log"), "utf8").split("\n").filter((l) => /level=(error|warning|fatal)|cri/i.test(l)).join("\n").slice(-4000) : "");

  before(async () => {
    netnsBefore = netnsNames();
    run("ip", ["link", "del", BRIDGE]); // a leftover of an interrupted run, if any
    tmp = fs.mkdtempSync("/tmp/tsor-cd-");
    sock = path.join(tmp, "containerd.sock");
    const cniDir = path.join(tmp, "cni");
    fs.mkdirSync(cniDir);
    fs.writeFileSync(
      path.join(cniDir, "10-tsor-cri.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "tsor-cri",
        plugins: [
          {
            type: "bridge",
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false,
            ipam: { type: "host-local", ranges: [[{ subnet: SUBNET }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: path.join(tmp, "ipam") },
          },
        ],
      }),
    );
    const config = path.join(tmp, "config.toml");
    fs.writeFileSync(
      config,
      [
        "version = 2",
        `root = "${tmp}/root"`,
        `state = "${tmp}/state"`,
        "[grpc]",
        `  address = "${sock}"`,
        "[ttrpc]",
        `  address = "${sock}.ttrpc"`,
        "[debug]",
        `  address = "${tmp}/debug.sock"`,
        "[metrics]",
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${tmp}/opt"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${IMAGE}"`,
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        "  disable_apparmor = true",
        // The sandbox's oom_score_adj is -998; without CAP_SYS_RESOURCE (some CI hosts) no
        // runtime may lower it, and this clamps it to containerd's own.
        "  restrict_oom_score_adj = true",
        // A runtimes table replaces the default one, which must then be named.
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '  runtime_type = "io.containerd.runc.v2"',
        '[plugins."io.containerd.grpc.v1.cri".cni]',
        `  bin_dir = "${CNI_PATH}"`,
        `  conf_dir = "${cniDir}"`,
        "",
      ].join("\n"),
    );
    // Through our installer, as a user would: it adds the runtime handler tsor.
    const inst = run(TSOR, ["install", "--containerd", "--containerd-config", config, "--state-file", path.join(tmp, "install.json")]);
    assert.equal(inst.code, 0, `tsor install failed: ${inst.stderr}`);
    assert.match(fs.readFileSync(config, "utf8"), /runtimes\.tsor\]/);

    const logFd = fs.openSync(path.join(tmp, "containerd.log"), "a");
    containerd = spawn(CONTAINERD, ["--config", config, "--log-level", "debug"], { stdio: ["ignore", logFd, logFd] });
    fs.closeSync(logFd);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (fs.existsSync(sock) && ctr(["version"], 5000).code === 0) break;
      if (containerd.exitCode !== null || Date.now() > deadline) throw new Error(`containerd did not come up: ${log()}`);
      await sleep(200);
    }
    const rootfs = path.join(tmp, "rootfs");
    makeBusyboxRootfs(rootfs);
    fs.mkdirSync(path.join(rootfs, "www"));
    fs.writeFileSync(path.join(rootfs, "www", "index.html"), HELLO);
    const imgDir = path.join(tmp, "image");
    fs.mkdirSync(imgDir);
    const tarball = path.join(tmp, "image.tar");
    buildImage(imgDir, rootfs, tarball);
    for (const ns of ["k8s.io", "tsor"]) {
      const imp = ctr(["-n", ns, "images", "import", tarball], 60_000);
      assert.equal(imp.code, 0, `ctr images import (${ns}) failed: ${imp.stderr}`);
    }
    cri = new CriClient(sock);
    const v = await cri.version().catch((e: Error) => {
      throw new Error(`${e.message}; containerd's log: ${log()}`);
    });
    assert.equal(v.runtime_name, "containerd");
    // The CRI plugin learns of imported images from containerd's events.
    for (let i = 0; ; i++) {
      if ((await cri.listImages()).some((im) => im.repo_tags.includes(IMAGE))) break;
      if (i > 50) throw new Error(`CRI does not list ${IMAGE}`);
      await sleep(200);
    }
  });

  after(async () => {
    cri?.close();
    if (!tmp) return;
    await stopDaemon(containerd);
    await killMentioning(tmp);
    unmountUnder(tmp);
    for (const n of netnsNames()) {
      if (!netnsBefore.includes(n) && n.startsWith("cni-")) {
        spawnSync("umount", ["-l", path.join(NETNS_DIR, n)]);
        fs.rmSync(path.join(NETNS_DIR, n), { force: true });
      }
    }
    spawnSync("ip", ["link", "del", BRIDGE]);
    // tsor's state of this containerd's containers, if a failure left any (runc root is global).
    for (const ns of ["k8s.io", "tsor"]) {
      const dir = path.join(RUNC_ROOT, ns);
      for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        try {
          if (JSON.parse(fs.readFileSync(path.join(dir, id, "state.json"), "utf8")).bundle?.startsWith(tmp + "/")) fs.rmSync(path.join(dir, id), { recursive: true, force: true });
        } catch {
          /* not a tsor state dir */
        }
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("two pods (runtime_handler tsor): httpd in A, ExecSync wget from B to A's pod IP, stop, remove, nothing left", async () => {
    const c = cri!;
    const sandbox = (name: string): PodSandboxConfig => ({
      metadata: { name, uid: `uid-${name}-${path.basename(tmp)}`, namespace: "default", attempt: 0 },
      hostname: name,
      log_directory: path.join(tmp, "logs", name),
      linux: {},
    });
    const cfgA = sandbox("tsor-a");
    const cfgB = sandbox("tsor-b");
    const pods: string[] = [];
    const ids: string[] = [];
    try {
      const podA = await c.runPodSandbox(cfgA, "tsor");
      pods.push(podA);
      const podB = await c.runPodSandbox(cfgB, "tsor");
      pods.push(podB);
      const stA = await c.podSandboxStatus(podA);
      const stB = await c.podSandboxStatus(podB);
      assert.equal(stA.state, "SANDBOX_READY");
      assert.equal(stA.runtime_handler, "tsor");
      const ipA = stA.network?.ip ?? "";
      const ipB = stB.network?.ip ?? "";
      assert.match(ipA, /^10\.88\.95\.\d+$/);
      assert.match(ipB, /^10\.88\.95\.\d+$/);
      assert.notEqual(ipA, ipB);

      const httpd = await c.createContainer(
        podA,
        { metadata: { name: "httpd" }, image: { image: IMAGE }, command: ["httpd", "-f", "-p", "8080", "-h", "/www"], log_path: "httpd.log" },
        cfgA,
      );
      ids.push(httpd);
      const sleeper = await c.createContainer(podB, { metadata: { name: "sleeper" }, image: { image: IMAGE }, command: ["sleep", "3600"], log_path: "sleeper.log" }, cfgB);
      ids.push(sleeper);
      await c.startContainer(httpd);
      await c.startContainer(sleeper);
      assert.equal((await c.containerStatus(httpd)).state, "CONTAINER_RUNNING");
      assert.equal((await c.containerStatus(sleeper)).state, "CONTAINER_RUNNING");
      assert.deepEqual((await c.listContainers({ pod_sandbox_id: podA })).map((x) => x.id), [httpd]);

      const ex = await c.execSync(sleeper, ["sh", "-c", "echo out; echo err >&2; exit 7"], 10);
      assert.deepEqual(ex, { stdout: "out\n", stderr: "err\n", exit_code: 7 });

      // httpd may not listen yet: a few tries, each bounded.
      let got = { stdout: "", stderr: "", exit_code: -1 };
      for (let i = 0; i < 10; i++) {
        got = await c.execSync(sleeper, ["wget", "-q", "-O", "-", `http://${ipA}:8080/`], 10);
        if (got.exit_code === 0) break;
        await sleep(250);
      }
      const local = await c.execSync(httpd, ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"], 10);
      assert.equal(got.exit_code, 0, `wget from pod B to ${ipA}:8080 failed: ${JSON.stringify(got)}; from pod A itself to 127.0.0.1:8080: ${JSON.stringify(local)}; httpd: ${JSON.stringify(await c.containerStatus(httpd))}`);
      assert.equal(got.stdout, HELLO);

      for (const p of [podA, podB]) await c.stopPodSandbox(p);
      assert.equal((await c.containerStatus(httpd)).state, "CONTAINER_EXITED");
      for (const p of [podA, podB]) await c.removePodSandbox(p);
      pods.length = 0;
      assert.deepEqual(await c.listContainers(), []);
      assert.deepEqual((await c.listPodSandbox()).map((p) => p.id), []);
    } finally {
      for (const p of pods) {
        await c.stopPodSandbox(p).catch(() => {});
        await c.removePodSandbox(p).catch(() => {});
      }
    }

    // Nothing left: tsor's state for the pods and containers, their netns, shims and sentries.
    const all = [...ids];
    let left: string[] = [];
    let procs: number[] = [];
    for (let i = 0; i < 50; i++) {
      left = all.filter((id) => fs.existsSync(path.join(RUNC_ROOT, "k8s.io", id)));
      procs = processesMentioning(tmp, [containerd!.pid!]);
      if (left.length === 0 && procs.length === 0) break;
      await sleep(200);
    }
    assert.deepEqual(left, [], "tsor state dirs left under the runc root");
    const cmdlines = procs.map((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
      } catch {
        return String(p);
      }
    });
    assert.deepEqual(cmdlines, [], "processes (shims, sentries) left");
    assert.deepEqual(netnsNames().filter((n) => !netnsBefore.includes(n)), [], "netns left");
  });

  test("ctr run with tsor-shim-runtime as the runc binary prints hi", () => {
    const id = `tsor-ctr-${process.pid}`;
    const r = ctr(["-n", "tsor", "run", "--runtime", "io.containerd.runc.v2", "--runc-binary", SHIM_RUNTIME, "--rm", IMAGE, id, "echo", "hi"]);
    assert.equal(r.code, 0, `ctr run failed: ${r.stderr}\n${log()}`);
    assert.equal(r.stdout, "hi\n");
    assert.equal(fs.existsSync(path.join(RUNC_ROOT, "tsor", id)), false);
  });

  test("ctr run --runc-systemd-cgroup: the container runs in the scope systemd would give it; nothing left", () => {
    const id = `tsor-ctr-sd-${process.pid}`;
    const slice = `tsorctr${process.pid}`;
    const scope = `/${slice}.slice/tsor-ctr-${id}.scope`;
    const mounts = () => ["/sys/fs/cgroup", ...fs.readdirSync("/sys/fs/cgroup").map((m) => path.join("/sys/fs/cgroup", m))];
    try {
      const r = ctr([
        "-n", "tsor", "run", "--runtime", "io.containerd.runc.v2", "--runc-binary", SHIM_RUNTIME,
        "--runc-systemd-cgroup", "--cgroup", `${slice}.slice:tsor-ctr:${id}`, "--rm", IMAGE, id, "cat", "/proc/self/cgroup",
      ]);
      assert.equal(r.code, 0, `ctr run failed: ${r.stderr}\n${log()}`);
      const paths = r.stdout.trim().split("\n").map((l) => l.slice(l.indexOf(":", l.indexOf(":") + 1) + 1));
      // Inside a cgroup namespace (v2 hosts) every path reads "/"; else they name the scope.
      if (!paths.every((p) => p === "/")) assert.ok(paths.includes(scope), `container's cgroups: ${r.stdout}`);
      assert.equal(fs.existsSync(path.join(RUNC_ROOT, "tsor", id)), false);
      for (const mount of mounts()) assert.ok(!fs.existsSync(path.join(mount, scope)), `${mount}${scope} left`);
    } finally {
      // The slice stands for the one kubelet or docker made through systemd: not tsor's to remove.
      for (const mount of mounts()) {
        try {
          fs.rmdirSync(path.join(mount, `${slice}.slice`));
        } catch {
          /* not there */
        }
      }
    }
  });
});
