// A rootfs made of host binaries: the busybox rootfs plus chosen dynamically linked programs
// (node, redis-server...) with their libraries and the loader (image/rootfs.ts). For images a
// test imports (PrivateDockerd.importRootfs) where a bind of the host's /usr is not available,
// as it is to a bundle (hostRo).
import { addHostPrograms, makeBusyboxRootfs } from "../../image/rootfs.js";

/** A busybox rootfs in `rootfs` with the host programs `bins` (absolute paths) and their libraries. */
export function makeHostRootfs(rootfs: string, bins: string[]): void {
  makeBusyboxRootfs(rootfs);
  addHostPrograms(rootfs, bins);
}
