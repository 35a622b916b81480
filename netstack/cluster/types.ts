// What tsor-netd knows about the cluster: nodes, pods (IP -> node, run by TSoR or not) and
// Services (ClusterIP:port -> endpoints). Two sources fill it: a static YAML file (yaml.ts) and
// the Kubernetes API (kube.ts); both hand a ClusterSnapshot to the same store (store.ts).

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface Node {
  name: string;
  /** Reachable addresses, InternalIP first: where this node's netd is reached. */
  addresses: string[];
  podCIDRs: string[];
  ready: boolean;
}

export interface Pod {
  name: string;
  namespace: string;
  ip: string;
  /** Name of the node the pod runs on ("" when not known). */
  node: string;
  /** Run by TSoR: runtimeClassName "tsor" or the TSOR_ANNOTATION set to "true". */
  tsor: boolean;
}

export interface ServicePort {
  /** "" for a Service's single unnamed port. Endpoints are matched to ports by this name. */
  name: string;
  port: number;
  /** A number, or a container port name (Kubernetes); endpoints carry the resolved number. */
  targetPort: number | string;
  protocol: Protocol;
}

export interface Endpoint {
  ip: string;
  port: number;
  ready: boolean;
  /** Node the endpoint runs on ("" when not known). */
  node: string;
  /** The ServicePort.name this endpoint serves. */
  portName: string;
}

export interface Service {
  name: string;
  namespace: string;
  clusterIP: string;
  ports: ServicePort[];
  endpoints: Endpoint[];
}

export interface ClusterSnapshot {
  nodes: Node[];
  pods: Pod[];
  services: Service[];
}

/** The annotation that marks a pod as run by TSoR when it has no runtimeClassName "tsor". */
export const TSOR_ANNOTATION = "tsor.io/enabled";
/** The RuntimeClass name deploy/ installs for TSoR. */
export const TSOR_RUNTIME_CLASS = "tsor";

export interface ClusterState {
  nodes(): Node[];
  pods(): Pod[];
  podByIp(ip: string): Pod | undefined;
  services(): Service[];
  /**
   * The endpoint a connect() to clusterIP:port goes to: round robin over the endpoints that are
   * ready at call time. undefined for an unknown ClusterIP or port, or when none is ready.
   */
  resolveService(ip: string, port: number, protocol?: Protocol): Endpoint | undefined;
  /** "change": the state was replaced. "error": a reload or watch failed; the last good state stays. */
  on(event: "change", cb: () => void): this;
  on(event: "error", cb: (err: Error) => void): this;
  off(event: "change" | "error", cb: (...args: any[]) => void): this;
  /** Stops watching; the last state stays readable. */
  close(): Promise<void>;
}
