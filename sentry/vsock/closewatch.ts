// When the app lets go of a socket the sentry took over: close(2) is not trapped (it is among the
// most frequent syscalls, and a trap on it would cost every file an app opens), so the sentry
// watches the socket's inode with inotify(7) instead. IN_CLOSE_WRITE/IN_CLOSE_NOWRITE come from
// __fput (fsnotify_close), once, when the *last* reference to the open file goes: the app's final
// close, its exit, an exec that drops a close-on-exec fd, whichever process held the last copy.
// dup/fork/SCM_RIGHTS copies keep it open and raise nothing, and the watch itself holds no
// reference, so the peer sees the close exactly when it would without TSoR.
import { native, type ReadableWatcher } from "../../native/index.js";

/** What a close watch reports to. */
export type OnLastClose = () => void;

/**
 * Watches whose close was reported are removed in batches, this many at most or this long after
 * the first, not one by one: removing an inode's last mark frees its fsnotify connector through
 * a workqueue (fsnotify_put_mark -> queue_work), and a kworker woken on another vCPU per
 * connection cost connect() ~10 µs (a 4000-connect probe, five alternating runs each: median
 * 87.5 -> 77 µs). A watch kept a little longer only pins the closed socket's inode (and its
 * number) that long.
 */
const REMOVE_BATCH = 128;
const REMOVE_DELAY_MS = 20;

export class CloseWatcher {
  private readonly fd: number;
  private readonly watcher: ReadableWatcher;
  private readonly byWd = new Map<number, OnLastClose>();
  /** Reported watches not yet removed (flushRemovals). */
  private readonly reported: number[] = [];
  private removalTimer: NodeJS.Timeout | null = null;
  private disposed = false;

  /** Throws a NativeError if inotify is not available (e.g. EMFILE: fs.inotify.max_user_instances). */
  constructor(private readonly onError: (err: Error) => void = () => {}) {
    this.fd = native.inotifyInit();
    this.watcher = new native.ReadableWatcher(this.fd);
    this.watcher.start((err) => (err ? this.onError(err) : this.poll()));
    // Watches never keep the sentry alive on their own.
    this.watcher.unref();
  }

  /** How many files are watched. */
  get size(): number {
    return this.byWd.size;
  }

  /**
   * Calls `onClose` once when the last reference to the file `fd` refers to is dropped (the
   * sentry's own `fd` counts: close it after handing the file to the app). Returns the watch,
   * for `unwatch`. Watching a file twice replaces the first callback (inotify answers the same
   * watch descriptor for the same inode).
   */
  watch(fd: number, onClose: OnLastClose): number {
    const wd = native.inotifyWatchClose(this.fd, fd);
    this.byWd.set(wd, onClose);
    return wd;
  }

  /**
   * Gives a watch another callback (the sentry still cares about the file's close, for another
   * reason); false if that watch is not active (reported, ended, or never made).
   */
  rewatch(wd: number, onClose: OnLastClose): boolean {
    if (!this.byWd.has(wd)) return false;
    this.byWd.set(wd, onClose);
    return true;
  }

  /** Ends a watch without calling it (the sentry forgot the socket for another reason). */
  unwatch(wd: number): void {
    if (!this.byWd.delete(wd) || this.disposed) return;
    native.inotifyRmWatch(this.fd, wd);
  }

  /**
   * Reports the closes queued now (the event loop also does, when the inotify fd is readable).
   * A close(2) the app has returned from has queued its event: __fput runs before the syscall
   * returns to user space (task_work), so polling at a trap sees every earlier close of the task.
   */
  poll(): void {
    const c = native.constants;
    let events: Int32Array;
    try {
      events = native.inotifyRead(this.fd);
    } catch (e) {
      this.onError(e as Error);
      return;
    }
    for (let i = 0; i + 1 < events.length; i += 2) {
      const wd = events[i]!;
      const mask = events[i + 1]!;
      if (mask & c.IN_Q_OVERFLOW) {
        // The kernel dropped events (the queue holds fs.inotify.max_queued_events): whoever
        // relies on this watcher must look for itself.
        this.onError(new Error("inotify queue overflowed: close events were lost"));
        continue;
      }
      if (!(mask & (c.IN_CLOSE_WRITE | c.IN_CLOSE_NOWRITE))) continue;
      const onClose = this.byWd.get(wd);
      if (!onClose) continue;
      this.byWd.delete(wd);
      // The watch pins the inode (and so its number) until it is removed.
      this.removeLater(wd);
      onClose();
    }
  }

  /** How many reported watches wait for removal. */
  get pendingRemovals(): number {
    return this.reported.length;
  }

  private removeLater(wd: number): void {
    this.reported.push(wd);
    if (this.reported.length >= REMOVE_BATCH) return this.flushRemovals();
    this.removalTimer ??= setTimeout(() => this.flushRemovals(), REMOVE_DELAY_MS).unref();
  }

  /** Removes every reported watch now. */
  flushRemovals(): void {
    if (this.removalTimer) clearTimeout(this.removalTimer);
    this.removalTimer = null;
    if (this.disposed) return;
    for (const wd of this.reported.splice(0)) {
      try {
        native.inotifyRmWatch(this.fd, wd);
      } catch {
        // No event is lost (this watch has reported): it stays on its closed socket until
        // dispose closes the inotify fd.
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.removalTimer) clearTimeout(this.removalTimer);
    this.removalTimer = null;
    // Closing the inotify fd removes every watch, reported or not.
    this.reported.length = 0;
    this.watcher.stop();
    this.byWd.clear();
    native.closeFd(this.fd);
  }
}
