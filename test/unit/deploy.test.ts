// deploy/: every Kubernetes manifest parses and fits a zod schema of exactly the fields it uses
// (strict objects: a misspelt or unexpected field fails), the objects refer to each other
// consistently, the RuntimeClass handler is the one `tsor install` writes, the flags the
// DaemonSet passes exist on the verbs, and the docker/containerd snippets are what `tsor install`
// writes into an empty file. No cluster here: this checks the files, it does not apply them.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import type { Command } from "commander";
import { repoRoot } from "../lib/bundle.js";
import { buildProgram } from "../../oci/main.js";
import { CONTAINERD_HANDLER, planContainerdInstall } from "../../oci/install/containerd.js";
import { DOCKER_RUNTIME, planDockerInstall } from "../../oci/install/docker.js";

const DEPLOY = path.join(repoRoot(), "deploy");
/** Where the DaemonSet's init container puts tsor on the host, and what the snippets name. */
const HOST_TSOR = "/opt/tsor/bin/tsor";
/** containerd's BinaryName: the launcher beside HOST_TSOR that adds --report-sentry-pid. */
const HOST_SHIM_TSOR = "/opt/tsor/bin/tsor-shim-runtime";

// ---- schemas: exactly the fields the manifests use --------------------------------------------

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63);
const labels = z.record(z.string(), z.string());
const metadata = z.strictObject({ name: dnsLabel, labels: labels.optional() });
const namespaced = metadata.extend({ namespace: dnsLabel });

const Namespace = z.strictObject({ apiVersion: z.literal("v1"), kind: z.literal("Namespace"), metadata });
const ServiceAccount = z.strictObject({ apiVersion: z.literal("v1"), kind: z.literal("ServiceAccount"), metadata: namespaced });
const ClusterRole = z.strictObject({
  apiVersion: z.literal("rbac.authorization.k8s.io/v1"),
  kind: z.literal("ClusterRole"),
  metadata,
  rules: z.array(
    z.strictObject({
      apiGroups: z.array(z.string()).min(1),
      resources: z.array(z.string()).min(1),
      verbs: z.array(z.enum(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"])).min(1),
    }),
  ),
});
const ClusterRoleBinding = z.strictObject({
  apiVersion: z.literal("rbac.authorization.k8s.io/v1"),
  kind: z.literal("ClusterRoleBinding"),
  metadata,
  roleRef: z.strictObject({ apiGroup: z.literal("rbac.authorization.k8s.io"), kind: z.literal("ClusterRole"), name: dnsLabel }),
  subjects: z.array(z.strictObject({ kind: z.literal("ServiceAccount"), name: dnsLabel, namespace: dnsLabel })).min(1),
});
/** A Kubernetes quantity: "64Mi", "100m", "1". */
const quantity = z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/);
const RuntimeClass = z.strictObject({
  apiVersion: z.literal("node.k8s.io/v1"),
  kind: z.literal("RuntimeClass"),
  metadata,
  handler: dnsLabel,
  // node.k8s.io/v1 Overhead: what each pod's sentries cost, added to the pod's requests and limits.
  overhead: z.strictObject({ podFixed: z.strictObject({ memory: quantity, cpu: quantity }) }).optional(),
});

const container = z.strictObject({
  name: dnsLabel,
  image: z.string().min(1),
  imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]),
  command: z.array(z.string()).min(1),
  args: z.array(z.string()).optional(),
  env: z
    .array(z.strictObject({ name: z.string(), valueFrom: z.strictObject({ fieldRef: z.strictObject({ fieldPath: z.string() }) }) }))
    .optional(),
  ports: z.array(z.strictObject({ name: z.string(), containerPort: z.number().int().min(1).max(65535) })).optional(),
  readinessProbe: z.strictObject({ exec: z.strictObject({ command: z.array(z.string()).min(1) }), periodSeconds: z.number().int().positive() }).optional(),
  securityContext: z.strictObject({ privileged: z.literal(true) }),
  volumeMounts: z.array(
    z.strictObject({
      name: dnsLabel,
      mountPath: z.string().startsWith("/"),
      readOnly: z.boolean().optional(),
      mountPropagation: z.enum(["None", "HostToContainer", "Bidirectional"]).optional(),
    }),
  ),
});
type Container = z.infer<typeof container>;

