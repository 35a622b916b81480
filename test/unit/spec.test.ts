// oci/spec: config.json validation (messages name the JSON path), runc's default spec, `tsor spec`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { Command } from "commander";
import { register } from "../../oci/commands/spec.js";
import { defaultSpec, formatSpec, writeDefaultSpec } from "../../oci/spec/default.js";
import { findJsonError } from "../../oci/spec/json.js";
import { loadSpec, parseSpec, parseSpecText, SpecError } from "../../oci/spec/validate.js";
import { UserError } from "../../oci/cli.js";
import { OCI_VERSION } from "../../oci/known.js";

const RUNC = "/usr/sbin/runc";

/** Deliberately untyped: the tests put wrong types into configs to see them rejected. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** A fresh valid config (runc's template) as plain JSON, for tests to break. */
function base(): Json {
  return JSON.parse(formatSpec(defaultSpec()));
}

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tsor-spec-"));
}

/** parseSpec must throw a SpecError with exactly this message. */
function rejects(config: unknown, message: string): void {
  assert.throws(
    () => parseSpec(config, { warn: () => {} }),
    (e: unknown) => e instanceof SpecError && e instanceof UserError && e.exitCode === 1 && e.message === message,
    message,
  );
  try {
    parseSpec(config, { warn: () => {} });
  } catch (e) {
    assert.equal((e as Error).message, message);
  }
}

function parseWarnings(config: unknown) {
  const warnings: string[] = [];
  const spec = parseSpec(config, { warn: (m) => warnings.push(m) });
  return { spec, warnings };
}

/** A config as docker 24 writes it (trimmed), with keys this runtime does not know. */
const DOCKER_LIKE: Json = {
  ociVersion: "1.0.2-dev",
  process: {
    user: { uid: 0, gid: 0, additionalGids: [0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27] },
    args: ["redis-server"],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=3f2a1c"],
    cwd: "/data",
    capabilities: {
      bounding: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW"],
      effective: ["CAP_CHOWN", "CAP_DAC_OVERRIDE"],
      permitted: ["CAP_CHOWN", "CAP_DAC_OVERRIDE"],
    },
    apparmorProfile: "docker-default",
    oomScoreAdj: 0,
    rlimits: [{ type: "RLIMIT_NOFILE", hard: 18446744073709551615, soft: 18446744073709551615 }],
  },
  root: { path: "/var/lib/docker/overlay2/abc/merged" },
  hostname: "3f2a1c",
  mounts: [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/etc/hosts", type: "bind", source: "/var/lib/docker/containers/x/hosts", options: ["rbind", "rprivate"] },
  ],
  hooks: { prestart: [{ path: "/usr/bin/dockerd", args: ["libnetwork-setkey", "-exec-root=/var/run/docker", "x", "y"] }] },
  linux: {
    sysctl: { "net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647" },
    resources: {
      devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }],
      memory: { limit: 536870912, swap: 1073741824, disableOOMKiller: false },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: "0-1" },
      pids: { limit: 4096 },
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
      hugepageLimits: [{ pageSize: "2MB", limit: 0 }],
      unified: { "memory.high": "400M" },
    },
    cgroupsPath: "system.slice:docker:3f2a1c",
    namespaces: [{ type: "mount" }, { type: "network", path: "/var/run/netns/cni-1234" }, { type: "uts" }, { type: "pid" }, { type: "ipc" }],
    seccomp: {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [
        { names: ["accept", "accept4"], action: "SCMP_ACT_ALLOW" },
        { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }] },
        { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 2114060288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
      ],
    },
    maskedPaths: ["/proc/asound", "/proc/acpi"],
    readonlyPaths: ["/proc/bus", "/proc/fs"],
    rootfsPropagation: "rslave",
    dockerExtension: { anything: [1, "two"] },
  },
  annotations: { "io.kubernetes.cri.container-type": "container" },
  windows: null,
  vendorTopLevel: { kept: true },
};

