// The runtime-spec config.json (config.md + config-linux.md, v1.0.0 .. v1.2) as zod schemas, and
// the types inferred from them. Every object is loose: configs written by docker, containerd or
// podman carry keys this runtime does not know, and runc ignores those too. Enumerations come
// from oci/known.ts, the one place the runtime's lists live.
import * as z from "zod";
import {
  CAPABILITIES,
  HOOKS,
  NAMESPACE_TYPES,
  PROPAGATION_OPTIONS,
  RLIMITS,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHS,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type HookName,
} from "../known.js";

// ---- scalars ---------------------------------------------------------------------------------

/**
 * An integer in [min, max]. 64-bit fields are checked against the nearest doubles: JSON.parse
 * turns 18446744073709551615 (RLIM_INFINITY) into 2**64, which must still be accepted.
 */
function integer(label: string, min: number, max: number) {
  return z.number().refine((v) => Number.isInteger(v) && v >= min && v <= max, {
    message: `expected ${label}`,
    params: { showInput: true },
  });
}

export const uint16 = integer("an unsigned 16-bit integer", 0, 0xffff);
export const uint32 = integer("an unsigned 32-bit integer", 0, 0xffffffff);
export const int32 = integer("a 32-bit integer", -0x80000000, 0x7fffffff);
export const uint64 = integer("an unsigned 64-bit integer", 0, 2 ** 64);
export const int64 = integer("a 64-bit integer", -(2 ** 63), 2 ** 63);

const strings = z.array(z.string());
const stringMap = z.record(z.string(), z.string());

/** Propagation values of linux.rootfsPropagation (the propagation mount options). */
export const ROOTFS_PROPAGATIONS = Object.keys(PROPAGATION_OPTIONS);

// ---- config.md -------------------------------------------------------------------------------

export const RootSchema = z.looseObject({
  path: z.string(),
  readonly: z.boolean().optional(),
});

/** uidMappings / gidMappings entries (user namespace and id-mapped mounts). */
export const IDMappingSchema = z.looseObject({
  containerID: uint32,
  hostID: uint32,
  size: uint32,
});

export const MountSchema = z.looseObject({
  destination: z.string(),
  type: z.string().optional(),
  source: z.string().optional(),
  options: strings.optional(),
  uidMappings: z.array(IDMappingSchema).optional(),
  gidMappings: z.array(IDMappingSchema).optional(),
});

export const UserSchema = z.looseObject({
  uid: uint32,
  gid: uint32,
  umask: uint32.optional(),
  additionalGids: z.array(uint32).optional(),
  username: z.string().optional(),
});

const capabilityList = z.array(z.enum(CAPABILITIES));
export const CapabilitiesSchema = z.looseObject({
  bounding: capabilityList.optional(),
  effective: capabilityList.optional(),
  inheritable: capabilityList.optional(),
  permitted: capabilityList.optional(),
  ambient: capabilityList.optional(),
});
/** The capability sets of process.capabilities, in the order runc writes them. */
export const CAPABILITY_SETS = ["bounding", "effective", "inheritable", "permitted", "ambient"] as const;

export const RlimitSchema = z.looseObject({
  type: z.enum(RLIMITS),
  hard: uint64,
  soft: uint64,
});

export const SCHEDULER_POLICIES = [
  "SCHED_OTHER",
  "SCHED_FIFO",
  "SCHED_RR",
  "SCHED_BATCH",
  "SCHED_ISO",
  "SCHED_IDLE",
  "SCHED_DEADLINE",
] as const;
export const SCHEDULER_FLAGS = [
  "SCHED_FLAG_RESET_ON_FORK",
  "SCHED_FLAG_RECLAIM",
  "SCHED_FLAG_DL_OVERRUN",
  "SCHED_FLAG_KEEP_POLICY",
  "SCHED_FLAG_KEEP_PARAMS",
  "SCHED_FLAG_UTIL_CLAMP_MIN",
  "SCHED_FLAG_UTIL_CLAMP_MAX",
] as const;
export const SchedulerSchema = z.looseObject({
  policy: z.enum(SCHEDULER_POLICIES),
  nice: int32.optional(),
  priority: int32.optional(),
  flags: z.array(z.enum(SCHEDULER_FLAGS)).optional(),
  runtime: uint64.optional(),
  deadline: uint64.optional(),
  period: uint64.optional(),
});

export const IOPRIORITY_CLASSES = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"] as const;
export const IOPrioritySchema = z.looseObject({
  class: z.enum(IOPRIORITY_CLASSES),
  priority: int32,
});

