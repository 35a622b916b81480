import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { decodePlan } from "../../gofer/encode.js";
import { mountFlags, mountDirectives, parseCgroupLayout, type MountContext } from "../../gofer/mounts.js";
import { buildPlan, planDirectives, type PlanOptions } from "../../gofer/plan.js";
import { PlanError, type Spec } from "../../gofer/types.js";

const RUNC = "/usr/sbin/runc";

/** The config.json `runc spec` writes. */
function runcSpec(): Spec {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-runc-spec-"));
  try {
    const r = spawnSync(RUNC, ["spec"], { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Spec;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const names = (plan: string) => decodePlan(plan).map((d) => d[0]);

describe("gofer buildPlan", () => {
  let bundle: string;
  let rootfs: string;
  let base: PlanOptions;
  before(() => {
    bundle = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-plan-"));
    rootfs = path.join(bundle, "rootfs");
    fs.mkdirSync(path.join(rootfs, "etc"), { recursive: true });
    fs.writeFileSync(path.join(bundle, "hostname-file"), "box\n");
    fs.mkdirSync(path.join(bundle, "data"));
    base = { mode: "create", rootfs, noPivot: false, preserveFds: 0, bundle, cgroup: { version: 2 } };
  });
  after(() => fs.rmSync(bundle, { recursive: true, force: true }));

  it("turns runc's default spec into the plan, line by line", { skip: !fs.existsSync(RUNC) && "no runc" }, () => {
    const plan = buildPlan(runcSpec(), { ...base, consoleSocket: "/run/console sock" });
    const caps = String(2 ** 29 + 2 ** 5 + 2 ** 10); // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE
    const devs = [["null", 1, 3], ["random", 1, 8], ["full", 1, 7], ["tty", 5, 0], ["zero", 1, 5], ["urandom", 1, 9]];
    const expected = [
      "version 1",
      "mode create",
      "ns pid %-",
      "ns net %-",
      "ns ipc %-",
      "ns uts %-",
      "ns mount %-",
      `rootfs ${rootfs}`,
      "rootfs_propagation 540672", // MS_SLAVE|MS_REC
      "mount proc /proc proc 0 0 %- dir",
      "mount tmpfs /dev tmpfs 16777218 0 mode=755,size=65536k dir", // NOSUID|STRICTATIME
      "mount devpts /dev/pts devpts 10 0 newinstance,ptmxmode=0666,mode=0620,gid=5 dir", // NOSUID|NOEXEC
      "mount shm /dev/shm tmpfs 14 0 mode=1777,size=65536k dir",
      "mount mqueue /dev/mqueue mqueue 14 0 %- dir",
      "mount sysfs /sys sysfs 15 0 %- dir", // + RDONLY
      "mount cgroup2 /sys/fs/cgroup cgroup2 2097167 0 %- dir", // + RELATIME
      ...devs.map(([n, maj, min]) => `device /dev/${n} c ${maj} ${min} 438 0 0`),
      "symlink /proc/self/fd /dev/fd",
      "symlink /proc/self/fd/0 /dev/stdin",
      "symlink /proc/self/fd/1 /dev/stdout",
      "symlink /proc/self/fd/2 /dev/stderr",
      "symlink /proc/kcore /dev/core",
      "ptmx",
      "pivot 1",
      ..."acpi asound kcore keys latency_stats timer_list timer_stats sched_debug".split(" ").map((p) => `mask /proc/${p}`),
      "mask /sys/firmware",
      "mask /proc/scsi",
      ..."bus fs irq sys sysrq-trigger".split(" ").map((p) => `readonly /proc/${p}`),
      "readonly_root",
      "hostname runc",
      "rlimit 7 1024 1024",
      "user 0 0 -1",
      "groups %-",
      "cwd /",
      "env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "env TERM=xterm",
      "arg sh",
      `caps ${caps} ${caps} ${caps} 0 ${caps}`,
      "no_new_privs",
      "terminal",
      "console_socket /run/console%20sock",
      "preserve_fds 0",
      "end",
    ];
    assert.deepEqual(plan.split("\n"), [...expected, ""]);
  });

  it("creates the user namespace first and writes id maps", () => {
    const spec: Spec = {
      process: { args: ["true"], cwd: "/" },
      linux: {
        namespaces: [{ type: "mount" }, { type: "network", path: "/var/run/netns/x" }, { type: "user" }, { type: "cgroup" }],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 200000, size: 1 }],
        rootfsPropagation: "private",
      },
    };
    const d = planDirectives(spec, base);
    assert.deepEqual(d.slice(2, 10), [
      ["ns", "user", ""],
      ["ns", "net", "/var/run/netns/x"],
      ["ns", "cgroup", ""],
      ["ns", "mount", ""],
      ["uidmap", "0", "100000", "65536"],
      ["gidmap", "0", "200000", "1"],
      ["rootfs", rootfs],
      ["rootfs_propagation", String(1 << 18)],
    ]);
    assert.throws(() => planDirectives({ ...spec, linux: { rootfsPropagation: "sideways" } }, base), /linux\.rootfsPropagation: unknown propagation/);
    assert.throws(() => planDirectives({ ...spec, linux: { namespaces: [{ type: "bogus" }] } }, base), /linux\.namespaces\[0\]\.type: unknown namespace type "bogus"/);
  });

  it("translates mount options to flags, propagation and data", () => {
    const f = mountFlags(["ro", "nosuid", "nodev", "noexec", "rbind", "rprivate", "size=65536k", "mode=755"]);
    // RDONLY 1 | NOSUID 2 | NODEV 4 | NOEXEC 8 | BIND 4096 | REC 16384
    assert.deepEqual(f, { flags: 20495, pgflags: (1 << 18) | 16384, data: "size=65536k,mode=755" });
    assert.deepEqual(mountFlags(["ro", "rw", "defaults"]), { flags: 0, pgflags: 0, data: "" });
    assert.deepEqual(mountFlags(["shared", "rslave"]).pgflags, (1 << 19) | 16384, "the last propagation wins");
  });

  it("binds a file with KIND file and a directory with KIND dir, sources against the bundle", () => {
    const spec: Spec = {
      process: { args: ["true"], cwd: "/" },
      mounts: [
        { destination: "/etc/hostname", type: "bind", source: "hostname-file", options: ["ro"] },
        { destination: "/data", type: "none", source: path.join(bundle, "data"), options: ["rbind", "rw"] },
      ],
    };
    const mounts = planDirectives(spec, base).filter((d) => d[0] === "mount");
    assert.deepEqual(mounts, [
      ["mount", path.join(bundle, "hostname-file"), "/etc/hostname", "bind", String(4096 | 1), "0", "", "file"],
      ["mount", path.join(bundle, "data"), "/data", "bind", String(4096 | 16384), "0", "", "dir"],
    ]);
    const missing: Spec = { ...spec, mounts: [{ destination: "/x", type: "bind", source: "nope" }] };
    assert.throws(() => planDirectives(missing, base), (e: unknown) => e instanceof PlanError && e.path === "mounts[0].source");
  });

  it("resolves mount destinations inside the rootfs", () => {
    fs.symlinkSync("/etc", path.join(rootfs, "conf"));
    try {
      const spec: Spec = { process: { args: ["true"], cwd: "/" }, mounts: [{ destination: "/conf/../../conf/app", type: "tmpfs", source: "tmpfs" }] };
      const [m] = planDirectives(spec, base).filter((d) => d[0] === "mount");
      assert.equal(m![2], "/etc/app");
    } finally {
      fs.rmSync(path.join(rootfs, "conf"));
    }
  });

  it("expands a cgroup mount on a cgroup v1 host", () => {
    const layout = parseCgroupLayout(
      [
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd",
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
        "",
      ].join("\n"),
    );
    assert.equal(layout.version, 1);
    const ctx: MountContext = { rootfs, bundle, cgroup: layout, newCgroupNs: true, cgroupPaths: { memory: "/sys/fs/cgroup/memory/tsor/c1" } };
    const d = mountDirectives([{ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "ro"] }], ctx);
    assert.deepEqual(d, [
      ["mount", "tmpfs", "/sys/fs/cgroup", "tmpfs", "14", "0", "mode=755", "dir"],
      ["mount", "cgroup", "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "15", "0", "cpu,cpuacct", "dir"],
      ["symlink", "cpu,cpuacct", "/sys/fs/cgroup/cpu"],
      ["symlink", "cpu,cpuacct", "/sys/fs/cgroup/cpuacct"],
      ["mount", "cgroup", "/sys/fs/cgroup/memory", "cgroup", "15", "0", "memory", "dir"],
      ["mount", "cgroup", "/sys/fs/cgroup/systemd", "cgroup", "15", "0", "xattr,name=systemd", "dir"],
      ["mount", "cgroup2", "/sys/fs/cgroup/unified", "cgroup2", "15", "0", "", "dir"],
      ["mount", "tmpfs", "/sys/fs/cgroup", "tmpfs", String(14 | 32 | 1), "0", "mode=755", "dir"], // REMOUNT|RDONLY
    ]);
    const bound = mountDirectives([{ destination: "/sys/fs/cgroup", type: "cgroup", options: ["ro"] }], { ...ctx, newCgroupNs: false });
    assert.deepEqual(bound[4], ["mount", "/sys/fs/cgroup/memory/tsor/c1", "/sys/fs/cgroup/memory", "bind", String(1 | 4096 | 16384), "0", "", "dir"]);
    assert.deepEqual(parseCgroupLayout("29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"), { version: 2 });
  });

  it("skips defaults the config lists, and all of /dev when /dev is bound", () => {
    const spec: Spec = {
      process: { args: ["true"], cwd: "/" },
      mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
      linux: { devices: [{ path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o600, uid: 5, gid: 6 }, { path: "/dev/fuse", type: "c", major: 10, minor: 229 }] },
    };
    const d = planDirectives(spec, base);
    const devices = d.filter((x) => x[0] === "device");
    assert.deepEqual(devices.map((x) => x[1]), ["/dev/random", "/dev/full", "/dev/tty", "/dev/zero", "/dev/urandom", "/dev/null", "/dev/fuse"]);
    assert.deepEqual(devices[5], ["device", "/dev/null", "c", "1", "3", "384", "5", "6"]);
    assert.deepEqual(devices[6], ["device", "/dev/fuse", "c", "10", "229", "438", "0", "0"]);
    assert.ok(!d.some((x) => x[0] === "ptmx"), "no devpts mount, no ptmx");
    assert.ok(d.some((x) => x[0] === "symlink" && x[2] === "/dev/core"));
    const devBound: Spec = { ...spec, mounts: [{ destination: "/dev", type: "bind", source: "/dev", options: ["rbind"] }] };
    assert.ok(!planDirectives(devBound, base).some((x) => x[0] === "device" || x[0] === "symlink"));
    const badType: Spec = { ...spec, linux: { devices: [{ path: "/dev/x", type: "z" }] } };
    assert.throws(() => planDirectives(badType, base), /linux\.devices\[0\]\.type: unknown device type "z"/);
  });

  it("builds capability masks and rejects unknown capabilities by name", () => {
    const spec: Spec = {
      process: { args: ["true"], cwd: "/", capabilities: { bounding: ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"], effective: ["CAP_SYS_ADMIN"], ambient: [] } },
    };
    const caps = planDirectives(spec, base).find((x) => x[0] === "caps");
    assert.deepEqual(caps, ["caps", String(2n ** 40n + 1n), String(2 ** 21), "0", "0", "0"]);
    const bad: Spec = { process: { args: ["true"], cwd: "/", capabilities: { permitted: ["CAP_CHOWN", "CAP_FLY"] } } };
    assert.throws(() => planDirectives(bad, base), /process\.capabilities\.permitted: unknown capability "CAP_FLY"/);
    assert.ok(!planDirectives({ process: { args: ["true"], cwd: "/" } }, base).some((x) => x[0] === "caps"), "no capabilities object: caps left as they are");
  });

  it("maps rlimits to RLIMIT numbers, unlimited to 2^64-1", () => {
    const spec = JSON.parse(`{"process":{"args":["true"],"cwd":"/","oomScoreAdj":-500,"rlimits":[
      {"type":"RLIMIT_NOFILE","soft":1024,"hard":4096},
      {"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615},
      {"type":"RLIMIT_RTTIME","soft":0,"hard":1}]}}`) as Spec;
    const d = planDirectives(spec, base);
    assert.deepEqual(d.filter((x) => x[0] === "rlimit" || x[0] === "oom_score_adj"), [
      ["rlimit", "7", "1024", "4096"],
      ["rlimit", "4", "18446744073709551615", "18446744073709551615"],
      ["rlimit", "15", "0", "1"],
      ["oom_score_adj", "-500"],
    ]);
    const bad: Spec = { process: { args: ["true"], cwd: "/", rlimits: [{ type: "RLIMIT_FOO", soft: 1, hard: 1 }] } };
    assert.throws(() => planDirectives(bad, base), /process\.rlimits\[0\]\.type: unknown rlimit "RLIMIT_FOO"/);
  });

  it("emits the seccomp profile", () => {
    const spec: Spec = {
      process: { args: ["true"], cwd: "/" },
      linux: {
        seccomp: {
          defaultAction: "SCMP_ACT_ERRNO",
          architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
          flags: ["SECCOMP_FILTER_FLAG_LOG"],
          syscalls: [
            { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
            { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }, { index: 1, value: 255, valueTwo: 8, op: "SCMP_CMP_MASKED_EQ" }] },
            { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
            { names: ["chmod"], action: "SCMP_ACT_ERRNO" }, // same as the default: skipped
          ],
        },
      },
    };
    const d = planDirectives(spec, base).filter((x) => x[0].startsWith("seccomp"));
    assert.deepEqual(d, [
      ["seccomp_default", "SCMP_ACT_ERRNO", "1"],
      ["seccomp_arch", "SCMP_ARCH_X86_64"],
      ["seccomp_arch", "SCMP_ARCH_X86"],
      ["seccomp_flag", "SECCOMP_FILTER_FLAG_LOG"],
      ["seccomp_rule", "SCMP_ACT_ALLOW", "0", "read", "0"],
      ["seccomp_rule", "SCMP_ACT_ALLOW", "0", "write", "0"],
      ["seccomp_rule", "SCMP_ACT_ALLOW", "0", "personality", "2", "0", "8", "0", "SCMP_CMP_EQ", "1", "255", "8", "SCMP_CMP_MASKED_EQ"],
      ["seccomp_rule", "SCMP_ACT_ERRNO", "38", "mkdir", "0"],
    ]);
    const badOp: Spec = { ...spec, linux: { seccomp: { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_KILL", args: [{ index: 0, value: 1, op: "SCMP_CMP_ABOUT" }] }] } } };
    assert.throws(() => planDirectives(badOp, base), /linux\.seccomp\.syscalls\[0\]\.args\[0\]\.op: unknown seccomp operator/);
  });

  it("puts process, hooks and tail directives in PLAN.md's order", () => {
    const spec: Spec = {
      hostname: "h",
      domainname: "example.org",
      process: { terminal: true, args: ["/bin/echo", "hello world"], cwd: "/work", env: ["A=1"], user: { uid: 1000, gid: 1000, umask: 0o22, additionalGids: [10, 20] }, noNewPrivileges: true },
      linux: { sysctl: { "net.ipv4.ip_forward": "1" }, readonlyPaths: ["/proc/sys"], maskedPaths: ["/proc/kcore"] },
      hooks: {
        startContainer: [{ path: "/bin/start-hook", args: ["start-hook", "--x"], env: ["K=V"], timeout: 5 }],
        createContainer: [{ path: "/bin/create-hook" }],
        prestart: [{ path: "/bin/not-in-plan" }],
      },
    };
    const d = planDirectives(spec, { ...base, noPivot: true, preserveFds: 2 });
    const tail = d.slice(d.findIndex((x) => x[0] === "pivot"));
    assert.deepEqual(tail, [
      ["pivot", "0"],
      ["mask", "/proc/kcore"],
      ["readonly", "/proc/sys"],
      ["hostname", "h"],
      ["domainname", "example.org"],
      ["sysctl", "net.ipv4.ip_forward", "1"],
      ["user", "1000", "1000", "18"],
      ["groups", "10,20"],
      ["cwd", "/work"],
      ["env", "A=1"],
      ["arg", "/bin/echo"],
      ["arg", "hello world"],
      ["no_new_privs"],
      ["terminal"],
      ["preserve_fds", "2"],
      ["hook", "createContainer", "/bin/create-hook", "0", "/bin/create-hook"],
      ["hook", "startContainer", "/bin/start-hook", "5", "start-hook", "--x"],
      ["hook_env", "K=V"],
      ["end"],
    ]);
  });

  it("exec mode emits only the joins and the new process", () => {
    const spec: Spec = { ...runcSpecLike(), linux: { seccomp: { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["ptrace"], action: "SCMP_ACT_ERRNO" }] } } };
    const plan = buildPlan(spec, {
      ...base,
      mode: "exec",
      consoleSocket: "/tmp/c.sock",
      preserveFds: 1,
      joinNamespaces: { mount: "/proc/42/ns/mnt", network: "/proc/42/ns/net", user: "/proc/42/ns/user", pid: "/proc/42/ns/pid" },
    });
    assert.deepEqual(names(plan), [
      "version", "mode", "ns", "ns", "ns", "ns", "terminal", "console_socket",
      "user", "groups", "cwd", "env", "arg", "caps", "no_new_privs", "seccomp_default", "seccomp_rule", "preserve_fds", "end",
    ]);
    const d = decodePlan(plan);
    assert.deepEqual(d.slice(1, 6), [["mode", "exec"], ["ns", "user", "/proc/42/ns/user"], ["ns", "pid", "/proc/42/ns/pid"], ["ns", "net", "/proc/42/ns/net"], ["ns", "mount", "/proc/42/ns/mnt"]]);
    assert.throws(() => buildPlan(spec, { ...base, mode: "exec", joinNamespaces: { net: "" } }), /joinNamespaces\.net/);
  });
});

/** A small spec with a terminal process, for the exec test (no runc needed). */
function runcSpecLike(): Spec {
  return {
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
      noNewPrivileges: true,
      rlimits: [{ type: "RLIMIT_NOFILE", soft: 1, hard: 1 }],
    },
    hostname: "not-in-exec",
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
  };
}