describe("parseSpec: valid configs", () => {
  it("accepts runc's template and returns it unchanged", () => {
    const { spec, warnings } = parseWarnings(base());
    assert.deepEqual(warnings, []);
    assert.deepEqual(spec, base());
  });

  it("accepts the rootless template", () => {
    const spec = parseSpec(JSON.parse(formatSpec(defaultSpec({ rootless: true, uid: 1000, gid: 1000 }))));
    assert.deepEqual(spec.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  });

  it("accepts a docker-like config and keeps the keys it does not know", () => {
    const { spec, warnings } = parseWarnings(DOCKER_LIKE);
    assert.deepEqual(warnings, []);
    assert.equal(spec.process.cwd, "/data");
    assert.deepEqual((spec.linux as Json)["dockerExtension"], { anything: [1, "two"] });
    assert.deepEqual((spec as Json)["vendorTopLevel"], { kept: true });
    assert.equal("windows" in spec, false, "a null property reads as absent, as Go decodes it");
    assert.equal(spec.process.rlimits?.[0]?.hard, 2 ** 64, "RLIM_INFINITY survives JSON.parse as 2**64");
    assert.equal(spec.linux?.seccomp?.syscalls?.[2]?.args?.[0]?.op, "SCMP_CMP_MASKED_EQ");
  });

  it("does not modify its input", () => {
    const input = base();
    input.mounts.push({ destination: "tmp", type: "tmpfs", source: "tmpfs" });
    input.process.capabilities.bounding.push("CAP_NOT_A_CAP");
    const before = structuredClone(input);
    parseWarnings(input);
    assert.deepEqual(input, before);
  });

  it("accepts the configs runc spec writes (reference)", { skip: !fs.existsSync(RUNC) && "runc not installed" }, () => {
    for (const rootless of [false, true]) {
      const dir = tmpdir();
      execFileSync(RUNC, rootless ? ["spec", "--rootless"] : ["spec"], { cwd: dir });
      const text = fs.readFileSync(path.join(dir, "config.json"), "utf8");
      parseSpecText(text);
      // Same bytes as runc's, but for the spec version.
      const ours = formatSpec(defaultSpec({ rootless })).replace(`"ociVersion": "${OCI_VERSION}"`, "");
      assert.equal(text.replace(/"ociVersion": "[^"]*"/, ""), ours);
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe("parseSpec: warnings where runc only warns", () => {
  it("makes a relative mount destination absolute", () => {
    const c = base();
    c.mounts.push({ destination: "tmp/x", type: "tmpfs", source: "tmpfs" });
    const { spec, warnings } = parseWarnings(c);
    assert.equal(spec.mounts?.[7]?.destination, "/tmp/x");
    assert.deepEqual(warnings, ['config.json: mounts[7].destination: "tmp/x" is not absolute, using "/tmp/x"']);
  });

  it("drops unknown capabilities", () => {
    const c = base();
    c.process.capabilities.effective = ["CAP_KILL", "CAP_FOO"];
    const { spec, warnings } = parseWarnings(c);
    assert.deepEqual(spec.process.capabilities?.effective, ["CAP_KILL"]);
    assert.deepEqual(warnings, ["config.json: process.capabilities.effective: ignoring unknown capabilities CAP_FOO"]);
  });

  it("ignores id mappings without a user namespace", () => {
    const c = base();
    c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    assert.deepEqual(parseWarnings(c).warnings, ["config.json: linux.uidMappings: ignored without a user namespace"]);
  });
});

describe("parseSpec: errors name the JSON path", () => {
  const cases: Array<[string, (c: Json) => unknown, string]> = [
    ["args not an array", (c) => (c.process.args = "sh"), "config.json: process.args: expected array, received string"],
    [
      "unknown namespace",
      (c) => (c.linux.namespaces[1].type = "foo"),
      'config.json: linux.namespaces[1].type: invalid value "foo" (expected one of pid, network, mount, ipc, uts, user, cgroup, time)',
    ],
    ["args empty", (c) => (c.process.args = []), "config.json: process.args: must not be empty"],
    ["args missing", (c) => delete c.process.args, "config.json: process.args: must not be empty"],
    ["cwd relative", (c) => (c.process.cwd = "tmp"), 'config.json: process.cwd: must be an absolute path, got "tmp"'],
    ["cwd empty", (c) => (c.process.cwd = ""), "config.json: process.cwd: must not be empty"],
    ["root missing", (c) => delete c.root, "config.json: root: required"],
    ["root.path missing", (c) => delete c.root.path, "config.json: root.path: required"],
    ["root.path empty", (c) => (c.root.path = ""), "config.json: root.path: must not be empty"],
    ["process missing", (c) => delete c.process, "config.json: process: required"],
    ["process null", (c) => (c.process = null), "config.json: process: required"],
    ["ociVersion not a string", (c) => (c.ociVersion = 1), "config.json: ociVersion: expected string, received number"],
    ["uid negative", (c) => (c.process.user.uid = -1), "config.json: process.user.uid: expected an unsigned 32-bit integer, received -1"],
    ["uid fraction", (c) => (c.process.user.gid = 1.5), "config.json: process.user.gid: expected an unsigned 32-bit integer, received 1.5"],
    ["uid string", (c) => (c.process.user.uid = "0"), "config.json: process.user.uid: expected number, received string"],
    ["terminal not a boolean", (c) => (c.process.terminal = "yes"), "config.json: process.terminal: expected boolean, received string"],
    ["capability not a string", (c) => (c.process.capabilities.bounding = [1]), 'config.json: process.capabilities.bounding[0]: invalid value 1 (expected one of CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_LINUX_IMMUTABLE, CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST, CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_PACCT, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_SYS_TIME, CAP_SYS_TTY_CONFIG, CAP_MKNOD, CAP_LEASE, CAP_AUDIT_WRITE, CAP_AUDIT_CONTROL, CAP_SETFCAP, CAP_MAC_OVERRIDE, CAP_MAC_ADMIN, CAP_SYSLOG, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_AUDIT_READ, CAP_PERFMON, CAP_BPF, CAP_CHECKPOINT_RESTORE)'],
    ["unknown rlimit", (c) => (c.process.rlimits[0].type = "RLIMIT_FOO"), 'config.json: process.rlimits[0].type: invalid value "RLIMIT_FOO" (expected one of RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE, RLIMIT_RSS, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_AS, RLIMIT_LOCKS, RLIMIT_SIGPENDING, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_RTPRIO, RLIMIT_RTTIME)'],
    ["duplicate rlimit", (c) => c.process.rlimits.push({ type: "RLIMIT_NOFILE", hard: 1, soft: 1 }), 'config.json: process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE"'],
    ["oomScoreAdj out of range", (c) => (c.process.oomScoreAdj = 1001), "config.json: process.oomScoreAdj: expected an integer in [-1000, 1000], received 1001"],
    ["mount destination missing", (c) => delete c.mounts[2].destination, "config.json: mounts[2].destination: required"],
    ["mount destination empty", (c) => (c.mounts[2].destination = ""), "config.json: mounts[2].destination: must not be empty"],
    ["mounts not an array", (c) => (c.mounts = {}), "config.json: mounts: expected array, received object"],
    ["hostname without uts", (c) => (c.linux.namespaces = [{ type: "pid" }, { type: "mount" }]), "config.json: hostname: requires a private uts namespace"],
    ["domainname without uts", (c) => { c.hostname = ""; c.domainname = "x"; c.linux.namespaces.splice(3, 1); }, "config.json: domainname: requires a private uts namespace"],
    ["duplicate namespace", (c) => c.linux.namespaces.push({ type: "pid" }), 'config.json: linux.namespaces[5].type: duplicate namespace "pid"'],
    ["namespace path relative", (c) => (c.linux.namespaces[1].path = "netns/x"), 'config.json: linux.namespaces[1].path: must be an absolute path, got "netns/x"'],
    ["user namespace without uid mappings", (c) => c.linux.namespaces.push({ type: "user" }), "config.json: linux.uidMappings: required when creating a user namespace"],
    [
      "user namespace without gid mappings",
      (c) => { c.linux.namespaces.push({ type: "user" }); c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }]; },
      "config.json: linux.gidMappings: required when creating a user namespace",
    ],
    ["id mapping incomplete", (c) => { c.linux.namespaces.push({ type: "user" }); c.linux.uidMappings = [{ containerID: 0, size: 1 }]; }, "config.json: linux.uidMappings[0].hostID: required"],
    ["timeOffsets without time namespace", (c) => (c.linux.timeOffsets = { monotonic: { secs: 1 } }), "config.json: linux.timeOffsets: requires a time namespace"],
    ["net sysctl without netns", (c) => { c.linux.namespaces.splice(1, 1); c.linux.sysctl = { "net.ipv4.ip_forward": "1" }; }, 'config.json: linux.sysctl["net.ipv4.ip_forward"]: not allowed without a private network namespace'],
    ["ipc sysctl without ipc ns", (c) => { c.linux.namespaces.splice(2, 1); c.linux.sysctl = { "kernel.shmmax": "1" }; }, 'config.json: linux.sysctl["kernel.shmmax"]: not allowed without a private ipc namespace'],
    ["host-wide sysctl", (c) => (c.linux.sysctl = { "vm.swappiness": "1" }), 'config.json: linux.sysctl["vm.swappiness"]: not in a separate kernel namespace'],
    ["kernel.hostname sysctl", (c) => (c.linux.sysctl = { "kernel/hostname": "x" }), 'config.json: linux.sysctl["kernel/hostname"]: conflicts with the hostname field'],
    ["sysctl value not a string", (c) => (c.linux.sysctl = { "net.core.somaxconn": 1024 }), 'config.json: linux.sysctl["net.core.somaxconn"]: expected string, received number'],
    ["hook path relative", (c) => (c.hooks = { poststart: [{ path: "/bin/true" }, { path: "hook.sh" }] }), 'config.json: hooks.poststart[1].path: must be an absolute path, got "hook.sh"'],
    ["hook timeout zero", (c) => (c.hooks = { prestart: [{ path: "/bin/true", timeout: 0 }] }), "config.json: hooks.prestart[0].timeout: expected a positive integer, received 0"],
    ["seccomp action", (c) => (c.linux.seccomp = { defaultAction: "SCMP_ACT_FOO" }), 'config.json: linux.seccomp.defaultAction: invalid value "SCMP_ACT_FOO" (expected one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY)'],
    [
      "seccomp operator",
      (c) => (c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["clone"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "EQ" }] }] }),
      'config.json: linux.seccomp.syscalls[0].args[0].op: invalid value "EQ" (expected one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)',
    ],
    ["rootfsPropagation", (c) => (c.linux.rootfsPropagation = "foo"), 'config.json: linux.rootfsPropagation: invalid value "foo" (expected one of private, rprivate, shared, rshared, slave, rslave, unbindable, runbindable)'],
    ["device without major", (c) => (c.linux.devices = [{ type: "c", path: "/dev/fuse", minor: 229 }]), 'config.json: linux.devices[0].major: required for device type "c"'],
    ["device type", (c) => (c.linux.devices = [{ type: "x", path: "/dev/x" }]), 'config.json: linux.devices[0].type: invalid value "x" (expected one of c, b, u, p)'],
    ["memory limit", (c) => (c.linux.resources.memory = { limit: "1G" }), "config.json: linux.resources.memory.limit: expected number, received string"],
    ["annotation value", (c) => (c.annotations = { "org.example/key": true }), 'config.json: annotations["org.example/key"]: expected string, received boolean'],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const c = base();
      mutate(c);
      rejects(c, message);
    });
  }

  it("a top-level non-object", () => {
    rejects([], "config.json: expected object, received array");
    rejects("x", "config.json: expected object, received string");
  });

  it("names another source when asked", () => {
    const c = base();
    c.process.args = [];
    assert.throws(() => parseSpec(c, "--process p.json"), { message: "--process p.json: process.args: must not be empty" });
  });
});

