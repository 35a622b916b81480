// oci/spec/features: the Features structure is derived from oci/known.ts, in runc's shape.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { Command } from "commander";
import { register } from "../../oci/commands/features.js";
import * as known from "../../oci/known.js";
import { buildFeatures, formatFeatures, type Features } from "../../oci/spec/features.js";
import { parseSpec } from "../../oci/spec/validate.js";
import { defaultSpec } from "../../oci/spec/default.js";

const RUNC = "/usr/sbin/runc";

describe("features", () => {
  const f = buildFeatures();

  it("lists exactly what oci/known.ts lists", () => {
    assert.equal(f.ociVersionMax, known.OCI_VERSION);
    assert.equal(f.ociVersionMin, known.OCI_VERSION_MIN);
    assert.deepEqual(f.hooks, [...known.HOOKS]);
    assert.deepEqual(f.linux.capabilities, [...known.CAPABILITIES]);
    assert.deepEqual(new Set(f.linux.namespaces), new Set(known.NAMESPACE_TYPES));
    assert.deepEqual(new Set(f.linux.seccomp.actions), new Set(known.SECCOMP_ACTIONS));
    assert.deepEqual(new Set(f.linux.seccomp.operators), new Set(known.SECCOMP_OPERATORS));
    assert.deepEqual(new Set(f.linux.seccomp.archs), new Set(known.SECCOMP_ARCHS));
    assert.deepEqual(f.linux.seccomp.knownFlags, [...known.SECCOMP_FLAGS]);
    assert.deepEqual(
      new Set(f.mountOptions),
      new Set([...Object.keys(known.MOUNT_OPTIONS), ...Object.keys(known.PROPAGATION_OPTIONS)]),
    );
  });

  it("sorts the name lists as runc does", () => {
    for (const list of [f.mountOptions, f.linux.namespaces, f.linux.seccomp.actions, f.linux.seccomp.operators, f.linux.seccomp.archs]) {
      assert.deepEqual(list, [...list].sort());
    }
  });

  it("everything it advertises is accepted by the validator", () => {
    const spec = defaultSpec({ rootless: true, uid: 0, gid: 0 });
    const { seccomp } = f.linux;
    const json = {
      ...spec,
      process: { ...spec.process, capabilities: { bounding: f.linux.capabilities } },
      hooks: Object.fromEntries(f.hooks.map((h) => [h, [{ path: "/bin/true" }]])),
      linux: {
        ...spec.linux,
        namespaces: f.linux.namespaces.map((type) => ({ type })),
        seccomp: {
          defaultAction: "SCMP_ACT_ALLOW",
          architectures: seccomp.archs,
          flags: seccomp.knownFlags,
          syscalls: seccomp.actions.map((action, i) => ({
            names: ["getpid"],
            action,
            args: [{ index: 0, value: 0, op: seccomp.operators[i % seccomp.operators.length] }],
          })),
        },
      },
    };
    assert.doesNotThrow(() => parseSpec(json, { warn: assert.fail }));
  });

  it("has the shape of features.md and runc's output (reference)", { skip: !fs.existsSync(RUNC) && "runc not installed" }, () => {
    const runc = JSON.parse(execFileSync(RUNC, ["features"], { encoding: "utf8" })) as Features;
    const keys = (o: object) => Object.keys(o).filter((k) => k !== "annotations");
    // runc 1.1.5 predates mountExtensions, intelRdt and cgroup.rdma; every key it has, we have.
    for (const k of keys(runc)) assert.ok(k in f, k);
    for (const k of keys(runc.linux)) assert.ok(k in f.linux, `linux.${k}`);
    for (const k of keys(runc.linux.seccomp)) assert.ok(k in f.linux.seccomp, `linux.seccomp.${k}`);
    for (const k of keys(runc.linux.cgroup)) assert.ok(k in f.linux.cgroup, `linux.cgroup.${k}`);
    assert.deepEqual(f.hooks, runc.hooks);
    assert.deepEqual(f.linux.capabilities, runc.linux.capabilities);
  });

  it("tsor features prints it as runc does", () => {
    const program = new Command("tsor").exitOverride();
    register(program);
    const chunks: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (chunks.push(s), true)) as typeof process.stdout.write;
    try {
      program.parse(["features"], { from: "user" });
    } finally {
      process.stdout.write = write;
    }
    assert.equal(chunks.join(""), formatFeatures(f));
    assert.match(chunks.join(""), /^\{\n {4}"ociVersionMin": "1\.0\.0",\n/);
    assert.deepEqual(JSON.parse(chunks.join("")), f);
  });
});
