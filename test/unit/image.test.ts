// image/build.ts's pieces that need no docker: what of node_modules goes into the image (the
// bundle's externals, scanned, are the Makefile's --external list; their dependency closure is
// resolved the way node resolves it) and the tag the DaemonSet names.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundleExternals, imageTag, runtimePackages } from "../../image/build.js";
import { repoRoot } from "../lib/bundle.js";

test("image: the bundle's imports outside node's builtins are exactly the Makefile's --external packages", () => {
  const makefile = fs.readFileSync(path.join(repoRoot(), "Makefile"), "utf8");
  const externals = [...makefile.matchAll(/--external:(\S+)/g)].map((m) => m[1]!).sort();
  assert.ok(externals.length > 0);
  assert.deepEqual(bundleExternals(path.join(repoRoot(), "dist", "bundle")), externals);
});

test("image: runtimePackages is the dependency closure, nested copies included, missing optional ones skipped", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-image-unit-"));
  try {
    const pkg = (dir: string, json: Record<string, unknown>) => {
      fs.mkdirSync(path.join(root, dir), { recursive: true });
      fs.writeFileSync(path.join(root, dir, "package.json"), JSON.stringify(json));
    };
    pkg("node_modules/@s/a", { dependencies: { b: "1" }, optionalDependencies: { gone: "1" } });
    pkg("node_modules/b", { dependencies: { c: "2" } });
    pkg("node_modules/b/node_modules/c", {}); // b's own c (v2) ...
    pkg("node_modules/c", {}); // ... not the top-level one (v1), which nothing here needs
    pkg("node_modules/unused", {});
    assert.deepEqual(runtimePackages(root, ["@s/a"]), ["node_modules/@s/a", "node_modules/b", "node_modules/b/node_modules/c"]);
    pkg("node_modules/b", { dependencies: { c: "2", missing: "1" } });
    assert.throws(() => runtimePackages(root, ["@s/a"]), /package missing .* is not installed: run npm ci/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("image: the DaemonSet's image is the tag make image gives (name:version of package.json)", () => {
  const daemonset = fs.readFileSync(path.join(repoRoot(), "deploy", "netd-daemonset.yaml"), "utf8");
  const images = [...daemonset.matchAll(/^\s*image:\s*(\S+)/gm)].map((m) => m[1]);
  assert.ok(images.length >= 2);
  for (const image of images) assert.equal(image, imageTag());
});