describe("parseSpecText and loadSpec", () => {
  it("names the line and column of a JSON syntax error", () => {
    const text = '{\n  "ociVersion": "1.0.2",\n  "root" {}\n}';
    assert.throws(() => parseSpecText(text), { message: "config.json: invalid JSON at line 3 column 10: expected ':' after property name" });
    assert.throws(() => parseSpecText('{"a": tru}'), { message: 'config.json: invalid JSON at line 1 column 10: unexpected character "}"' });
    assert.throws(() => parseSpecText('{"a": [1, 2'), { message: "config.json: invalid JSON at line 1 column 12: unexpected end of input" });
    assert.throws(() => parseSpecText(""), { message: "config.json: invalid JSON at line 1 column 1: unexpected end of input" });
  });

  it("finds exactly the errors JSON.parse finds", () => {
    const valid = ['{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"]}', " [ ] ", '"s"', "0", '{"k":{}}'];
    const invalid = ["{,}", "[1,]", '{"a":1,}', "01", "1.", '"\\x"', '"a\tb"', "nul", "{} {}", '{"a" 1}', "-", "[", '"abc'];
    for (const t of valid) assert.equal(findJsonError(t), undefined, t);
    for (const t of invalid) {
      assert.throws(() => JSON.parse(t), SyntaxError, t);
      assert.notEqual(findJsonError(t), undefined, t);
    }
  });

  it("reports a missing config.json", () => {
    const dir = tmpdir();
    assert.throws(() => loadSpec(dir), (e: unknown) => e instanceof SpecError && e.message === `config.json: not found in bundle ${dir}`);
    assert.throws(() => loadSpec("/nonexistent/bundle"), { message: "config.json: not found in bundle /nonexistent/bundle" });
    fs.rmSync(dir, { recursive: true });
  });

  it("loads a bundle's config.json", () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(DOCKER_LIKE));
    assert.equal(loadSpec(dir).hostname, "3f2a1c");
    fs.rmSync(dir, { recursive: true });
  });
});