const DaemonSet = z.strictObject({
  apiVersion: z.literal("apps/v1"),
  kind: z.literal("DaemonSet"),
  metadata: namespaced,
  spec: z.strictObject({
    selector: z.strictObject({ matchLabels: labels }),
    updateStrategy: z.strictObject({ type: z.enum(["RollingUpdate", "OnDelete"]) }),
    template: z.strictObject({
      metadata: z.strictObject({ labels }),
      spec: z.strictObject({
        serviceAccountName: dnsLabel,
        hostNetwork: z.literal(true),
        hostPID: z.literal(true),
        dnsPolicy: z.literal("ClusterFirstWithHostNet"),
        priorityClassName: z.string(),
        nodeSelector: labels,
        tolerations: z.array(z.strictObject({ operator: z.literal("Exists") })),
        initContainers: z.array(container).min(1),
        containers: z.array(container).min(1),
        volumes: z.array(
          z.strictObject({
            name: dnsLabel,
            hostPath: z.strictObject({ path: z.string().startsWith("/"), type: z.enum(["Directory", "DirectoryOrCreate"]) }),
          }),
        ),
      }),
    }),
  }),
});

const Manifest = z.discriminatedUnion("kind", [Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, RuntimeClass, DaemonSet]);
type Manifest = z.infer<typeof Manifest>;

// ---- loading ----------------------------------------------------------------------------------

const MANIFEST_FILES = ["namespace.yaml", "rbac.yaml", "runtimeclass.yaml", "netd-daemonset.yaml"];

/** Every object of every manifest, each checked against the schema (errors name file and path). */
function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const name of MANIFEST_FILES) {
    const file = path.join(DEPLOY, name);
    const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
    assert.ok(Array.isArray(docs), `${name}: not a YAML stream`);
    for (const [i, doc] of docs.entries()) {
      assert.deepEqual(doc.errors, [], `${name} document ${i}: YAML errors`);
      const r = Manifest.safeParse(doc.toJS());
      assert.ok(r.success, `${name} document ${i}: ${r.error?.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`);
      out.push(r.data);
    }
  }
  return out;
}

function only<K extends Manifest["kind"]>(all: Manifest[], kind: K): Extract<Manifest, { kind: K }> {
  const found = all.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0] as Extract<Manifest, { kind: K }>;
}

/** The long flags a tsor verb (or sub-verb) declares, from the CLI definition itself. */
function flagsOf(...verbs: string[]): Set<string> {
  let cmd: Command = buildProgram();
  for (const v of verbs) {
    const next = cmd.commands.find((c) => c.name() === v);
    assert.ok(next, `tsor ${verbs.join(" ")}: no such verb`);
    cmd = next;
  }
  return new Set(cmd.options.map((o) => o.long).filter((l): l is string => l !== undefined));
}

/** `tsor VERB... --flag value ...` in an argv: the verbs and the flags used. */
function tsorCall(argv: string[]): { verbs: string[]; flags: Map<string, string> } {
  const at = argv.findIndex((a) => a.endsWith("/bin/tsor"));
  assert.ok(at >= 0, `no tsor in ${argv.join(" ")}`);
  const verbs: string[] = [];
  const flags = new Map<string, string>();
  for (let i = at + 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--")) {
      const next = argv[i + 1];
      flags.set(a, next !== undefined && !next.startsWith("--") ? (i++, next) : "");
    } else if (flags.size === 0) verbs.push(a);
  }
  return { verbs, flags };
}

/** The tsor call in an init container's shell script. */
function tsorInScript(c: Container): string[] {
  const script = (c.args ?? []).join("\n").replace(/\\\n/g, " ");
  const line = script.split("\n").find((l) => /\/bin\/tsor install\b/.test(l));
  assert.ok(line, `${c.name}: no \`tsor install\` in its script`);
  return line.trim().split(/\s+/);
}

// ---- tests ------------------------------------------------------------------------------------

test("deploy: every manifest parses and fits its schema", () => {
  const all = loadManifests();
  assert.deepEqual(all.map((m) => m.kind).sort(), ["ClusterRole", "ClusterRoleBinding", "DaemonSet", "Namespace", "RuntimeClass", "ServiceAccount"]);
});

test("deploy: the RuntimeClass handler is the containerd handler tsor install writes", () => {
  const rc = only(loadManifests(), "RuntimeClass");
  assert.equal(rc.handler, CONTAINERD_HANDLER);
});

test("deploy: namespace, ServiceAccount, binding and DaemonSet refer to each other", () => {
  const all = loadManifests();
  const ns = only(all, "Namespace").metadata.name;
  const sa = only(all, "ServiceAccount");
  const role = only(all, "ClusterRole");
  const binding = only(all, "ClusterRoleBinding");
  const ds = only(all, "DaemonSet");
  assert.equal(sa.metadata.namespace, ns);
  assert.equal(ds.metadata.namespace, ns);
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: ns }]);
  assert.equal(ds.spec.template.spec.serviceAccountName, sa.metadata.name);
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(ds.spec.template.metadata.labels[k], v, `selector label ${k} on the pod template`);
});

