// NativeError: a failed system call in the native addon, naming the call and its errno
// (`pidfd_getfd: EBADF (bad file descriptor)`). The addon constructs it directly (native/index.ts
// registers the class with setErrorClass), so `instanceof NativeError` holds for every failure.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name] as [number, string]),
);

export class NativeError extends Error {
  /** The failed call, e.g. `pidfd_getfd` or `ioctl(SECCOMP_IOCTL_NOTIF_SEND)`. */
  readonly syscall: string;
  /** The Linux errno, positive (as in `os.constants.errno`). */
  readonly errno: number;
  /** Its symbolic name, e.g. `EBADF`. */
  readonly code: string;

  constructor(syscall: string, errno: number) {
    const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
    const description = getSystemErrorMap().get(-errno)?.[1];
    super(description ? `${syscall}: ${code} (${description})` : `${syscall}: ${code}`);
    this.name = 'NativeError';
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

/**
 * True for the error a seccomp notification answer gets when its target can no longer receive it
 * (the task died, or a signal interrupted the trapped syscall): ENOENT from the listener ioctls.
 */
export function isNotificationGone(err: unknown): boolean {
  return err instanceof NativeError && err.code === 'ENOENT' && err.syscall.startsWith('ioctl(SECCOMP');
}
