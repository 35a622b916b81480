// A thin typed CRI v1 client (RuntimeService and ImageService over a unix socket) for tests
// that play kubelet against containerd's CRI plugin. The proto is test/cri/api.proto, a subset
// of k8s.io/cri-api runtime/v1 with the public field numbers, loaded at run time by
// @grpc/proto-loader. Every call carries a deadline: a runtime that never answers fails the
// test instead of hanging it.
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { repoRoot } from "../lib/bundle.js";

export const CRI_PROTO = path.join(repoRoot(), "test", "cri", "api.proto");
/** The default deadline of one call. */
export const CRI_CALL_TIMEOUT_MS = 30_000;

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}
export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; sysctls?: Record<string, string> };
}
export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: { key: string; value: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  log_path?: string;
  stdin?: boolean;
  tty?: boolean;
}
export type ContainerState = "CONTAINER_CREATED" | "CONTAINER_RUNNING" | "CONTAINER_EXITED" | "CONTAINER_UNKNOWN";
export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number } | null;
  state: ContainerState;
  exit_code: number;
  reason: string;
  message: string;
  image_ref: string;
  log_path: string;
}
export interface PodSandboxStatus {
  id: string;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  network: { ip: string; additional_ips: { ip: string }[] } | null;
  runtime_handler: string;
}
export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number } | null;
  state: ContainerState;
}
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  runtime_handler: string;
}
export interface ExecSyncResult {
  stdout: string;
  stderr: string;
  exit_code: number;
}

type Unary = (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: any) => void) => void;
type Stub = grpc.Client & Record<string, Unary>;

let pkgDef: grpc.GrpcObject | undefined;
function runtimeV1(): any {
  if (!pkgDef) {
    const def = protoLoader.loadSync(CRI_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    pkgDef = grpc.loadPackageDefinition(def);
  }
  return (pkgDef as any).runtime.v1;
}

export class CriClient {
  private readonly runtime: Stub;
  private readonly image: Stub;

  /** `socket`: the CRI endpoint's path (containerd's grpc address). */
  constructor(socket: string, private readonly timeoutMs = CRI_CALL_TIMEOUT_MS) {
    const v1 = runtimeV1();
    const target = `unix://${socket}`;
    const creds = grpc.credentials.createInsecure();
    this.runtime = new v1.RuntimeService(target, creds) as Stub;
    this.image = new v1.ImageService(target, creds) as Stub;
  }

  private call<T>(stub: Stub, method: string, req: object, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      stub[method]!.call(stub, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new Error(`CRI ${method}: ${err.message}`, { cause: err }));
        else resolve(res as T);
      });
    });
  }

  version(): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call(this.runtime, "Version", { version: "v1" });
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ""): Promise<string> {
    const r = await this.call<{ pod_sandbox_id: string }>(this.runtime, "RunPodSandbox", { config, runtime_handler: runtimeHandler }, 2 * this.timeoutMs);
    return r.pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, "StopPodSandbox", { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, "RemovePodSandbox", { pod_sandbox_id: id });
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    const r = await this.call<{ status: PodSandboxStatus }>(this.runtime, "PodSandboxStatus", { pod_sandbox_id: id });
    return r.status;
  }

  async listPodSandbox(): Promise<PodSandbox[]> {
    const r = await this.call<{ items: PodSandbox[] }>(this.runtime, "ListPodSandbox", {});
    return r.items;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const r = await this.call<{ container_id: string }>(this.runtime, "CreateContainer", { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig });
    return r.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call(this.runtime, "StartContainer", { container_id: id });
  }

  /** `timeoutSec`: the grace period before SIGKILL. */
  async stopContainer(id: string, timeoutSec = 0): Promise<void> {
    await this.call(this.runtime, "StopContainer", { container_id: id, timeout: timeoutSec }, this.timeoutMs + timeoutSec * 1000);
  }

  async removeContainer(id: string): Promise<void> {
    await this.call(this.runtime, "RemoveContainer", { container_id: id });
  }

  async listContainers(filter: { id?: string; pod_sandbox_id?: string } = {}): Promise<Container[]> {
    const r = await this.call<{ containers: Container[] }>(this.runtime, "ListContainers", { filter });
    return r.containers;
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    const r = await this.call<{ status: ContainerStatus }>(this.runtime, "ContainerStatus", { container_id: id });
    return r.status;
  }

  /** Runs `cmd` in the container; `timeoutSec` bounds it on the runtime's side (0: none) and the call's deadline is a little longer. */
  async execSync(id: string, cmd: string[], timeoutSec = 10): Promise<ExecSyncResult> {
    const r = await this.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
      this.runtime,
      "ExecSync",
      { container_id: id, cmd, timeout: timeoutSec },
      Math.max(this.timeoutMs, (timeoutSec + 10) * 1000),
    );
    return { stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8"), exit_code: r.exit_code };
  }

  async listImages(): Promise<{ id: string; repo_tags: string[]; repo_digests: string[]; size: number }[]> {
    const r = await this.call<{ images: { id: string; repo_tags: string[]; repo_digests: string[]; size: number }[] }>(this.image, "ListImages", {});
    return r.images;
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}
