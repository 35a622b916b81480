// The image deploy/netd-daemonset.yaml runs (tsor:<version>), built by `make image`'s code
// (image/build.ts) and imported into a private dockerd (test/lib/dockerd.ts), loaded into its
// containerd's k8s.io namespace as a node's would be (docker save | ctr import), then run with
// docker's default runtime (runc: what is under test is the image and the DaemonSet's commands)
// as the DaemonSet runs it. Commands, env, volumes, privileged and the host namespaces come from
// the YAML itself; each hostPath is a temp dir instead. The init container must leave the tree
// in "/opt/tsor" and tsor's handler in an empty config.toml; netd must serve, its readiness
// probe (docker exec) pass, its metrics answer on the node IP and a netns bound later under the
// host's /run/netns show in its own. Root only; once, in the tsor pass (the runtime under test
// is docker's runc either way).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { runtime } from "./harness.js";
import { PrivateDockerd, dockerClient, dockerSkipReason } from "../lib/dockerd.js";
import { repoRoot } from "../lib/bundle.js";
import { CAPABILITIES } from "../../oci/known.js";
import { buildImageRootfs, imageTag, importImage, writeImageTar } from "../../image/build.js";

/** containerd's client (Debian's containerd, which docker.io depends on). */
const CTR = "/usr/bin/ctr";

const skip = runtime().isRunc ? "runs once, in the tsor pass (the image runs on docker's runc either way)" : dockerSkipReason(false);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  command: string[];
  args?: string[];
  env?: EnvVar[];
  readinessProbe?: { exec: { command: string[] } };
  securityContext?: { privileged?: boolean };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: "None" | "HostToContainer" | "Bidirectional" }[];
}
interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  initContainers: Container[];
  containers: Container[];
  volumes: { name: string; hostPath: { path: string } }[];
}

