// The static cluster file: tsor-netd's cluster state outside Kubernetes. Validated with zod; a bad
// file is reported with the file and the path of the culprit (`cluster.yaml: services[0].clusterIP:
// invalid IP`) and the last good state stays. Reloaded when the file changes, including when an
// editor replaces it by rename (the directory is watched, not the file's inode).
//
// Schema (every key not marked optional is required; unknown keys are errors):
//
//   nodes:                          # optional, default []
//     - name: node-a
//       addresses: [192.0.2.10]     # optional, default []; where node-a's netd is reached
//       podCIDRs: [10.88.0.0/24]    # optional, default []
//       ready: true                 # optional, default true
//   pods:                           # optional, default []
//     - name: redis-0
//       namespace: default          # optional, default "default"
//       ip: 10.88.0.5               # unique among pods
//       node: node-a                # optional, default ""; must name a node when nodes are listed
//       tsor: true                  # optional, default false (runtimeClassName: tsor also sets it)
//       runtimeClassName: tsor      # optional
//   services:                       # optional, default []
//     - name: redis
//       namespace: default          # optional, default "default"
//       clusterIP: 10.96.0.10
//       ports:                      # at least one; ClusterIP:port/protocol unique in the file
//         - port: 6379
//           targetPort: 6379        # optional, default = port
//           protocol: TCP           # optional, TCP | UDP | SCTP, default TCP
//           name: redis             # optional, default ""; needed when there are several ports
//       endpoints:                  # optional, default []
//         - ip: 10.88.0.5
//           port: 6379              # optional, default = targetPort of the port named portName
//           portName: redis         # optional, default: the name of the service's only port
//           ready: true             # optional, default true
//           node: node-a            # optional, default: the node of the pod with this ip
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";
import { parseDocument } from "yaml";
import * as z from "zod";
import { ClusterStore } from "./store.js";
import { TSOR_RUNTIME_CLASS, type ClusterSnapshot, type Endpoint, type Service } from "./types.js";

/** How long a burst of file events is left to settle before the file is read again. */
export const RELOAD_DEBOUNCE_MS = 100;

const ip = z.string().refine((s) => isIP(s) !== 0, "invalid IP");
const cidr = z.string().refine((s) => {
  const [addr, bits, ...rest] = s.split("/");
  const family = isIP(addr ?? "");
  const n = Number(bits);
  return rest.length === 0 && family !== 0 && Number.isInteger(n) && n >= 0 && n <= (family === 4 ? 32 : 128);
}, "invalid CIDR");
const port = z.number().int().min(1).max(65535);
const name = z.string().min(1);

const NodeSchema = z.strictObject({
  name,
  addresses: z.array(ip).default([]),
  podCIDRs: z.array(cidr).default([]),
  ready: z.boolean().default(true),
});

const PodSchema = z.strictObject({
  name,
  namespace: name.default("default"),
  ip,
  node: z.string().default(""),
  tsor: z.boolean().optional(),
  runtimeClassName: z.string().optional(),
});

const ServicePortSchema = z.strictObject({
  name: z.string().default(""),
  port,
  targetPort: port.optional(),
  protocol: z.enum(["TCP", "UDP", "SCTP"]).default("TCP"),
});

const EndpointSchema = z.strictObject({
  ip,
  port: port.optional(),
  portName: z.string().optional(),
  ready: z.boolean().default(true),
  node: z.string().optional(),
});

const ServiceSchema = z.strictObject({
  name,
  namespace: name.default("default"),
  clusterIP: ip,
  ports: z.array(ServicePortSchema).min(1),
  endpoints: z.array(EndpointSchema).default([]),
});

export const ClusterFileSchema = z
  .strictObject({
    nodes: z.array(NodeSchema).default([]),
    pods: z.array(PodSchema).default([]),
    services: z.array(ServiceSchema).default([]),
  })
  .superRefine((file, ctx) => {
    const nodeNames = new Set(file.nodes.map((n) => n.name));
    const podIps = new Map<string, number>();
    file.pods.forEach((pod, i) => {
      const first = podIps.get(pod.ip);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: ["pods", i, "ip"], message: `duplicate pod IP ${pod.ip} (also pods[${first}])` });
      } else podIps.set(pod.ip, i);
      if (pod.node && nodeNames.size > 0 && !nodeNames.has(pod.node)) {
        ctx.addIssue({ code: "custom", path: ["pods", i, "node"], message: `unknown node "${pod.node}"` });
      }
    });
    const servicePorts = new Map<string, string>();
    file.services.forEach((svc, i) => {
      const portNames = new Set<string>();
      svc.ports.forEach((p, j) => {
        const key = `${svc.clusterIP}:${p.port}/${p.protocol}`;
        const where = `services[${i}].ports[${j}]`;
        const first = servicePorts.get(key);
        if (first !== undefined) {
          ctx.addIssue({ code: "custom", path: ["services", i, "ports", j, "port"], message: `duplicate ${key} (also ${first})` });
        } else servicePorts.set(key, where);
        if (portNames.has(p.name)) {
          ctx.addIssue({ code: "custom", path: ["services", i, "ports", j, "name"], message: `duplicate port name "${p.name}"` });
        }
        portNames.add(p.name);
      });
      svc.endpoints.forEach((ep, j) => {
        const at = ["services", i, "endpoints", j];
        if (ep.portName === undefined && svc.ports.length > 1) {
          ctx.addIssue({ code: "custom", path: [...at, "portName"], message: "required when the service has several ports" });
        } else if (ep.portName !== undefined && !portNames.has(ep.portName)) {
          ctx.addIssue({ code: "custom", path: [...at, "portName"], message: `no port named "${ep.portName}"` });
        }
      });
    });
  });

