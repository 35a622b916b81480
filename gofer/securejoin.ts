// Resolve a path inside a root directory the way the kernel would after chroot(root): symlinks
// are followed, but `..` and absolute link targets are clamped at the root, so the result can
// never name a file outside it. A port of github.com/cyphar/filepath-securejoin's SecureJoinVFS.
// Components that do not exist are taken lexically (they will be created inside the root).
//
// The answer is only as good as the moment it was computed: tsor-init still creates mount points
// without following symlinks that leave the rootfs (native/PLAN.md stage C.4).
import * as fs from "node:fs";
import * as path from "node:path";

/** Symlinks followed before giving up with ELOOP (filepath-securejoin's maxSymlinkLimit). */
export const MAX_SYMLINKS = 255;

/** The file system calls securejoin makes: a seam so tests can fake a tree. */
export interface JoinFS {
  /** null when the path does not exist (ENOENT or ENOTDIR). */
  isSymlink(p: string): boolean | null;
  readlink(p: string): string;
}

export const hostFS: JoinFS = {
  isSymlink(p) {
    try {
      return fs.lstatSync(p).isSymbolicLink();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw err;
    }
  },
  readlink: (p) => fs.readlinkSync(p),
};

export class SecureJoinError extends Error {
  constructor(
    readonly code: "ELOOP",
    readonly root: string,
    readonly unsafePath: string,
  ) {
    super(`securejoin ${path.join(root, unsafePath)}: too many levels of symbolic links (${code})`);
    this.name = "SecureJoinError";
  }
}

/**
 * `unsafePath` resolved inside `root`, as an absolute path *inside* the root ("/" for the root
 * itself). This is the form the plan's mount DEST takes.
 */
export function resolveInRoot(root: string, unsafePath: string, vfs: JoinFS = hostFS): string {
  let current = ""; // resolved so far, "/a/b" form, free of symlinks and `..`
  let remaining = unsafePath;
  let links = 0;
  while (remaining !== "") {
    const slash = remaining.indexOf("/");
    const part = slash === -1 ? remaining : remaining.slice(0, slash);
    remaining = slash === -1 ? "" : remaining.slice(slash + 1);
    // `current` holds no symlinks, so applying one component lexically is exact.
    const next = path.posix.join("/", current, part);
    if (next === "/") {
      current = "";
      continue;
    }
    const full = root + next;
    if (!vfs.isSymlink(full)) {
      current = next;
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new SecureJoinError("ELOOP", root, unsafePath);
    const target = vfs.readlink(full);
    remaining = target + "/" + remaining;
    if (target.startsWith("/")) current = ""; // an absolute link starts again at the root
  }
  return path.posix.join("/", current);
}

/** `unsafePath` resolved inside `root`, as a host path (`root` + resolveInRoot). */
export function secureJoin(root: string, unsafePath: string, vfs: JoinFS = hostFS): string {
  const joined = path.posix.join(root, resolveInRoot(root, unsafePath, vfs));
  return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined;
}