describe("tsor spec", () => {
  function runSpec(args: string[]): void {
    const program = new Command("tsor").exitOverride();
    register(program);
    program.parse(["spec", ...args], { from: "user" });
  }

  it("writes runc's template into the bundle, rootless too", () => {
    const dir = tmpdir();
    runSpec(["--bundle", dir]);
    const text = fs.readFileSync(path.join(dir, "config.json"), "utf8");
    assert.equal(text, formatSpec(defaultSpec()));
    assert.equal(parseSpecText(text).process.args?.[0], "sh");
    fs.rmSync(path.join(dir, "config.json"));
    runSpec(["-b", dir, "--rootless"]);
    const rootless = parseSpec(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")));
    assert.equal(rootless.linux?.namespaces?.some((n) => n.type === "user"), true);
    assert.equal(rootless.linux?.namespaces?.some((n) => n.type === "network"), false);
    assert.equal(rootless.linux?.resources, undefined);
    fs.rmSync(dir, { recursive: true });
  });

  it("refuses to overwrite config.json with runc's message", () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "config.json"), "{}");
    assert.throws(() => runSpec(["-b", dir]), (e: unknown) => e instanceof UserError && e.exitCode === 1 && e.message === "File config.json exists. Remove it first");
    assert.equal(fs.readFileSync(path.join(dir, "config.json"), "utf8"), "{}");
    fs.rmSync(dir, { recursive: true });
  });

  it("fails on a missing bundle directory", () => {
    assert.throws(() => writeDefaultSpec("/nonexistent/bundle"), { message: "bundle /nonexistent/bundle: no such directory" });
  });

  it("returns a fresh object each time", () => {
    const a = defaultSpec();
    a.mounts?.[4]?.options?.push("ro");
    a.process.capabilities?.bounding?.push("CAP_SYS_ADMIN");
    assert.deepEqual(defaultSpec(), base());
  });
});
