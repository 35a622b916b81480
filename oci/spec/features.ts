// The runtime-spec Features structure (features.md, features-linux.md) that `tsor features`
// prints. Every list is derived from oci/known.ts, the same lists the validator and the gofer
// use (as runc builds its features from its known*() lists), so it cannot drift from them.
import {
  CAPABILITIES,
  HOOKS,
  MOUNT_OPTIONS,
  NAMESPACE_TYPES,
  OCI_VERSION,
  OCI_VERSION_MIN,
  PROPAGATION_OPTIONS,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHS,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from "../known.js";

export interface Enabled {
  enabled: boolean;
}

export interface LinuxFeatures {
  namespaces: string[];
  capabilities: string[];
  cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
  seccomp: {
    enabled: boolean;
    actions: string[];
    operators: string[];
    archs: string[];
    knownFlags: string[];
    supportedFlags: string[];
  };
  apparmor: Enabled;
  selinux: Enabled;
  intelRdt: Enabled;
  mountExtensions: { idmap: Enabled };
}

export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: LinuxFeatures;
  annotations?: Record<string, string>;
}

/** runc's features annotation for checkpoint/restore: tsor has no CRIU support. */
export const CHECKPOINT_ANNOTATION = "org.opencontainers.runc.checkpoint.enabled";

const sorted = (names: Iterable<string>): string[] => [...names].sort();

/**
 * What tsor implements, independent of this host (features.md: determined at build time).
 * Not implemented, so reported disabled: AppArmor and SELinux labels, Intel RDT, id-mapped
 * mounts, the RDMA cgroup controller, and rootless systemd (systemdUser). The systemd cgroup
 * driver's paths are taken (--systemd-cgroup: oci/cgroups/systemd.ts) and driven through
 * cgroupfs directly like any other, v1 and v2. Checkpoint/restore (CRIU) is not implemented either: the
 * annotation runc uses for it says "false".
 */
export function buildFeatures(annotations?: Record<string, string>): Features {
  const seccompFlags = [...SECCOMP_FLAGS];
  const features: Features = {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOKS],
    mountOptions: sorted([...Object.keys(MOUNT_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS)]),
    linux: {
      namespaces: sorted(NAMESPACE_TYPES),
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: sorted(SECCOMP_ACTIONS),
        operators: sorted(SECCOMP_OPERATORS),
        archs: sorted(SECCOMP_ARCHS),
        knownFlags: seccompFlags,
        supportedFlags: [...seccompFlags],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
  };
  // runc announces CRIU with this key ("true"); tools that read it learn the truth from tsor.
  features.annotations = { [CHECKPOINT_ANNOTATION]: "false", ...annotations };
  return features;
}

/** As `runc features` prints it: 4-space indentation and a final newline. */
export function formatFeatures(features: Features): string {
  return `${JSON.stringify(features, null, 4)}\n`;
}
