// The OS seam for cgroup management (STYLE item 7, after youki's Syscall trait): every file,
// directory, signal and wait the cgroup code needs goes through `CgroupFs`, so the v1 and v2
// logic runs against the in-memory `FakeCgroupFs` (fake-fs.ts) in unit tests and against the
// kernel's cgroupfs through `RealCgroupFs` in production and integration tests.
import * as fs from "node:fs";

/**
 * Every cgroup failure. The message names the operation, the file and the errno code, e.g.
 * `cgroup: write /sys/fs/cgroup/memory/tsor/x/memory.limit_in_bytes: EINVAL`.
 */
export class CgroupError extends Error {
  /** errno code ("EINVAL", "ENOENT", ...) when the failure came from the OS. */
  readonly code: string | undefined;
  /** The file or directory the failed operation was about. */
  readonly path: string | undefined;

  constructor(message: string, opts: { code?: string; path?: string; cause?: unknown } = {}) {
    super(message.startsWith("cgroup: ") ? message : `cgroup: ${message}`, { cause: opts.cause });
    this.name = "CgroupError";
    this.code = opts.code;
    this.path = opts.path;
  }

  /** The error for a failed OS operation `op` ("write", "mkdir", ...) on `path`. */
  static fromOs(op: string, path: string, code: string, cause?: unknown): CgroupError {
    return new CgroupError(`${op} ${path}: ${code}`, { code, path, cause });
  }
}

/** Is `err` a CgroupError carrying errno `code`? */
export function isCode(err: unknown, code: string): boolean {
  return err instanceof CgroupError && err.code === code;
}

/** One directory entry, as `readdir` returns them. */
export interface CgroupDirent {
  name: string;
  isDirectory: boolean;
}

/**
 * The OS operations the cgroup managers use. Paths are absolute. All failures throw a
 * `CgroupError` whose `code` is the errno name. Writes never create files (cgroupfs control
 * files exist or the controller is missing), and each `writeFile` is one write(2): callers
 * split multi-line values (device rules, io.max lines) into one call per line.
 */
export interface CgroupFs {
  readFile(path: string): string;
  writeFile(path: string, data: string): void;
  /** Create one directory level; throws EEXIST if it exists. */
  mkdir(path: string): void;
  rmdir(path: string): void;
  readdir(path: string): CgroupDirent[];
  exists(path: string): boolean;
  /** The text of /proc/self/mountinfo. */
  readMountinfo(): string;
  /** kill(2); throws ESRCH for a process that is gone. */
  kill(pid: number, signal: NodeJS.Signals | number): void;
  /** Wait; the fake resolves at once so polling loops run instantly in tests. */
  sleep(ms: number): Promise<void>;
}

function errnoCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : "EIO";
}

function wrap<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw CgroupError.fromOs(op, path, errnoCode(err), err);
  }
}

/** The real thing: node:fs against /sys/fs/cgroup, process.kill, setTimeout. */
export class RealCgroupFs implements CgroupFs {
  constructor(private readonly mountinfoPath = "/proc/self/mountinfo") {}

  readFile(path: string): string {
    return wrap("read", path, () => fs.readFileSync(path, "utf8"));
  }

  writeFile(path: string, data: string): void {
    wrap("write", path, () => {
      // O_WRONLY without O_CREAT/O_TRUNC: a missing control file is ENOENT, as in runc.
      const fd = fs.openSync(path, fs.constants.O_WRONLY);
      try {
        fs.writeSync(fd, data);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  mkdir(path: string): void {
    wrap("mkdir", path, () => fs.mkdirSync(path, { mode: 0o755 }));
  }

  rmdir(path: string): void {
    wrap("rmdir", path, () => fs.rmdirSync(path));
  }

  readdir(path: string): CgroupDirent[] {
    return wrap("readdir", path, () =>
      fs.readdirSync(path, { withFileTypes: true }).map((d) => ({ name: d.name, isDirectory: d.isDirectory() })),
    );
  }

  exists(path: string): boolean {
    return fs.existsSync(path);
  }

  readMountinfo(): string {
    return wrap("read", this.mountinfoPath, () => fs.readFileSync(this.mountinfoPath, "utf8"));
  }

  kill(pid: number, signal: NodeJS.Signals | number): void {
    wrap("kill", String(pid), () => process.kill(pid, signal));
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}
