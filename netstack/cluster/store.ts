// The in-memory cluster state both sources feed: a snapshot plus the indexes netd asks on every
// connect() (pod by IP, Service by ClusterIP:port), and the round-robin cursor per Service port.
import { EventEmitter } from "node:events";
import type { ClusterSnapshot, ClusterState, Endpoint, Node, Pod, Protocol, Service, ServicePort } from "./types.js";

interface ServiceEntry {
  service: Service;
  port: ServicePort;
}

function serviceKey(ip: string, port: number, protocol: Protocol): string {
  return `${protocol}/${ip}/${port}`;
}

export class ClusterStore extends EventEmitter implements ClusterState {
  private snapshot: ClusterSnapshot = { nodes: [], pods: [], services: [] };
  private byIp = new Map<string, Pod>();
  private byServicePort = new Map<string, ServiceEntry>();
  /** Survives replace(): a Service keeps its place in the rotation across updates. */
  private cursors = new Map<string, number>();

  nodes(): Node[] {
    return this.snapshot.nodes;
  }

  pods(): Pod[] {
    return this.snapshot.pods;
  }

  podByIp(ip: string): Pod | undefined {
    return this.byIp.get(ip);
  }

  services(): Service[] {
    return this.snapshot.services;
  }

  resolveService(ip: string, port: number, protocol: Protocol = "TCP"): Endpoint | undefined {
    const key = serviceKey(ip, port, protocol);
    const entry = this.byServicePort.get(key);
    if (!entry) return undefined;
    const ready = entry.service.endpoints.filter((e) => e.ready && e.portName === entry.port.name);
    if (ready.length === 0) return undefined;
    const n = this.cursors.get(key) ?? 0;
    this.cursors.set(key, n + 1);
    return ready[n % ready.length];
  }

  /** Installs a new snapshot and emits "change". Sources call this; queries see it at once. */
  replace(snapshot: ClusterSnapshot): void {
    const byIp = new Map<string, Pod>();
    for (const pod of snapshot.pods) if (pod.ip && !byIp.has(pod.ip)) byIp.set(pod.ip, pod);
    const byServicePort = new Map<string, ServiceEntry>();
    for (const service of snapshot.services) {
      for (const port of service.ports) {
        byServicePort.set(serviceKey(service.clusterIP, port.port, port.protocol), { service, port });
      }
    }
    for (const key of this.cursors.keys()) if (!byServicePort.has(key)) this.cursors.delete(key);
    this.snapshot = snapshot;
    this.byIp = byIp;
    this.byServicePort = byServicePort;
    this.emit("change");
  }

  /** Reports a failed reload or watch to "error" listeners; without any it is dropped, never thrown. */
  protected report(err: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  async close(): Promise<void> {}
}
