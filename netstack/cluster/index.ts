// netstack/cluster: where tsor-netd learns pod IP -> node and Service -> endpoints (DESIGN.md,
// "Cluster model"). One interface, ClusterState; two sources: a static YAML file outside
// Kubernetes, the Kubernetes API inside it.
import { KubeClusterState, type KubeClusterOptions } from "./kube.js";
import type { ClusterState } from "./types.js";
import { YamlClusterState, type YamlClusterOptions } from "./yaml.js";

export * from "./types.js";
export { ClusterStore } from "./store.js";
export { ClusterFileError, ClusterFileSchema, loadClusterFile, parseClusterYaml, YamlClusterState } from "./yaml.js";
export { KubeClusterState, nodeFromK8s, podFromK8s, servicesFromK8s, DEFAULT_BACKOFF } from "./kube.js";

export type ClusterSource =
  | ({ kind: "file"; file: string } & YamlClusterOptions)
  | ({ kind: "kubernetes" } & KubeClusterOptions);

/** Opens the cluster state from a file (throws ClusterFileError if bad) or the Kubernetes API. */
export async function openClusterState(source: ClusterSource): Promise<ClusterState> {
  if (source.kind === "file") return new YamlClusterState(source.file, source);
  return KubeClusterState.start(source);
}
