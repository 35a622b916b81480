// Cluster state from the Kubernetes API: list+watch of Nodes, Pods, Services and EndpointSlices
// (discovery.k8s.io/v1) with @kubernetes/client-node's ListWatch, one per resource. ListWatch
// itself re-watches when the server ends a watch and re-lists on 410 Gone; on any other error
// (connection refused or dropped, HTTP 5xx) it stops, and the Reflector below starts a fresh
// ListWatch (a full re-list) after an exponential backoff. The last synced objects keep serving
// until the new list arrives.
import { isIP } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { ClusterStore } from "./store.js";
import {
  TSOR_ANNOTATION, TSOR_RUNTIME_CLASS,
  type ClusterSnapshot, type Endpoint, type Node, type Pod, type Protocol, type Service,
} from "./types.js";

/** The label an EndpointSlice carries naming its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Re-list after a failed watch: 0.5 s, doubling, at most 30 s (ListWatch's own ceiling). */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };

// --- Kubernetes objects -> cluster model ---------------------------------------------------------

export function nodeFromK8s(n: k8s.V1Node): Node {
  const rank = (type: string) => (type === "InternalIP" ? 0 : type === "ExternalIP" ? 1 : 2);
  const addresses = (n.status?.addresses ?? [])
    .filter((a) => isIP(a.address) !== 0)
    .sort((a, b) => rank(a.type) - rank(b.type))
    .map((a) => a.address);
  return {
    name: n.metadata?.name ?? "",
    addresses,
    podCIDRs: n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []),
    ready: n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
  };
}

/** undefined for pods netd cannot address: no IP yet, host network, or finished (IP released). */
export function podFromK8s(p: k8s.V1Pod): Pod | undefined {
  const ip = p.status?.podIP;
  if (!ip || p.spec?.hostNetwork) return undefined;
  if (p.status?.phase === "Succeeded" || p.status?.phase === "Failed") return undefined;
  return {
    name: p.metadata?.name ?? "",
    namespace: p.metadata?.namespace ?? "default",
    ip,
    node: p.spec?.nodeName ?? "",
    tsor: p.spec?.runtimeClassName === TSOR_RUNTIME_CLASS || p.metadata?.annotations?.[TSOR_ANNOTATION] === "true",
  };
}

function protocol(p: string | undefined): Protocol {
  return p === "UDP" || p === "SCTP" ? p : "TCP";
}

/** Services with a ClusterIP, each joined with the endpoints of its EndpointSlices. */
export function servicesFromK8s(services: readonly k8s.V1Service[], slices: readonly k8s.V1EndpointSlice[]): Service[] {
  const endpointsOf = new Map<string, Endpoint[]>();
  for (const slice of slices) {
    const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc || (slice.addressType !== "IPv4" && slice.addressType !== "IPv6")) continue;
    const key = `${slice.metadata?.namespace ?? "default"}/${svc}`;
    const list = endpointsOf.get(key) ?? [];
    endpointsOf.set(key, list);
    for (const sp of slice.ports ?? []) {
      if (sp.port === undefined) continue;
      for (const ep of slice.endpoints ?? []) {
        for (const ip of ep.addresses) {
          // Kubernetes: a nil ready condition is to be read as ready.
          list.push({ ip, port: sp.port, ready: ep.conditions?.ready ?? true, node: ep.nodeName ?? "", portName: sp.name ?? "" });
        }
      }
    }
  }
  const out: Service[] = [];
  for (const s of services) {
    const clusterIP = s.spec?.clusterIP;
    if (!clusterIP || isIP(clusterIP) === 0) continue; // headless ("None") or not yet allocated
    const namespace = s.metadata?.namespace ?? "default";
    const name = s.metadata?.name ?? "";
    out.push({
      name,
      namespace,
      clusterIP,
      ports: (s.spec?.ports ?? []).map((p) => ({
        name: p.name ?? "",
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        protocol: protocol(p.protocol),
      })),
      endpoints: endpointsOf.get(`${namespace}/${name}`) ?? [],
    });
  }
  return out;
}

// --- list+watch with resync ----------------------------------------------------------------------