export type ClusterFile = z.infer<typeof ClusterFileSchema>;

/** A cluster file that does not parse or validate; the message names the file and the culprit. */
export class ClusterFileError extends Error {
  constructor(readonly file: string, readonly issues: string[]) {
    super(`${file}: ${issues.join("; ")}`);
    this.name = "ClusterFileError";
  }
}

/** ["services", 0, "clusterIP"] -> "services[0].clusterIP" */
export function formatPath(p: readonly PropertyKey[]): string {
  let out = "";
  for (const k of p) out += typeof k === "number" ? `[${k}]` : `${out ? "." : ""}${String(k)}`;
  return out;
}

/** Parses and validates the text of a cluster file; `file` only names it in errors. */
export function parseClusterYaml(text: string, file: string): ClusterSnapshot {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new ClusterFileError(file, doc.errors.map((e) => {
      const at = e.linePos?.[0];
      const message = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      return `${at ? `line ${at.line}, column ${at.col}: ` : ""}${message}`;
    }));
  }
  const result = ClusterFileSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    throw new ClusterFileError(file, result.error.issues.map((i) => {
      const p = formatPath(i.path);
      return p ? `${p}: ${i.message}` : i.message;
    }));
  }
  return snapshotFromFile(result.data);
}

function snapshotFromFile(file: ClusterFile): ClusterSnapshot {
  const nodeOfIp = new Map(file.pods.map((p) => [p.ip, p.node]));
  const services: Service[] = file.services.map((svc) => {
    const ports = svc.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port, protocol: p.protocol }));
    const endpoints: Endpoint[] = svc.endpoints.map((ep) => {
      const portName = ep.portName ?? ports[0]!.name;
      const sp = ports.find((p) => p.name === portName)!;
      return { ip: ep.ip, port: ep.port ?? sp.targetPort, ready: ep.ready, node: ep.node ?? nodeOfIp.get(ep.ip) ?? "", portName };
    });
    return { name: svc.name, namespace: svc.namespace, clusterIP: svc.clusterIP, ports, endpoints };
  });
  return {
    nodes: file.nodes.map((n) => ({ name: n.name, addresses: n.addresses, podCIDRs: n.podCIDRs, ready: n.ready })),
    pods: file.pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      ip: p.ip,
      node: p.node,
      tsor: p.tsor ?? p.runtimeClassName === TSOR_RUNTIME_CLASS,
    })),
    services,
  };
}

function readClusterText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ClusterFileError(file, [e.code === "ENOENT" ? "no such file" : e.message]);
  }
}

/** Reads and validates a cluster file. Throws ClusterFileError (also for a missing file). */
export function loadClusterFile(file: string): ClusterSnapshot {
  return parseClusterYaml(readClusterText(file), file);
}

export interface YamlClusterOptions {
  /** Reload when the file changes (default true). */
  watch?: boolean;
  debounceMs?: number;
}

/** Cluster state from a YAML file, kept current while the file changes. */
export class YamlClusterState extends ClusterStore {
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastText: string | undefined;

  /** Loads `file` (throws ClusterFileError if it is bad) and starts watching it. */
  constructor(readonly file: string, opts: YamlClusterOptions = {}) {
    super();
    const text = readClusterText(file);
    this.replace(parseClusterYaml(text, file));
    this.lastText = text;
    if (opts.watch === false) return;
    const debounceMs = opts.debounceMs ?? RELOAD_DEBOUNCE_MS;
    const base = path.basename(file);
    // The directory, not the file: an editor's write-new-then-rename leaves a watch on the old
    // inode deaf. filename can be null on some file systems: then reload to be safe.
    this.watcher = fs.watch(path.dirname(path.resolve(file)), (_event, filename) => {
      if (filename !== null && filename !== base) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), debounceMs);
    });
    this.watcher.on("error", (err) => this.report(err));
  }

  /** Reads the file again; on success replaces the state, else reports and keeps the last good one. */
  reload(): void {
    // A rename-replace can leave a moment with no file; the rename's own event reloads it.
    if (!fs.existsSync(this.file)) return;
    let text: string;
    let snapshot: ClusterSnapshot;
    try {
      text = readClusterText(this.file);
      if (text === this.lastText) return;
      snapshot = parseClusterYaml(text, this.file);
    } catch (err) {
      this.report(err as Error);
      return;
    }
    this.lastText = text;
    this.replace(snapshot);
  }

  override async close(): Promise<void> {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
