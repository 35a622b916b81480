// The sentry's dispatch: looks a trapped syscall up in the table and runs its handler against the
// container's socket stack. A SyscallError (or an addon failure) becomes -errno for the app; an
// unknown number is logged once and left to the kernel.
import { NativeError, type FastSetsockoptApi } from "../../native/index.js";
import { SyscallError, type Outcome, type SyscallHandler } from "../platform/platform.js";
import type { SocketStack, StackLog } from "../vsock/stack.js";
import { CONTINUE } from "./common.js";
import { E } from "./linux.js";
import { SYSCALL_TABLE } from "./table.js";
import { applyFastSetsockopts } from "./sys_sockopt.js";

export { SYSCALL_TABLE, type SyscallEntry } from "./table.js";
export { SocketStack, type SocketStackOptions, type StackLog } from "../vsock/stack.js";

function toOutcome(e: unknown, nr: number, log: StackLog | undefined): Outcome {
  if (e instanceof SyscallError) return { kind: "errno", errno: e.errno };
  if (e instanceof NativeError) {
    log?.warn({ nr, err: e.message }, "syscall: native call failed");
    return { kind: "errno", errno: e.errno };
  }
  log?.warn({ nr, err: (e as Error)?.stack ?? String(e) }, "syscall: handler failed");
  return { kind: "errno", errno: E.EIO };
}

/**
 * The SyscallHandler a platform calls, serving `stack`. With `fast` (the addon's fast path,
 * seccomp platform), what it answered since the last call is recorded first.
 */
export function createDispatcher(stack: SocketStack, log?: StackLog, fast?: FastSetsockoptApi): SyscallHandler {
  const reported = new Set<number>();
  return (task, call) => {
    if (fast) {
      const sets = fast.take();
      if (sets) applyFastSetsockopts(stack, sets);
    }
    const entry = SYSCALL_TABLE.get(call.nr);
    if (!entry) {
      if (!reported.has(call.nr)) {
        reported.add(call.nr);
        log?.warn({ nr: call.nr }, "syscall: unimplemented, left to the kernel");
      }
      return CONTINUE;
    }
    try {
      const out = entry.handler(stack, task, call.args);
      return out instanceof Promise ? out.catch((e: unknown) => toOutcome(e, call.nr, log)) : out;
    } catch (e) {
      return toOutcome(e, call.nr, log);
    }
  };
}