const pod = (parse(fs.readFileSync(path.join(repoRoot(), "deploy", "netd-daemonset.yaml"), "utf8")) as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

/** A node IP of our own on lo (127.0.0.0/8): netd's metrics port cannot meet another's. */
const NODE_IP = `127.${1 + (process.pid % 250)}.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
/** The downward-API fields the DaemonSet reads, as the kubelet would fill them in. */
const FIELDS: Record<string, string> = { "status.hostIP": NODE_IP };

/** The container's env as the kubelet resolves it, plus `extra`. */
function containerEnv(c: Container, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    const value = e.value ?? (field ? FIELDS[field] : undefined);
    assert.ok(value !== undefined, `env ${e.name} of ${c.name}: no value for ${JSON.stringify(e)}`);
    env[e.name] = value;
  }
  return { ...env, ...extra };
}

/** The kubelet's $(VAR) expansion of command and args. */
const expand = (s: string, env: Record<string, string>): string => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);

/**
 * `privileged: true` as docker can give it here. --privileged asks runc for every capability,
 * which fails ("unable to apply caps") where this machine's own bounding set lacks some (a
 * sandboxed VM); then: every capability the bounding set has, no seccomp or AppArmor profile,
 * /proc and /sys unmasked (not the host's devices: neither netd nor install uses one).
 */
function privilegedFlags(): string[] {
  const bnd = BigInt("0x" + /^CapBnd:\s*([0-9a-f]+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]!);
  const missing = CAPABILITIES.filter((_, bit) => ((bnd >> BigInt(bit)) & 1n) === 0n);
  if (missing.length === 0) return ["--privileged"];
  return [
    ...["--cap-add", "ALL", ...missing.flatMap((c) => ["--cap-drop", c])],
    ...["--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined"],
  ];
}

/** The bind propagation the kubelet asks of the runtime for a volumeMount's mountPropagation. */
const PROPAGATION = { None: "rprivate", HostToContainer: "rslave", Bidirectional: "rshared" } as const;

/**
 * `docker run` flags for container `c` of the pod, with each hostPath volume at `hostRoot` +
 * its path (created, as type DirectoryOrCreate does). hostRoot must be a shared mount for
 * rslave/rshared (docker checks the source's mount).
 */
function runFlags(c: Container, hostRoot: string, env: Record<string, string>): string[] {
  const flags: string[] = [];
  if (pod.hostNetwork) flags.push("--network", "host");
  if (pod.hostPID) flags.push("--pid", "host");
  if (c.securityContext?.privileged) flags.push(...privilegedFlags());
  for (const m of c.volumeMounts ?? []) {
    const v = pod.volumes.find((x) => x.name === m.name);
    assert.ok(v, `volume ${m.name} of ${c.name}`);
    const src = path.join(hostRoot, v.hostPath.path);
    fs.mkdirSync(src, { recursive: true });
    const opts = [...(m.readOnly ? ["ro"] : []), ...(m.mountPropagation ? [PROPAGATION[m.mountPropagation]] : [])];
    flags.push("-v", `${src}:${m.mountPath}${opts.length ? `:${opts.join(",")}` : ""}`);
  }
  for (const [k, v] of Object.entries(env)) flags.push("-e", `${k}=${v}`);
  return flags;
}

/** The process argv of `c` (command + args, expanded). */
const argvOf = (c: Container, env: Record<string, string>): string[] => [...c.command, ...(c.args ?? [])].map((a) => expand(a, env));

describe("the netd DaemonSet's image (make image), run by a private dockerd as the DaemonSet runs it", { skip }, () => {
  let d: PrivateDockerd | undefined;
  let hostRoot = "";
  const tag = imageTag();
  const init = pod.initContainers[0]!;
  const netd = pod.containers[0]!;
  const netdName = `img-${process.pid}`;
  const netdContainer = `tsor-netd-${process.pid}`;

  before(async () => {
    d = new PrivateDockerd();
    await d.start();
    hostRoot = path.join(d.tmp, "host");
    // The "host" is a shared mount, as / is on a systemd node, so that HostToContainer
    // (rslave) volumes can be made from it; d.stop() unmounts everything under d.tmp.
    fs.mkdirSync(hostRoot);
    for (const args of [["--bind", hostRoot, hostRoot], ["--make-rshared", hostRoot]]) {
      const m = spawnSync("mount", args, { encoding: "utf8", timeout: 10_000 });
      assert.equal(m.status, 0, `mount ${args.join(" ")}: ${m.stderr}`);
    }
    const rootfs = path.join(d.tmp, "image-rootfs");
    const tar = path.join(d.tmp, "tsor-image.tar");
    buildImageRootfs(rootfs);
    writeImageTar(rootfs, tar);
    fs.rmSync(rootfs, { recursive: true, force: true });
    importImage(tar, tag, d.command([]));
    fs.rmSync(tar);
  });

  after(async () => {
    d?.docker(["rm", "-f", netdContainer]);
    await d?.stop();
  });

  test("the DaemonSet's containers name the image make image builds", () => {
    for (const c of [init, netd]) assert.equal(c.image, tag, c.name);
    assert.match(d!.ok(["image", "inspect", tag, "--format", "{{json .Config.Env}}"]), /PATH=\/opt\/tsor\/bin:/);
  });

  test("docker save | ctr -n k8s.io images import: a node's containerd has it under the name the kubelet asks for, and runs it", () => {
    // dockerd's own containerd (its exec-root is d.tmp/exec) stands in for a node's.
    const sock = path.join(d!.tmp, "exec", "containerd", "containerd.sock");
    const ctr = (args: string[]) => spawnSync(CTR, ["-a", sock, "-n", "k8s.io", ...args], { encoding: "utf8", timeout: 60_000 });
    const imp = spawnSync("sh", ["-c", `"$1" --host "unix://$2" save "$3" | "$4" -a "$5" -n k8s.io images import -`, "sh", dockerClient()!, d!.sock, tag, CTR, sock], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(imp.status, 0, `docker save | ctr images import: ${imp.stdout}${imp.stderr}`);
    // The kubelet normalizes `image: tsor:0.1.0` to docker.io/library/tsor:0.1.0.
    const ref = `docker.io/library/${tag}`;
    assert.ok(ctr(["images", "ls", "-q"]).stdout.split("\n").includes(ref), `${ref} in containerd's k8s.io namespace`);
    const run = ctr(["run", "--rm", ref, `tsor-image-${process.pid}`, "/opt/tsor/bin/tsor", "--version"]);
    assert.equal(run.status, 0, `ctr run: ${run.stderr}`);
    assert.match(run.stdout, /^tsor version /);
  });

  test("init container: copies the tree to the host's /opt/tsor and adds tsor's handler to an empty config.toml", () => {
    const env = containerEnv(init, {});
    const flags = runFlags(init, hostRoot, env);
    const config = path.join(hostRoot, "etc", "containerd", "config.toml");
    fs.writeFileSync(config, "");
    const r = d!.docker(["run", "--rm", ...flags, tag, ...argvOf(init, env)], 60_000);
    assert.equal(r.code, 0, `init container failed (${r.code}): ${r.stdout}${r.stderr}`);

    const opt = path.join(hostRoot, "opt", "tsor");
    for (const f of ["bin/tsor", "bin/tsor-shim-runtime", "native/build/tsor-init"]) {
      assert.ok(fs.statSync(path.join(opt, f)).mode & 0o111, `${f} executable on the host`);
    }
    for (const f of ["dist/bundle/launcher.mjs", "dist/bundle/tsor.cjs", "dist/bundle/sentry.cjs", "native/addon/build/Release/tsor_native.node", "node_modules/@kubernetes/client-node/package.json"]) {
      assert.ok(fs.existsSync(path.join(opt, f)), `${f} on the host`);
    }
    // What an empty file gets: deploy/containerd/config.toml, the handler for /opt/tsor/bin/tsor.
    assert.equal(fs.readFileSync(config, "utf8"), fs.readFileSync(path.join(repoRoot(), "deploy", "containerd", "config.toml"), "utf8"));
    const record = JSON.parse(fs.readFileSync(path.join(hostRoot, "var", "lib", "tsor", "install.json"), "utf8")) as Record<string, unknown>;
    assert.ok(record.containerd, `install.json records the containerd change: ${JSON.stringify(record)}`);
    // The copied tree runs on the host, with the host's node (as containerd's shim will run it).
    const v = spawnSync(process.execPath, [path.join(opt, "bin", "tsor"), "--version"], { encoding: "utf8", timeout: 10_000 });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^tsor version /);
  });

  test("netd container: serves on a private socket, its readiness probe passes, metrics on the node IP", async () => {
    // A private netd: its name, socket and state under the pod's /run/tsor (a temp dir here), so
    // neither its socket nor its lock (an abstract socket named after the socket path, in the
    // host's network namespace) meets the node's own netd.
    const netdEnv = {
      TSOR_NETD_NAME: netdName,
      TSOR_NETD_SOCKET: `/run/tsor/netd/${netdName}.sock`,
      TSOR_NETD_STATE_DIR: `/run/tsor/netd/${netdName}`,
    };
    const env = containerEnv(netd, netdEnv);
    const flags = runFlags(netd, hostRoot, env);
    d!.ok(["run", "-d", "--name", netdContainer, ...flags, tag, ...argvOf(netd, env)]);

    const probe = netd.readinessProbe!.exec.command;
    const deadline = Date.now() + 20_000;
    let r = d!.docker(["exec", netdContainer, ...probe]);
    while (r.code !== 0 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 250));
      r = d!.docker(["exec", netdContainer, ...probe]);
    }
    const logs = () => d!.docker(["logs", netdContainer]).stderr;
    assert.equal(r.code, 0, `readiness probe ${probe.join(" ")}: ${r.stdout}${r.stderr}\nnetd: ${logs()}`);
    assert.match(r.stdout, new RegExp(`^netd ${netdName} .*socket ${netdEnv.TSOR_NETD_SOCKET}`, "m"));
    assert.ok(fs.existsSync(path.join(hostRoot, netdEnv.TSOR_NETD_SOCKET)), "the socket is in the host's /run/tsor");
    const url = /metrics (http:\S+\/metrics)/.exec(logs())?.[1];
    assert.ok(url?.startsWith(`http://${NODE_IP}:`), `metrics on the node IP ${NODE_IP}: ${logs()}`);
    const metrics = await fetch(url!, { signal: AbortSignal.timeout(5000) });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^# TYPE tsor_/m);

    // HostToContainer: a pod's network namespace that a CNI plugin binds under the host's
    // /run/netns after netd started shows in netd's (a namespace of our own, freed at umount).
    for (const m of netd.volumeMounts!.filter((v) => v.mountPropagation === "HostToContainer")) {
      const probe = `probe-${process.pid}`;
      const onHost = path.join(hostRoot, pod.volumes.find((v) => v.name === m.name)!.hostPath.path, probe);
      fs.writeFileSync(onHost, "");
      const u = spawnSync("unshare", ["--net", "--", "mount", "--bind", "/proc/self/ns/net", onHost], { encoding: "utf8", timeout: 10_000 });
      assert.equal(u.status, 0, `unshare --net mount --bind: ${u.stderr}`);
      try {
        const mountinfo = d!.ok(["exec", netdContainer, "cat", "/proc/self/mountinfo"]);
        assert.match(mountinfo, new RegExp(` ${m.mountPath}/${probe} .* - nsfs `), mountinfo);
      } finally {
        spawnSync("umount", [onHost], { timeout: 10_000 });
      }
    }

    // Stop as the kubelet does (SIGTERM, then SIGKILL after the grace period): netd exits on its own.
    d!.ok(["stop", "--time", "10", netdContainer], 30_000);
    assert.equal(d!.ok(["inspect", netdContainer, "--format", "{{.State.ExitCode}}"]).trim(), "0", logs());
    d!.ok(["rm", netdContainer]);
    assert.ok(!fs.existsSync(path.join(hostRoot, netdEnv.TSOR_NETD_SOCKET)), "netd removed its socket");
  });
});
