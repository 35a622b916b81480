// The config.json `tsor spec` writes: runc's template (libcontainer/specconv Example and
// ToRootless), field for field and in runc's key order, with tsor's spec version.
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../cli.js";
import { DEFAULT_CAPABILITIES, OCI_VERSION } from "../known.js";
import type { Mount, RuntimeSpec } from "./schema.js";
import { CONFIG_FILE } from "./validate.js";

export interface DefaultSpecOptions {
  /** Rootless variant: a user namespace mapping the caller, no network namespace, no cgroup rules. */
  rootless?: boolean;
  /** Host ids mapped to 0 in the rootless variant. Default: this process's effective ids. */
  uid?: number;
  gid?: number;
}

const MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
];

const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

const NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"];

function defaultMounts(rootless: boolean): Mount[] {
  const devptsOptions = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"];
  return [
    { destination: "/proc", type: "proc", source: "proc" },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    // A rootless container cannot map gid 5 (tty): devpts keeps the caller's gid.
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: rootless ? devptsOptions : [...devptsOptions, "gid=5"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: [...NOSUID_NOEXEC_NODEV, "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: [...NOSUID_NOEXEC_NODEV] },
    // sysfs cannot be mounted without owning a network namespace: bind the host's instead.
    rootless
      ? { destination: "/sys", type: "none", source: "/sys", options: ["rbind", ...NOSUID_NOEXEC_NODEV, "ro"] }
      : { destination: "/sys", type: "sysfs", source: "sysfs", options: [...NOSUID_NOEXEC_NODEV, "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: [...NOSUID_NOEXEC_NODEV, "relatime", "ro"] },
  ];
}

/** A fresh default config (the caller may modify it). */
export function defaultSpec(options: DefaultSpecOptions = {}): RuntimeSpec {
  const rootless = options.rootless ?? false;
  const caps = () => [...DEFAULT_CAPABILITIES];
  const spec: RuntimeSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: { bounding: caps(), effective: caps(), permitted: caps(), ambient: caps() },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "runc",
    mounts: defaultMounts(rootless),
  };
  if (rootless) {
    const uid = options.uid ?? process.geteuid?.() ?? 0;
    const gid = options.gid ?? process.getegid?.() ?? 0;
    spec.linux = {
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
      namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "user" }],
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    };
  } else {
    spec.linux = {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    };
  }
  return spec;
}

/** config.json text exactly as runc writes it: tab indentation, no final newline. */
export function formatSpec(spec: RuntimeSpec): string {
  return JSON.stringify(spec, null, "\t");
}

/**
 * Write the default config.json into `bundleDir`, never over an existing one (runc's message and
 * exit code). Returns the path written.
 */
export function writeDefaultSpec(bundleDir: string, options: DefaultSpecOptions = {}): string {
  const file = path.join(bundleDir, CONFIG_FILE);
  try {
    fs.writeFileSync(file, formatSpec(defaultSpec(options)), { flag: "wx", mode: 0o666 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EEXIST") throw new UserError(`File ${CONFIG_FILE} exists. Remove it first`);
    if (err.code === "ENOENT" || err.code === "ENOTDIR") throw new UserError(`bundle ${bundleDir}: no such directory`);
    throw new UserError(`cannot write ${file}: ${err.code ?? err.message}`);
  }
  return file;
}