export const ProcessSchema = z.looseObject({
  terminal: z.boolean().optional(),
  consoleSize: z.looseObject({ height: uint32, width: uint32 }).optional(),
  user: UserSchema,
  args: strings.optional(),
  commandLine: z.string().optional(),
  env: strings.optional(),
  cwd: z.string(),
  capabilities: CapabilitiesSchema.optional(),
  rlimits: z.array(RlimitSchema).optional(),
  noNewPrivileges: z.boolean().optional(),
  apparmorProfile: z.string().optional(),
  oomScoreAdj: integer("an integer in [-1000, 1000]", -1000, 1000).optional(),
  scheduler: SchedulerSchema.optional(),
  selinuxLabel: z.string().optional(),
  ioPriority: IOPrioritySchema.optional(),
  execCPUAffinity: z.looseObject({ initial: z.string().optional(), final: z.string().optional() }).optional(),
});

export const HookSchema = z.looseObject({
  path: z.string(),
  args: strings.optional(),
  env: strings.optional(),
  timeout: integer("a positive integer", 1, 2 ** 53).optional(),
});

const hookShape = Object.fromEntries(HOOKS.map((name) => [name, z.array(HookSchema).optional()])) as Record<
  HookName,
  z.ZodOptional<z.ZodArray<typeof HookSchema>>
>;
export const HooksSchema = z.looseObject(hookShape);

// ---- config-linux.md -------------------------------------------------------------------------

export const NamespaceSchema = z.looseObject({
  type: z.enum(NAMESPACE_TYPES),
  path: z.string().optional(),
});

/** linux.devices[].type: character, block, unbuffered character, fifo. */
export const DEVICE_TYPES = ["c", "b", "u", "p"] as const;
export const DeviceSchema = z.looseObject({
  type: z.enum(DEVICE_TYPES),
  path: z.string(),
  major: int64.optional(),
  minor: int64.optional(),
  fileMode: uint32.optional(),
  uid: uint32.optional(),
  gid: uint32.optional(),
});

/** linux.resources.devices[].type: all, character, block. */
export const DEVICE_CGROUP_TYPES = ["a", "c", "b"] as const;
export const DeviceCgroupSchema = z.looseObject({
  allow: z.boolean(),
  type: z.enum(DEVICE_CGROUP_TYPES).optional(),
  major: int64.optional(),
  minor: int64.optional(),
  access: z.string().optional(),
});

export const MemorySchema = z.looseObject({
  limit: int64.optional(),
  reservation: int64.optional(),
  swap: int64.optional(),
  kernel: int64.optional(),
  kernelTCP: int64.optional(),
  swappiness: uint64.optional(),
  disableOOMKiller: z.boolean().optional(),
  useHierarchy: z.boolean().optional(),
  checkBeforeUpdate: z.boolean().optional(),
});

export const CPUSchema = z.looseObject({
  shares: uint64.optional(),
  quota: int64.optional(),
  burst: uint64.optional(),
  period: uint64.optional(),
  realtimeRuntime: int64.optional(),
  realtimePeriod: uint64.optional(),
  cpus: z.string().optional(),
  mems: z.string().optional(),
  idle: int64.optional(),
});

export const PidsSchema = z.looseObject({ limit: int64.optional() });

const blockDevice = { major: int64, minor: int64 };
export const WeightDeviceSchema = z.looseObject({
  ...blockDevice,
  weight: uint16.optional(),
  leafWeight: uint16.optional(),
});
export const ThrottleDeviceSchema = z.looseObject({ ...blockDevice, rate: uint64 });
const throttleList = z.array(ThrottleDeviceSchema).optional();
export const BlockIOSchema = z.looseObject({
  weight: uint16.optional(),
  leafWeight: uint16.optional(),
  weightDevice: z.array(WeightDeviceSchema).optional(),
  throttleReadBpsDevice: throttleList,
  throttleWriteBpsDevice: throttleList,
  throttleReadIOPSDevice: throttleList,
  throttleWriteIOPSDevice: throttleList,
});

export const HugepageLimitSchema = z.looseObject({ pageSize: z.string(), limit: uint64 });

export const NetworkSchema = z.looseObject({
  classID: uint32.optional(),
  priorities: z.array(z.looseObject({ name: z.string(), priority: uint32 })).optional(),
});

export const RdmaSchema = z.looseObject({ hcaHandles: uint32.optional(), hcaObjects: uint32.optional() });

export const ResourcesSchema = z.looseObject({
  devices: z.array(DeviceCgroupSchema).optional(),
  memory: MemorySchema.optional(),
  cpu: CPUSchema.optional(),
  pids: PidsSchema.optional(),
  blockIO: BlockIOSchema.optional(),
  hugepageLimits: z.array(HugepageLimitSchema).optional(),
  network: NetworkSchema.optional(),
  rdma: z.record(z.string(), RdmaSchema).optional(),
  unified: stringMap.optional(),
});

export const SeccompArgSchema = z.looseObject({
  index: uint32,
  value: uint64,
  valueTwo: uint64.optional(),
  op: z.enum(SECCOMP_OPERATORS),
});

export const SyscallSchema = z.looseObject({
  names: strings,
  action: z.enum(SECCOMP_ACTIONS),
  errnoRet: uint32.optional(),
  args: z.array(SeccompArgSchema).optional(),
});

