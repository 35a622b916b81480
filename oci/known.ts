// The lists the runtime understands. `tsor features` prints these, the spec validator checks
// against them and the gofer maps them to numbers: one list each, never repeated elsewhere
// (runc's features.go is built from its known*() lists the same way).

/** Namespace types of linux.namespaces[].type, with the clone(2) flag that creates each. */
export const NAMESPACES = {
  pid: 0x20000000, // CLONE_NEWPID
  network: 0x40000000, // CLONE_NEWNET
  mount: 0x00020000, // CLONE_NEWNS
  ipc: 0x08000000, // CLONE_NEWIPC
  uts: 0x04000000, // CLONE_NEWUTS
  user: 0x10000000, // CLONE_NEWUSER
  cgroup: 0x02000000, // CLONE_NEWCGROUP
  time: 0x00000080, // CLONE_NEWTIME
} as const;
export type NamespaceType = keyof typeof NAMESPACES;
export const NAMESPACE_TYPES = Object.keys(NAMESPACES) as NamespaceType[];

/** The name tsor-init's plan and /proc/PID/ns/ use for each namespace type. */
export const NAMESPACE_PROC_NAMES: Record<NamespaceType, string> = {
  pid: "pid",
  network: "net",
  mount: "mnt",
  ipc: "ipc",
  uts: "uts",
  user: "user",
  cgroup: "cgroup",
  time: "time",
};

/** Linux capabilities, by number (include/uapi/linux/capability.h). */
export const CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Default process capabilities of `tsor spec` (the same set runc's spec uses). */
export const DEFAULT_CAPABILITIES: Capability[] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/** OCI hook points (runtime-spec config.md#posix-platform-hooks), in lifecycle order. */
export const HOOKS = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;
export type HookName = (typeof HOOKS)[number];

/** mount(2) flags (include/uapi/linux/mount.h). */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

/**
 * Mount options of mounts[].options that map to flags (mount(8) names). `clear: true` options
 * remove the flag ("rw" clears RDONLY). Anything else is passed to the filesystem as data.
 */
export const MOUNT_OPTIONS: Record<string, { flag: number; clear: boolean }> = {
  async: { flag: MS.SYNCHRONOUS, clear: true },
  atime: { flag: MS.NOATIME, clear: true },
  bind: { flag: MS.BIND, clear: false },
  defaults: { flag: 0, clear: false },
  dev: { flag: MS.NODEV, clear: true },
  diratime: { flag: MS.NODIRATIME, clear: true },
  dirsync: { flag: MS.DIRSYNC, clear: false },
  exec: { flag: MS.NOEXEC, clear: true },
  lazytime: { flag: MS.LAZYTIME, clear: false },
  mand: { flag: MS.MANDLOCK, clear: false },
  noatime: { flag: MS.NOATIME, clear: false },
  nodev: { flag: MS.NODEV, clear: false },
  nodiratime: { flag: MS.NODIRATIME, clear: false },
  noexec: { flag: MS.NOEXEC, clear: false },
  nolazytime: { flag: MS.LAZYTIME, clear: true },
  nomand: { flag: MS.MANDLOCK, clear: true },
  norelatime: { flag: MS.RELATIME, clear: true },
  nostrictatime: { flag: MS.STRICTATIME, clear: true },
  nosuid: { flag: MS.NOSUID, clear: false },
  nosymfollow: { flag: MS.NOSYMFOLLOW, clear: false },
  rbind: { flag: MS.BIND | MS.REC, clear: false },
  relatime: { flag: MS.RELATIME, clear: false },
  remount: { flag: MS.REMOUNT, clear: false },
  ro: { flag: MS.RDONLY, clear: false },
  rw: { flag: MS.RDONLY, clear: true },
  silent: { flag: MS.SILENT, clear: false },
  strictatime: { flag: MS.STRICTATIME, clear: false },
  suid: { flag: MS.NOSUID, clear: true },
  symfollow: { flag: MS.NOSYMFOLLOW, clear: true },
  sync: { flag: MS.SYNCHRONOUS, clear: false },
};

/** Propagation options of mounts[].options and linux.rootfsPropagation. */
export const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** linux.seccomp actions tsor-init hands to libseccomp. */
export const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
] as const;

export const SECCOMP_ARCHS = [
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_RISCV64",
] as const;

export const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
] as const;

export const SECCOMP_FLAGS = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] as const;

/** POSIX rlimits of process.rlimits[].type, by RLIMIT_* number (asm-generic/resource.h). */
export const RLIMITS = [
  "RLIMIT_CPU",
  "RLIMIT_FSIZE",
  "RLIMIT_DATA",
  "RLIMIT_STACK",
  "RLIMIT_CORE",
  "RLIMIT_RSS",
  "RLIMIT_NPROC",
  "RLIMIT_NOFILE",
  "RLIMIT_MEMLOCK",
  "RLIMIT_AS",
  "RLIMIT_LOCKS",
  "RLIMIT_SIGPENDING",
  "RLIMIT_MSGQUEUE",
  "RLIMIT_NICE",
  "RLIMIT_RTPRIO",
  "RLIMIT_RTTIME",
] as const;

/** The runtime-spec version tsor implements: written by `tsor spec`, reported in state. */
export const OCI_VERSION = "1.2.0";
/** The oldest runtime-spec version whose configs tsor accepts (`tsor features` ociVersionMin). */
export const OCI_VERSION_MIN = "1.0.0";
