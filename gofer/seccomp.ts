// linux.seccomp -> seccomp_default, seccomp_arch, seccomp_flag, seccomp_rule directives for
// tsor-init to hand to libseccomp.
import { SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from "../oci/known.js";
import type { Directive } from "./encode.js";
import { u64 } from "./process.js";
import { PlanError, type SpecSeccomp } from "./types.js";

/** errno an ERRNO or TRACE action returns when errnoRet is not given (runc: EPERM). */
export const DEFAULT_ERRNO_RET = 1;

function known(list: readonly string[], value: string | undefined, where: string, what: string): string {
  if (value === undefined || !list.includes(value)) throw new PlanError(where, `unknown seccomp ${what} ${JSON.stringify(value)}`);
  return value;
}

function errnoFor(action: string, errnoRet: number | undefined): number {
  if (errnoRet !== undefined) return errnoRet;
  return action === "SCMP_ACT_ERRNO" || action === "SCMP_ACT_TRACE" ? DEFAULT_ERRNO_RET : 0;
}

export function seccompDirectives(s: SpecSeccomp): Directive[] {
  const defaultAction = known(SECCOMP_ACTIONS, s.defaultAction, "linux.seccomp.defaultAction", "action");
  const defaultErrno = errnoFor(defaultAction, s.defaultErrnoRet);
  const out: Directive[] = [["seccomp_default", defaultAction, String(defaultErrno)]];
  (s.architectures ?? []).forEach((a, i) => out.push(["seccomp_arch", known(SECCOMP_ARCHS, a, `linux.seccomp.architectures[${i}]`, "architecture")]));
  (s.flags ?? []).forEach((f, i) => out.push(["seccomp_flag", known(SECCOMP_FLAGS, f, `linux.seccomp.flags[${i}]`, "flag")]));
  (s.syscalls ?? []).forEach((sc, i) => {
    const where = `linux.seccomp.syscalls[${i}]`;
    const action = known(SECCOMP_ACTIONS, sc.action, `${where}.action`, "action");
    const errno = errnoFor(action, sc.errnoRet);
    // libseccomp refuses a rule whose action is the default one; runc skips it too.
    if (action === defaultAction && errno === defaultErrno) return;
    const args = (sc.args ?? []).flatMap((a, j) => {
      const at = `${where}.args[${j}]`;
      if (a.index === undefined || a.index < 0 || a.index > 5) throw new PlanError(`${at}.index`, `must be 0..5, got ${String(a.index)}`);
      return [String(a.index), u64(a.value ?? 0, `${at}.value`), u64(a.valueTwo ?? 0, `${at}.valueTwo`), known(SECCOMP_OPERATORS, a.op, `${at}.op`, "operator")];
    });
    for (const name of sc.names ?? []) {
      out.push(["seccomp_rule", action, String(errno), name, String((sc.args ?? []).length), ...args]);
    }
  });
  return out;
}