/** One resource's ListWatch, replaced by a fresh one (a re-list) after an error. */
class Reflector<T extends k8s.KubernetesObject> {
  private current: k8s.ListWatch<T> | undefined;
  private attempt: k8s.ListWatch<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs = 0;
  private stopped = false;
  private markReady!: () => void;
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    readonly path: string,
    private readonly watch: k8s.Watch,
    private readonly listFn: k8s.ListPromise<T>,
    private readonly backoff: Backoff,
    private readonly onChange: () => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /** The objects of the last successful list, kept current by the watch. */
  items(): readonly T[] {
    return this.current?.list() ?? [];
  }

  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const lw = new k8s.ListWatch<T>(this.path, this.watch, this.listFn, false);
    this.attempt = lw;
    let failed = false;
    lw.on("error", (err) => {
      failed = true;
      this.failed(lw, err);
    });
    lw.on("change", () => {
      if (this.current === lw) this.onChange();
    });
    await lw.start();
    if (failed || this.stopped) return;
    const old = this.current;
    this.current = lw;
    if (old !== undefined) void old.stop();
    this.delayMs = 0;
    this.markReady();
    this.onChange();
  }

  private failed(lw: k8s.ListWatch<T>, err: unknown): void {
    void lw.stop();
    if (this.stopped || (lw !== this.current && lw !== this.attempt)) return;
    this.delayMs = this.delayMs === 0 ? this.backoff.initialMs : Math.min(this.delayMs * 2, this.backoff.maxMs);
    const why = err instanceof Error ? err.message : JSON.stringify(err);
    this.onError(new Error(`kube ${this.path}: ${why}; re-listing in ${this.delayMs} ms`));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), this.delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all([this.current?.stop(), this.attempt?.stop()]);
  }
}

/** A KubeConfig from `file`, else from the default places (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(file?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

export interface KubeClusterOptions {
  /** Default: KubeConfig.loadFromDefault() ($KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeConfig?: k8s.KubeConfig;
  backoff?: Backoff;
}

/** Cluster state from the Kubernetes API. Use KubeClusterState.start(). */
export class KubeClusterState extends ClusterStore {
  private readonly nodesR: Reflector<k8s.V1Node>;
  private readonly podsR: Reflector<k8s.V1Pod>;
  private readonly servicesR: Reflector<k8s.V1Service>;
  private readonly slicesR: Reflector<k8s.V1EndpointSlice>;
  private rebuildQueued = false;

  private constructor(kc: k8s.KubeConfig, backoff: Backoff) {
    super();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const watch = new k8s.Watch(kc);
    const changed = () => this.queueRebuild();
    const failed = (err: Error) => this.report(err);
    const reflector = <T extends k8s.KubernetesObject>(path: string, list: k8s.ListPromise<T>) =>
      new Reflector<T>(path, watch, list, backoff, changed, failed);
    this.nodesR = reflector("/api/v1/nodes", () => core.listNode());
    this.podsR = reflector("/api/v1/pods", () => core.listPodForAllNamespaces());
    this.servicesR = reflector("/api/v1/services", () => core.listServiceForAllNamespaces());
    this.slicesR = reflector("/apis/discovery.k8s.io/v1/endpointslices", () => discovery.listEndpointSliceForAllNamespaces());
  }

  private reflectors(): Reflector<any>[] {
    return [this.nodesR, this.podsR, this.servicesR, this.slicesR];
  }

  /**
   * Starts list+watch of the four resources; resolves once each has been listed (it keeps
   * retrying while the API server cannot be reached: race it with a timeout if that matters).
   */
  static async start(opts: KubeClusterOptions = {}): Promise<KubeClusterState> {
    let kc = opts.kubeConfig;
    if (!kc) {
      kc = new k8s.KubeConfig();
      kc.loadFromDefault();
    }
    const state = new KubeClusterState(kc, opts.backoff ?? DEFAULT_BACKOFF);
    for (const r of state.reflectors()) r.start();
    await Promise.all(state.reflectors().map((r) => r.ready));
    state.rebuild();
    return state;
  }

  /** Many watch events arrive in bursts: rebuild once per turn of the event loop. */
  private queueRebuild(): void {
    if (this.rebuildQueued) return;
    this.rebuildQueued = true;
    setImmediate(() => {
      this.rebuildQueued = false;
      this.rebuild();
    });
  }

  private rebuild(): void {
    const snapshot: ClusterSnapshot = {
      nodes: this.nodesR.items().map(nodeFromK8s),
      pods: this.podsR.items().map(podFromK8s).filter((p): p is Pod => p !== undefined),
      services: servicesFromK8s(this.servicesR.items(), this.slicesR.items()),
    };
    this.replace(snapshot);
  }

  override async close(): Promise<void> {
    await Promise.all(this.reflectors().map((r) => r.stop()));
  }
}
