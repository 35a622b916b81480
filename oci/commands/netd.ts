// tsor netd: the node daemon (netstack/daemon.ts) in the foreground, and `tsor netd status`.
// `tsor create/run` start one in the background when none runs (netstack/client.ts ensureNetd).
import type { Command } from "commander";
import { createLogger } from "../log.js";
import { UserError, globalOptions } from "../cli.js";
import type { NetDaemon } from "../../netstack/daemon.js";
import { fetchStatus } from "../../netstack/client.js";
import { netdPaths } from "../../netstack/paths.js";
import { formatStatus } from "../../netstack/status.js";
import type { ClusterState } from "../../netstack/cluster/types.js";

interface NetdFlags {
  name?: string;
  socket?: string;
  stateDir?: string;
  log?: string;
  metricsAddress?: string;
  cluster?: string;
  kubeconfig?: string;
  kubernetes?: boolean;
  exitWhenIdle?: string;
}

export function register(program: Command): void {
  const netd = program
    .command("netd")
    .description("run tsor-netd, the node's network daemon, in the foreground")
    // No commander defaults: netdPaths applies TSOR_NETD_NAME/SOCKET/STATE_DIR, then the node's.
    .option("--name <name>", "instance name (several netds may run on one machine; default: TSOR_NETD_NAME, else default)")
    .option("--socket <path>", "API socket (default: TSOR_NETD_SOCKET, else /run/tsor/netd/<name>.sock)")
    .option("--state-dir <dir>", "state directory (default: TSOR_NETD_STATE_DIR, else /run/tsor/netd/<name>)")
    .option("--log <file>", "log file (default: the global --log, else none)")
    .option("--metrics-address <host:port>", "serve Prometheus metrics at http://host:port/metrics")
    .option("--cluster <file>", "static cluster state (YAML: pods, Services) for Service ClusterIPs and pod names")
    .option("--kubernetes", "cluster state from the Kubernetes API (in-cluster config or $KUBECONFIG): watch Pods, Nodes, Services, EndpointSlices")
    .option("--kubeconfig <file>", "as --kubernetes, with this kubeconfig")
    .option("--exit-when-idle <seconds>", "exit after this long with no sentry connected (auto-started daemons)")
    .action(async (f: NetdFlags, cmd: Command) => {
      await runNetd(f, cmd);
    });
  netd
    .command("status")
    .description("print the pods, listeners and connection counts of a running netd")
    .option("--name <name>", "instance name (default: TSOR_NETD_NAME, else default)")
    .option("--socket <path>", "API socket (default: TSOR_NETD_SOCKET, else /run/tsor/netd/<name>.sock)")
    .option("--json", "print the raw status reply")
    .action(async (f: { name?: string; socket?: string; json?: boolean }) => {
      process.stdout.write(await netdStatusText({ name: f.name, socket: f.socket, json: Boolean(f.json) }));
    });
}

async function runNetd(f: NetdFlags, cmd: Command): Promise<void> {
  // Loaded here, not at the top: the daemon (prom-client) and the YAML source are the bulk of
  // the CLI and every other verb starts faster without them (the bundle splits them out).
  const { NetDaemon, closeInheritedFds } = await import("../../netstack/daemon.js");
  const { YamlClusterState } = await import("../../netstack/cluster/yaml.js");
  const inherited = closeInheritedFds();
  const g = globalOptions(cmd);
  const paths = netdPaths({ name: f.name, socket: f.socket, stateDir: f.stateDir });
  const log = createLogger({ log: f.log ?? g.log, logFormat: g.logFormat, debug: g.debug }, { component: "netd", name: paths.name });
  const idle = f.exitWhenIdle === undefined ? undefined : Number(f.exitWhenIdle);
  if (idle !== undefined && !(idle >= 0)) throw new UserError(`invalid --exit-when-idle: ${f.exitWhenIdle}`);
  let stopping: Promise<void> | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const stop = (why: string): void => {
    if (stopping) return;
    log.info({ why }, "netd: stopping");
    stopping = daemon
      .stop()
      .then(() => cluster?.close())
      .then(stopped);
  };
  if (f.cluster && (f.kubernetes || f.kubeconfig)) throw new UserError("--cluster and --kubernetes/--kubeconfig: choose one cluster state source");
  let cluster: ClusterState | undefined;
  try {
    if (f.cluster) cluster = new YamlClusterState(f.cluster);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (f.kubernetes || f.kubeconfig) {
    // The API may be unreachable for a while (the source keeps re-listing with backoff): serve
    // at once, and resolve Services as soon as the first full list has arrived.
    void openKubernetesState(f.kubeconfig).then(
      (state) => {
        cluster = state;
        state.on("error", (err) => log.warn({ err: err.message }, "netd: Kubernetes watch failed (re-listing; the last state stays)"));
        log.info({ services: state.services().length, pods: state.pods().length }, "netd: Kubernetes cluster state listed");
      },
      (e: Error) => log.error({ err: e.message }, "netd: cannot use the Kubernetes API"),
    );
  }
  cluster?.on("error", (err) => log.warn({ err: err.message }, "netd: cluster state reload failed (the last good one stays)"));
  const daemon: NetDaemon = new NetDaemon({
    name: paths.name,
    socket: paths.socket,
    stateDir: paths.stateDir,
    log,
    metricsAddress: f.metricsAddress,
    ...(f.cluster || f.kubernetes || f.kubeconfig
      ? { cluster: { resolveService: (ip, port) => cluster?.resolveService(ip, port), podOf: (ip) => cluster?.podByIp(ip) } }
      : {}),
    ...(idle !== undefined ? { idleExitMs: idle * 1000, onIdle: () => stop("idle") } : {}),
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => stop(sig));
  try {
    await daemon.start();
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (inherited.length) log.debug({ fds: inherited }, "netd: closed inherited fds");
  const m = daemon.metricsAddress();
  process.stderr.write(`tsor netd ${paths.name}: serving ${paths.socket}${m ? `, metrics http://${m}/metrics` : ""}\n`);
  await done;
}

/** The status table (or JSON) of the netd at `socket` / `name`. */
export async function netdStatusText(opts: { name?: string; socket?: string; json?: boolean }): Promise<string> {
  const paths = netdPaths({ name: opts.name, socket: opts.socket });
  try {
    const s = await fetchStatus(paths.socket);
    return opts.json ? JSON.stringify(s, null, 2) + "\n" : formatStatus(s);
  } catch (e) {
    throw new UserError(`netd ${paths.name}: ${(e as Error).message}`);
  }
}

/**
 * The Kubernetes source, loaded only when asked for: @kubernetes/client-node is large. (Only
 * through kube.ts: the CLI's bundle may not import() a package itself, oci/launcher.ts.)
 */
async function openKubernetesState(kubeconfig: string | undefined): Promise<ClusterState> {
  const kube = await import("../../netstack/cluster/kube.js");
  return kube.KubeClusterState.start({ kubeConfig: kube.loadKubeConfig(kubeconfig) });
}
