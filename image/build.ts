// `make image`: the image deploy/netd-daemonset.yaml runs (tsor:<version>), built offline from
// this checkout and this host, with no Dockerfile and no registry: a rootfs holding the runtime
// tree at /opt/tsor, the host's node with its libraries and loader, and busybox-static for the
// init container's /bin/sh and cp; written as a tarball and loaded with `docker import`.
//   node dist/image/build.js [--tar-only] [--output FILE] [--tag NAME:VERSION]
import { spawnSync } from "node:child_process";
import { builtinModules } from "node:module";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "../native/root.js";
import { addHostPrograms, addSharedLibraries, allBusyboxApplets, makeBusyboxRootfs } from "./rootfs.js";

/** Where the tree is in the image; the DaemonSet's init container copies it to the host's /opt/tsor. */
export const IMAGE_TSOR_DIR = "/opt/tsor";
const IMAGE_PATH = [`${IMAGE_TSOR_DIR}/bin`, "/usr/local/bin", "/usr/bin", "/bin"];
/** `docker import --change` lines: what a Dockerfile would have said. */
export const IMAGE_CHANGES = [`ENV PATH=${IMAGE_PATH.join(":")}`, "WORKDIR /"];
/** The tarball `make image-tar` writes, relative to the checkout. */
export const DEFAULT_TAR = path.join("dist", "tsor-image.tar");

/**
 * What of the checkout runs (after `make build`), relative to it. Only the esbuild bundle of
 * dist/: bin/tsor and the sentry prefer it, and the tsc tree would need every dependency in
 * node_modules. binding.gyp is the marker by which the code finds its root (native/root.ts).
 */
const RUNTIME_FILES = [
  "package.json",
  "bin",
  path.join("dist", "bundle"),
  path.join("native", "build", "tsor-init"),
  path.join("native", "addon", "build", "Release", "tsor_native.node"),
  path.join("native", "addon", "binding.gyp"),
];

/** `<name>:<version>` from package.json: the tag the DaemonSet names (tsor:0.1.0). */
export function imageTag(checkout = projectRoot()): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(checkout, "package.json"), "utf8")) as { name: string; version: string };
  return `${pkg.name}:${pkg.version}`;
}

/** The packages the bundle leaves to node_modules (esbuild's --external), by scanning its imports. */
export function bundleExternals(bundleDir: string): string[] {
  const builtins = new Set(builtinModules);
  const found = new Set<string>();
  // ESM import sites and require() calls of bare names (builtins are filtered below; `node:`
  // names do not match).
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)"((?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*)(?:\/[^"]*)?"/g;
  for (const f of fs.readdirSync(bundleDir, { recursive: true, encoding: "utf8" })) {
    if (!/\.(?:m|c)?js$/.test(f)) continue;
    for (const m of fs.readFileSync(path.join(bundleDir, f), "utf8").matchAll(re)) {
      if (!builtins.has(m[1]!)) found.add(m[1]!);
    }
  }
  return [...found].sort();
}

/** node's lookup: `name` in the nearest node_modules at or above `from`, not above `root`. */
function resolvePackage(name: string, from: string, root: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return undefined;
  }
}

/** The package directories `names` need at run time (their dependency closure), relative to `checkout`. */
export function runtimePackages(checkout: string, names: string[]): string[] {
  const dirs = new Set<string>();
  const todo = names.map((name) => ({ name, from: checkout, required: true }));
  for (let next = todo.pop(); next; next = todo.pop()) {
    const dir = resolvePackage(next.name, next.from, checkout);
    if (!dir) {
      if (next.required) throw new Error(`image: package ${next.name} (needed from ${next.from}) is not installed: run npm ci`);
      continue;
    }
    if (dirs.has(dir)) continue;
    dirs.add(dir);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    for (const name of Object.keys(pkg.dependencies ?? {})) todo.push({ name, from: dir, required: true });
    // Optional and peer dependencies go along when installed: code may load them if present.
    for (const name of Object.keys({ ...pkg.optionalDependencies, ...pkg.peerDependencies })) todo.push({ name, from: dir, required: false });
  }
  return [...dirs].map((d) => path.relative(checkout, d)).sort();
}

