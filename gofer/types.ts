// The part of an OCI runtime-spec config.json the gofer reads (config.md, config-linux.md).
// Structural and all-optional on purpose: the validated `RuntimeSpec` of oci/spec is assignable
// to it, so the gofer does not depend on how the validator spells its types. Presence of the
// fields the spec requires is the validator's job; the gofer still fails with the JSON path of a
// missing field rather than crash (see `required` in plan.ts).

/** A uint64 as the spec's JSON gives it (a number loses precision above 2^53). */
export type U64 = number | bigint | string;

export interface SpecHook {
  path?: string;
  args?: readonly string[];
  env?: readonly string[];
  timeout?: number;
}

export interface SpecHooks {
  prestart?: readonly SpecHook[];
  createRuntime?: readonly SpecHook[];
  createContainer?: readonly SpecHook[];
  startContainer?: readonly SpecHook[];
  poststart?: readonly SpecHook[];
  poststop?: readonly SpecHook[];
}

export interface SpecMount {
  destination?: string;
  type?: string;
  source?: string;
  options?: readonly string[];
}

export interface SpecUser {
  uid?: number;
  gid?: number;
  umask?: number;
  additionalGids?: readonly number[];
}

export interface SpecCapabilities {
  bounding?: readonly string[];
  effective?: readonly string[];
  permitted?: readonly string[];
  inheritable?: readonly string[];
  ambient?: readonly string[];
}

export interface SpecRlimit {
  type?: string;
  soft?: U64;
  hard?: U64;
}

export interface SpecProcess {
  terminal?: boolean;
  user?: SpecUser;
  args?: readonly string[];
  env?: readonly string[];
  cwd?: string;
  capabilities?: SpecCapabilities;
  rlimits?: readonly SpecRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface SpecNamespace {
  type?: string;
  path?: string;
}

export interface SpecIdMapping {
  containerID?: number;
  hostID?: number;
  size?: number;
}

export interface SpecDevice {
  type?: string;
  path?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface SpecSeccompArg {
  index?: number;
  value?: U64;
  valueTwo?: U64;
  op?: string;
}

export interface SpecSeccompSyscall {
  names?: readonly string[];
  action?: string;
  errnoRet?: number;
  args?: readonly SpecSeccompArg[];
}

export interface SpecSeccomp {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: readonly string[];
  flags?: readonly string[];
  syscalls?: readonly SpecSeccompSyscall[];
}

export interface SpecLinux {
  namespaces?: readonly SpecNamespace[];
  uidMappings?: readonly SpecIdMapping[];
  gidMappings?: readonly SpecIdMapping[];
  devices?: readonly SpecDevice[];
  rootfsPropagation?: string;
  maskedPaths?: readonly string[];
  readonlyPaths?: readonly string[];
  sysctl?: Readonly<Record<string, string>>;
  seccomp?: SpecSeccomp;
}

export interface Spec {
  process?: SpecProcess;
  root?: { path?: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: readonly SpecMount[];
  hooks?: SpecHooks;
  linux?: SpecLinux;
}

/** A config field the gofer cannot turn into a plan; `path` is its JSON path. */
export class PlanError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "PlanError";
  }
}