test("deploy: the ClusterRole grants read-only get/list/watch on pods, nodes, services and endpointslices", () => {
  const role = only(loadManifests(), "ClusterRole");
  const granted = (group: string, resource: string): Set<string> =>
    new Set(role.rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs));
  for (const [group, resource] of [
    ["", "pods"],
    ["", "nodes"],
    ["", "services"],
    ["discovery.k8s.io", "endpointslices"],
  ] as const) {
    assert.deepEqual([...granted(group, resource)].sort(), ["get", "list", "watch"], `${group || "core"}/${resource}`);
  }
  for (const r of role.rules) assert.deepEqual(r.verbs.filter((v) => !["get", "list", "watch"].includes(v)), [], "read-only");
});

test("deploy: the DaemonSet runs tsor netd with host namespaces and the mounts it needs; the init container installs the handler", () => {
  const ds = only(loadManifests(), "DaemonSet");
  const pod = ds.spec.template.spec;
  const volumes = new Map(pod.volumes.map((v) => [v.name, v.hostPath.path]));
  for (const c of [...pod.initContainers, ...pod.containers]) {
    for (const m of c.volumeMounts) assert.ok(volumes.has(m.name), `${c.name}: volume ${m.name} is declared`);
  }
  const hostPathsOf = (c: Container): string[] => c.volumeMounts.map((m) => volumes.get(m.name)!);

  const netd = pod.containers.find((c) => c.name === "netd");
  assert.ok(netd);
  const call = tsorCall(netd.command);
  assert.deepEqual(call.verbs, ["netd"]);
  const netdFlags = flagsOf("netd");
  for (const f of call.flags.keys()) assert.ok(netdFlags.has(f), `tsor netd has ${f}`);
  for (const p of ["/run/tsor", "/run/netns", "/etc/containerd"]) assert.ok(hostPathsOf(netd).includes(p), `netd mounts ${p}`);
  assert.deepEqual(tsorCall(netd.readinessProbe!.exec.command).verbs, ["netd", "status"]);

  const init = pod.initContainers.find((c) => c.name === "install");
  assert.ok(init);
  const install = tsorCall(tsorInScript(init));
  assert.deepEqual(install.verbs, ["install"]);
  const installFlags = flagsOf("install");
  for (const f of install.flags.keys()) assert.ok(installFlags.has(f), `tsor install has ${f}`);
  assert.ok(install.flags.has("--containerd"));
  assert.equal(install.flags.get("--runtime-path"), HOST_TSOR);
  // The config and state it edits are host paths, through the init container's mounts.
  const mountFor = (file: string) => init.volumeMounts.find((m) => file.startsWith(m.mountPath + "/"));
  const cfg = mountFor(install.flags.get("--containerd-config")!);
  assert.equal(cfg && volumes.get(cfg.name), "/etc/containerd");
  const state = mountFor(install.flags.get("--state-file")!);
  assert.equal(state && volumes.get(state.name), "/var/lib/tsor");
  assert.ok(hostPathsOf(init).includes(path.dirname(path.dirname(HOST_TSOR))), "the binary is copied to the host");
});

test("deploy: deploy/docker/daemon.json is valid JSON, what tsor install writes into an empty daemon.json", () => {
  const text = fs.readFileSync(path.join(DEPLOY, "docker", "daemon.json"), "utf8");
  const json = JSON.parse(text) as { runtimes: Record<string, unknown> };
  assert.deepEqual(Object.keys(json.runtimes), [DOCKER_RUNTIME]);
  const plan = planDockerInstall({ file: path.join(DEPLOY, "no-such-dir", "daemon.json"), entry: { path: HOST_TSOR, runtimeArgs: ["--report-sentry-pid"] }, force: false });
  assert.equal(text, plan.change.after);
});

test("deploy: deploy/containerd/config.toml is valid TOML, what tsor install writes into an empty config.toml", () => {
  const text = fs.readFileSync(path.join(DEPLOY, "containerd", "config.toml"), "utf8");
  const toml = parseToml(text) as any;
  assert.equal(toml.version, 2);
  assert.equal(toml.plugins["io.containerd.grpc.v1.cri"].containerd.runtimes[CONTAINERD_HANDLER].options.BinaryName, HOST_SHIM_TSOR);
  const plan = planContainerdInstall({ file: path.join(DEPLOY, "no-such-dir", "config.toml"), binaryName: HOST_SHIM_TSOR, force: false });
  assert.equal(text, plan.change.after);
});