export const SeccompSchema = z.looseObject({
  defaultAction: z.enum(SECCOMP_ACTIONS),
  defaultErrnoRet: uint32.optional(),
  architectures: z.array(z.enum(SECCOMP_ARCHS)).optional(),
  flags: z.array(z.enum(SECCOMP_FLAGS)).optional(),
  listenerPath: z.string().optional(),
  listenerMetadata: z.string().optional(),
  syscalls: z.array(SyscallSchema).optional(),
});

export const IntelRdtSchema = z.looseObject({
  closID: z.string().optional(),
  l3CacheSchema: z.string().optional(),
  memBwSchema: z.string().optional(),
  schemata: strings.optional(),
  enableCMT: z.boolean().optional(),
  enableMBM: z.boolean().optional(),
});

export const PERSONALITY_DOMAINS = ["LINUX", "LINUX32"] as const;
export const PersonalitySchema = z.looseObject({
  domain: z.enum(PERSONALITY_DOMAINS),
  flags: strings.optional(),
});

export const TimeOffsetSchema = z.looseObject({ secs: int64.optional(), nanosecs: uint32.optional() });

export const LinuxSchema = z.looseObject({
  namespaces: z.array(NamespaceSchema).optional(),
  uidMappings: z.array(IDMappingSchema).optional(),
  gidMappings: z.array(IDMappingSchema).optional(),
  timeOffsets: z.record(z.string(), TimeOffsetSchema).optional(),
  devices: z.array(DeviceSchema).optional(),
  netDevices: z.record(z.string(), z.looseObject({ name: z.string().optional() })).optional(),
  cgroupsPath: z.string().optional(),
  resources: ResourcesSchema.optional(),
  rootfsPropagation: z.enum(ROOTFS_PROPAGATIONS).optional(),
  seccomp: SeccompSchema.optional(),
  sysctl: stringMap.optional(),
  maskedPaths: strings.optional(),
  readonlyPaths: strings.optional(),
  mountLabel: z.string().optional(),
  intelRdt: IntelRdtSchema.optional(),
  personality: PersonalitySchema.optional(),
});

/**
 * The whole config.json. `root` and `process` are optional in the spec but runc (and tsor)
 * need both to create a container, so the schema requires them.
 */
export const RuntimeSpecSchema = z.looseObject({
  ociVersion: z.string(),
  root: RootSchema,
  mounts: z.array(MountSchema).optional(),
  process: ProcessSchema,
  hostname: z.string().optional(),
  domainname: z.string().optional(),
  hooks: HooksSchema.optional(),
  annotations: stringMap.optional(),
  linux: LinuxSchema.optional(),
});

// ---- types -----------------------------------------------------------------------------------

export type RuntimeSpec = z.infer<typeof RuntimeSpecSchema>;
export type Root = z.infer<typeof RootSchema>;
export type Mount = z.infer<typeof MountSchema>;
export type IDMapping = z.infer<typeof IDMappingSchema>;
export type Process = z.infer<typeof ProcessSchema>;
export type User = z.infer<typeof UserSchema>;
export type Capabilities = z.infer<typeof CapabilitiesSchema>;
export type CapabilitySet = (typeof CAPABILITY_SETS)[number];
export type Rlimit = z.infer<typeof RlimitSchema>;
export type Scheduler = z.infer<typeof SchedulerSchema>;
export type IOPriority = z.infer<typeof IOPrioritySchema>;
export type Hook = z.infer<typeof HookSchema>;
export type Hooks = z.infer<typeof HooksSchema>;
export type Linux = z.infer<typeof LinuxSchema>;
export type Namespace = z.infer<typeof NamespaceSchema>;
export type Device = z.infer<typeof DeviceSchema>;
export type DeviceCgroup = z.infer<typeof DeviceCgroupSchema>;
export type LinuxResources = z.infer<typeof ResourcesSchema>;
export type Memory = z.infer<typeof MemorySchema>;
export type CPU = z.infer<typeof CPUSchema>;
export type Pids = z.infer<typeof PidsSchema>;
export type BlockIO = z.infer<typeof BlockIOSchema>;
export type WeightDevice = z.infer<typeof WeightDeviceSchema>;
export type ThrottleDevice = z.infer<typeof ThrottleDeviceSchema>;
export type HugepageLimit = z.infer<typeof HugepageLimitSchema>;
export type Network = z.infer<typeof NetworkSchema>;
export type Seccomp = z.infer<typeof SeccompSchema>;
export type Syscall = z.infer<typeof SyscallSchema>;
export type SeccompArg = z.infer<typeof SeccompArgSchema>;
export type IntelRdt = z.infer<typeof IntelRdtSchema>;
export type Personality = z.infer<typeof PersonalitySchema>;
export type TimeOffset = z.infer<typeof TimeOffsetSchema>;
