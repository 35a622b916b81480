// tsor update: change a running container's cgroup limits (runc update; what `docker update`
// calls). Flags and --resources format as runc's; the values are checked in oci/update.ts.
import { Option, type Command } from "commander";
import { runtimeFor } from "./common.js";
import { updateResources, type UpdateFlags } from "../update.js";

export function register(program: Command): void {
  program
    .command("update")
    .argument("<container-id>")
    .description("update container resource constraints")
    .option("-r, --resources <file>", "path to a file with the OCI LinuxResources to apply, or '-' for stdin (all other flags are then ignored)")
    .option("--blkio-weight <n>", "per cgroup block IO weight, range is from 10 to 1000")
    .option("--cpu-period <us>", "CPU CFS period to be used for hardcapping (in usecs); 0 to use system default")
    .option("--cpu-quota <us>", "CPU CFS hardcap limit (in usecs); allowed cpu time in a given period")
    .option("--cpu-burst <us>", "CPU CFS hardcap burst limit (in usecs)")
    .option("--cpu-share <n>", "CPU shares (relative weight vs. other containers)")
    .option("--cpu-rt-period <us>", "CPU realtime period to be used for hardcapping (in usecs)")
    .option("--cpu-rt-runtime <us>", "CPU realtime hardcap limit (in usecs)")
    .option("--cpuset-cpus <list>", "CPU(s) to use")
    .option("--cpuset-mems <list>", "memory node(s) to use")
    .option("--cpu-idle <n>", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE")
    .option("--memory <bytes>", "memory limit (in bytes; k, m, g suffixes)")
    .option("--memory-reservation <bytes>", "memory reservation or soft_limit (in bytes)")
    .option("--memory-swap <bytes>", "total memory usage (memory + swap); '-1' for unlimited swap")
    // runc keeps these hidden: obsolete, accepted and ignored with a warning.
    .addOption(new Option("--kernel-memory <bytes>").hideHelp())
    .addOption(new Option("--kernel-memory-tcp <bytes>").hideHelp())
    .option("--pids-limit <n>", "maximum number of pids allowed in the container (-1: unlimited)")
    .option("--l3-cache-schema <schema>", "Intel RDT/CAT L3 cache schema (not supported by tsor)")
    .option("--mem-bw-schema <schema>", "Intel RDT/MBA memory bandwidth schema (not supported by tsor)")
    .action((id: string, f: UpdateFlags, cmd: Command) => {
      const rt = runtimeFor(cmd);
      rt.state(id); // an unknown id is the error, before reading --resources (as runc)
      for (const w of rt.update(id, updateResources(f))) process.stderr.write(`tsor: warning: ${w}\n`);
    });
}
