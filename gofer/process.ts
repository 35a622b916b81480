// process.* -> rlimit, oom_score_adj, user, groups, cwd, env, arg, caps, no_new_privs.
import { CAPABILITIES, RLIMITS } from "../oci/known.js";
import type { Directive } from "./encode.js";
import { PlanError, type SpecCapabilities, type SpecProcess, type U64 } from "./types.js";

const U64_MAX = (1n << 64n) - 1n;

/**
 * A uint64 config value as a decimal string. JSON numbers above 2^53 arrive rounded: the
 * "unlimited" 18446744073709551615 parses as 2^64, which is taken to mean U64_MAX.
 */
export function u64(value: U64, where: string): string {
  let n: bigint;
  try {
    if (typeof value === "number" && !Number.isInteger(value)) throw new Error();
    n = BigInt(value);
  } catch {
    throw new PlanError(where, `not an unsigned 64-bit integer: ${String(value)}`);
  }
  if (n < 0n) throw new PlanError(where, `not an unsigned 64-bit integer: ${String(value)}`);
  if (n > U64_MAX) {
    if (typeof value !== "number") throw new PlanError(where, `out of range: ${String(value)}`);
    n = U64_MAX;
  }
  return n.toString();
}

/** A capability set as the 64-bit mask capset(2) and PR_CAPBSET_DROP use. */
export function capMask(names: readonly string[] = [], where = "process.capabilities"): bigint {
  let mask = 0n;
  for (const name of names) {
    const bit = (CAPABILITIES as readonly string[]).indexOf(name);
    if (bit === -1) throw new PlanError(where, `unknown capability ${JSON.stringify(name)}`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

const CAP_SETS = ["bounding", "effective", "permitted", "inheritable", "ambient"] as const;

/** `caps BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT`. */
export function capsDirective(caps: SpecCapabilities): Directive {
  return ["caps", ...CAP_SETS.map((set) => capMask(caps[set], `process.capabilities.${set}`).toString())];
}

export function rlimitDirectives(p: SpecProcess): Directive[] {
  return (p.rlimits ?? []).map((r, i): Directive => {
    const where = `process.rlimits[${i}]`;
    const resource = (RLIMITS as readonly string[]).indexOf(r.type ?? "");
    if (resource === -1) throw new PlanError(`${where}.type`, `unknown rlimit ${JSON.stringify(r.type)}`);
    return ["rlimit", String(resource), u64(r.soft ?? 0, `${where}.soft`), u64(r.hard ?? 0, `${where}.hard`)];
  });
}

/** user, groups, cwd, env..., arg..., caps (when configured), no_new_privs. */
export function identityDirectives(p: SpecProcess): Directive[] {
  const user = p.user ?? {};
  const out: Directive[] = [
    ["user", String(user.uid ?? 0), String(user.gid ?? 0), String(user.umask ?? -1)],
    ["groups", (user.additionalGids ?? []).join(",")],
  ];
  if (!p.cwd) throw new PlanError("process.cwd", "missing");
  out.push(["cwd", p.cwd]);
  for (const e of p.env ?? []) out.push(["env", e]);
  if (!p.args || p.args.length === 0) throw new PlanError("process.args", "missing or empty");
  for (const a of p.args) out.push(["arg", a]);
  // No capabilities object: runc leaves the capabilities as they are (capabilities.New(nil)).
  if (p.capabilities) out.push(capsDirective(p.capabilities));
  if (p.noNewPrivileges) out.push(["no_new_privs"]);
  return out;
}