/** Builds the image's rootfs in `rootfs` (an empty or missing directory) from `checkout`. */
export function buildImageRootfs(rootfs: string, checkout = projectRoot()): void {
  for (const f of RUNTIME_FILES) {
    if (!fs.existsSync(path.join(checkout, f))) throw new Error(`image: ${path.join(checkout, f)} is missing: run make build`);
  }
  makeBusyboxRootfs(rootfs, allBusyboxApplets());
  for (const d of ["run", "var", path.join("usr", "bin"), path.join("usr", "local", "bin")]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  // bin/tsor starts with #!/usr/bin/env node.
  fs.symlinkSync("/bin/busybox", path.join(rootfs, "usr", "bin", "env"));
  // The node running this: the one `make build` used, so the addon's ABI matches.
  addHostPrograms(rootfs, [process.execPath]);
  if (!IMAGE_PATH.includes(path.dirname(process.execPath))) {
    fs.symlinkSync(process.execPath, path.join(rootfs, "usr", "local", "bin", "node"));
  }
  const tree = path.join(rootfs, IMAGE_TSOR_DIR);
  for (const f of RUNTIME_FILES) fs.cpSync(path.join(checkout, f), path.join(tree, f), { recursive: true });
  for (const dir of runtimePackages(checkout, bundleExternals(path.join(checkout, "dist", "bundle")))) {
    // A package's own node_modules holds only nested dependencies: the closure copies the ones used.
    const nested = path.join(checkout, dir, "node_modules");
    fs.cpSync(path.join(checkout, dir), path.join(tree, dir), { recursive: true, dereference: true, filter: (src) => src !== nested });
  }
  addSharedLibraries(rootfs, RUNTIME_FILES.filter((f) => /tsor-init$|\.node$/.test(f)).map((f) => path.join(checkout, f)));
}

/** A tarball of `rootfs` for `docker import`, every file owned by root. */
export function writeImageTar(rootfs: string, tar: string): void {
  fs.mkdirSync(path.dirname(tar), { recursive: true });
  const r = spawnSync("tar", ["-C", rootfs, "--numeric-owner", "--owner=0", "--group=0", "-cf", tar, "."], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`tar of ${rootfs} failed: ${r.stderr ?? r.error?.message}`);
}

/** `docker import` of `tar` as `tag`; `docker` is the client's argv (e.g. with --host). */
export function importImage(tar: string, tag: string, docker: string[] = ["docker"]): void {
  const args = [...docker.slice(1), "import", ...IMAGE_CHANGES.flatMap((c) => ["--change", c]), tar, tag];
  const r = spawnSync(docker[0]!, args, { encoding: "utf8", timeout: 180_000 });
  if (r.status !== 0) throw new Error(`${docker.join(" ")} import failed: ${r.stderr ?? r.error?.message}`);
}

function main(argv: string[]): void {
  const checkout = projectRoot();
  let tarOnly = false;
  let tar = path.join(checkout, DEFAULT_TAR);
  let tag = imageTag(checkout);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--tar-only") tarOnly = true;
    else if (a === "--output" && argv[i + 1]) tar = path.resolve(argv[++i]!);
    else if (a === "--tag" && argv[i + 1]) tag = argv[++i]!;
    else throw new Error(`usage: node dist/image/build.js [--tar-only] [--output FILE] [--tag NAME:VERSION] (not ${a})`);
  }
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-image-"));
  try {
    buildImageRootfs(rootfs, checkout);
    writeImageTar(rootfs, tar);
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
  if (tarOnly) {
    process.stdout.write(`${tar}: load it with: docker import ${IMAGE_CHANGES.map((c) => `--change '${c}'`).join(" ")} ${tar} ${tag}\n`);
    return;
  }
  importImage(tar, tag);
  fs.rmSync(tar);
  process.stdout.write(`${tag}: for a node's containerd: docker save ${tag} | ctr -n k8s.io images import -\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
}
