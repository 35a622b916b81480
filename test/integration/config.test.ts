// config.json fields, each observed from inside the container (or from the host).
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Harness, cgroupValue, mentions, type BundleOpts } from "./harness.js";

const h = new Harness("cfg");
after(() => h.cleanup());

/** Runs a busybox shell script in a fresh container; asserts exit 0 and returns stdout. */
function sh(script: string, mutate?: BundleOpts["mutate"], extra: Partial<BundleOpts> = {}): string {
  const r = h.run(h.bundle({ args: ["sh", "-c", script], mutate, ...extra }));
  assert.equal(r.code, 0, `container failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The `Key:` line of /proc/self/status inside the container, value only. */
function statusField(key: string, mutate?: BundleOpts["mutate"]): string {
  const line = sh(`grep '^${key}:' /proc/self/status`, mutate);
  return line.replace(`${key}:`, "").trim();
}

describe("process", () => {
  test("process.env is the environment", () => {
    const out = sh("env", undefined, { env: ["PATH=/bin", "FOO=bar baz"] });
    assert.match(out, /^FOO=bar baz$/m);
  });

  test("process.cwd is the working directory", () => {
    assert.equal(sh("pwd", undefined, { cwd: "/tmp" }), "/tmp\n");
  });

  test("process.cwd that does not exist in the rootfs is created", () => {
    assert.equal(sh("pwd", undefined, { cwd: "/work/dir" }), "/work/dir\n");
  });

  test("process.user sets uid, gid and additionalGids", () => {
    const mutate = (c: any) => (c.process.user = { uid: 1000, gid: 1001, additionalGids: [2000, 3000] });
    const out = sh("grep -E '^(Uid|Gid|Groups):' /proc/self/status", mutate);
    assert.match(out, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    assert.match(out, /^Gid:\s+1001\s+1001\s+1001\s+1001$/m);
    assert.match(out, /^Groups:\s+2000 3000\s*$/m);
  });

  test("process.rlimits RLIMIT_NOFILE is what ulimit -n shows", () => {
    const mutate = (c: any) => (c.process.rlimits = [{ type: "RLIMIT_NOFILE", hard: 321, soft: 321 }]);
    assert.equal(sh("ulimit -n", mutate), "321\n");
  });

  test("process.capabilities bounding/effective/permitted are the listed set only", () => {
    const caps = ["CAP_KILL"];
    const mutate = (c: any) =>
      (c.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] });
    const out = sh("grep ^Cap /proc/self/status", mutate);
    assert.match(out, /^CapEff:\s+0000000000000020$/m);
    assert.match(out, /^CapPrm:\s+0000000000000020$/m);
    assert.match(out, /^CapBnd:\s+0000000000000020$/m);
    assert.match(out, /^CapInh:\s+0000000000000000$/m);
  });

  test("the default runc spec capabilities are AUDIT_WRITE, KILL, NET_BIND_SERVICE", () => {
    assert.equal(statusField("CapEff"), "0000000020000420");
  });

  test("process.noNewPrivileges true sets NoNewPrivs", () => {
    assert.equal(statusField("NoNewPrivs", (c) => (c.process.noNewPrivileges = true)), "1");
  });

  test("process.noNewPrivileges false leaves NoNewPrivs unset", () => {
    assert.equal(statusField("NoNewPrivs", (c) => (c.process.noNewPrivileges = false)), "0");
  });

  test("process.oomScoreAdj is written to /proc/self/oom_score_adj", () => {
    assert.equal(sh("cat /proc/self/oom_score_adj", (c) => (c.process.oomScoreAdj = 500)), "500\n");
  });

  test("process.terminal true with create and no --console-socket is refused", () => {
    const b = h.bundle({ args: ["sh"], terminal: true });
    const id = h.id();
    const r = h.rt(["create", "--bundle", b.dir, id]);
    assert.equal(r.code, 1);
    assert.ok(mentions(r.stderr, "console") || mentions(r.stderr, "tty") || mentions(r.stderr, "terminal"), r.stderr);
    assert.equal(h.state(id), undefined);
  });
});

describe("root and hostname", () => {
  test("hostname is set in the new uts namespace", () => {
    assert.equal(sh("hostname", (c) => (c.hostname = "tsor-box")), "tsor-box\n");
  });

  test("root.readonly makes the root read-only (touch fails)", () => {
    const r = h.run(h.bundle({ args: ["touch", "/newfile"], mutate: (c) => (c.root.readonly = true) }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /read-only/i);
  });

  test("root.readonly false lets the process write the root", () => {
    const b = h.bundle({ args: ["touch", "/newfile"] });
    assert.equal(h.run(b).code, 0);
    assert.ok(fs.existsSync(path.join(b.rootfs, "newfile")));
  });
});

describe("mounts", () => {
  test("a tmpfs mount honours its size option", () => {
    const mutate = (c: any) =>
      c.mounts.push({ destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "size=1m"] });
    const out = sh("grep ' /scratch ' /proc/mounts", mutate);
    assert.match(out, /^tmpfs \/scratch tmpfs \S*size=1024k/m);
  });

  test("a read-only bind mount shows host files and refuses writes", () => {
    const src = h.dir("bindsrc");
    fs.writeFileSync(path.join(src, "hello.txt"), "from the host\n");
    const mutate = (c: any) =>
      c.mounts.push({ destination: "/data", type: "bind", source: src, options: ["rbind", "ro"] });
    const out = sh("cat /data/hello.txt; touch /data/new 2>/dev/null && echo writable || echo refused", mutate);
    assert.equal(out, "from the host\nrefused\n");
    assert.ok(!fs.existsSync(path.join(src, "new")));
  });

  test("a read-write bind mount writes through to the host", () => {
    const src = h.dir("bindsrc");
    const mutate = (c: any) => c.mounts.push({ destination: "/data", type: "bind", source: src, options: ["rbind", "rw"] });
    sh("echo written > /data/out", mutate);
    assert.equal(fs.readFileSync(path.join(src, "out"), "utf8"), "written\n");
  });

  test("proc is mounted at /proc and shows the container's pid namespace", () => {
    assert.equal(sh("echo $$; head -c 5 /proc/1/cmdline; echo; grep ' /proc ' /proc/mounts | cut -d' ' -f3"), "1\nsh\0-c\nproc\n");
  });

  test("linux.maskedPaths hides a file (reads empty) and a directory (lists empty)", () => {
    const mutate = (c: any) => c.linux.maskedPaths.push("/etc/secret", "/etc/secretdir");
    const b = h.bundle({ args: ["sh", "-c", "cat /etc/secret; echo; ls /etc/secretdir | wc -l"], mutate });
    fs.writeFileSync(path.join(b.rootfs, "etc", "secret"), "top secret");
    fs.mkdirSync(path.join(b.rootfs, "etc", "secretdir"));
    fs.writeFileSync(path.join(b.rootfs, "etc", "secretdir", "f"), "x");
    const r = h.run(b);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.replace(/\s+/g, " ").trim(), "0");
  });

  test("linux.readonlyPaths makes a path read-only", () => {
    const mutate = (c: any) => c.linux.readonlyPaths.push("/ro");
    const b = h.bundle({ args: ["sh", "-c", "ls /ro; touch /ro/new 2>/dev/null && echo writable || echo refused"], mutate });
    fs.mkdirSync(path.join(b.rootfs, "ro"));
    fs.writeFileSync(path.join(b.rootfs, "ro", "kept"), "");
    const r = h.run(b);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "kept\nrefused\n");
  });

  test("the default readonlyPaths include /proc/sys", () => {
    assert.equal(sh("echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo writable || echo refused"), "refused\n");
  });
});

describe("devices", () => {
  test("/dev/null and /dev/zero are the usual character devices", () => {
    assert.equal(sh("stat -c '%n %F %t:%T' /dev/null /dev/zero"),
      "/dev/null character special file 1:3\n/dev/zero character special file 1:5\n");
  });

  test("/dev/null swallows writes and /dev/zero reads zeros", () => {
    assert.equal(sh("echo x > /dev/null && head -c 8 /dev/zero | wc -c"), "8\n");
  });

  test("linux.devices creates an extra device node", () => {
    const mutate = (c: any) =>
      c.linux.devices = [{ path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }];
    assert.equal(sh("stat -c '%F %t:%T' /dev/mynull && echo hi > /dev/mynull && echo ok", mutate),
      "character special file 1:3\nok\n");
  });
});

describe("seccomp", () => {
  test("a seccomp profile turns mkdir into EPERM", () => {
    const mutate = (c: any) =>
      (c.linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
      });
    const r = h.run(h.bundle({ args: ["mkdir", "/newdir"], mutate }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not permitted/);
  });
});

describe("namespaces and sysctl", () => {
  test("a new network namespace has only lo", () => {
    const out = sh("cat /proc/net/dev");
    const ifaces = out.split("\n").slice(2).map((l) => l.split(":")[0]!.trim()).filter((x) => x);
    assert.deepEqual(ifaces, ["lo"]);
  });

  test("lo is up in a new network namespace (runc's default loopback network)", () => {
    assert.match(sh("ip link show lo"), /<LOOPBACK,UP,LOWER_UP>/);
  });

  test("linux.sysctl sets net.ipv4.ip_forward in the container's netns", () => {
    const mutate = (c: any) => (c.linux.sysctl = { "net.ipv4.ip_forward": "1" });
    assert.equal(sh("cat /proc/sys/net/ipv4/ip_forward", mutate), "1\n");
  });

  test("a network namespace path is joined (ip netns add)", (t) => {
    const name = `tsor-it-${process.pid}`;
    const add = spawnIp(["netns", "add", name]);
    assert.equal(add, 0, "ip netns add");
    t.after(() => spawnIp(["netns", "delete", name]));
    const nsPath = `/run/netns/${name}`;
    const ino = fs.statSync(nsPath).ino;
    const mutate = (c: any) => {
      const ns = c.linux.namespaces.find((n: { type: string }) => n.type === "network");
      ns.path = nsPath;
    };
    assert.equal(sh("readlink /proc/self/ns/net", mutate), `net:[${ino}]\n`);
  });

  test("without a pid namespace entry the container shares the host pid namespace", () => {
    const mutate = (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "pid"));
    const hostNs = fs.readlinkSync("/proc/self/ns/pid");
    assert.equal(sh("readlink /proc/self/ns/pid", mutate), `${hostNs}\n`);
  });
});

describe("resources", () => {
  test("linux.resources memory.limit and pids.limit are applied to the container's cgroup", async () => {
    const mutate = (c: any) => {
      c.linux.resources.memory = { limit: 64 * 1024 * 1024 };
      c.linux.resources.pids = { limit: 42 };
    };
    const { pid } = await h.started(h.bundle({ args: ["sleep", "1000"], mutate }));
    assert.equal(cgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max"), String(64 * 1024 * 1024));
    assert.equal(cgroupValue(pid, "pids", "pids.max", "pids.max"), "42");
  });
});

function spawnIp(args: string[]): number | null {
  return spawnSync("ip", args, { stdio: "ignore" }).status;
}
