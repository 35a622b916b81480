// The app's epoll instances, for a socket whose fd the sentry replaces (connect to a TSoR
// listener, connect(AF_UNSPEC) on a connection). Linux keys an epoll registration by the open
// file and its fd number (fs/eventpoll.c ep_find); an app that registers a socket before
// connecting it (nginx and Envoy do, for upstream connections) would go on watching the kernel
// socket the replacement closes, whose registration eventpoll_release then drops: no EPOLLOUT
// for the connection, no EPOLLIN for its bytes, and EPOLL_CTL_MOD/DEL fail ENOENT. So before the
// new file is installed, each of the process's epoll instances is asked whether it holds the old
// one under that number (kcmp KCMP_EPOLL_TFD: no listing), and one that does gets the same
// registration (events and data from its /proc fdinfo) for the new file.
//
// The epoll fds of a process are found by a scan of /proc/<pid>/fd, once, then kept: a trapped
// epoll_create/epoll_create1 (sys_epoll.ts) marks the process's list stale, and an fd of the
// list that is no longer an epoll instance (kcmp: EBADF, EINVAL) starts a new scan. A
// registration made through an epoll fd received over SCM_RIGHTS is not seen until then.
import * as fs from "node:fs";

import { native, NativeError } from "../../native/index.js";
import type { Task } from "../platform/platform.js";
import { E } from "../syscalls/linux.js";

/** Processes whose epoll fds are kept; past this many, all are forgotten (rescanned on use). */
const MAX_PROCESSES = 4096;

/** A registration as /proc/<pid>/fdinfo/<epfd> shows it (fs/eventpoll.c ep_show_fdinfo). */
export interface EpollRegistration {
  readonly events: number;
  readonly data: bigint;
}

/**
 * The registration of the file with inode `ino` under fd number `tfd` in an epoll instance's
 * fdinfo text, or null. Lines read "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x".
 */
export function findRegistration(fdinfo: string, tfd: number, ino: bigint): EpollRegistration | null {
  for (const m of fdinfo.matchAll(/^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*([0-9a-f]+)\s+pos:\S*\s+ino:([0-9a-f]+)/gm)) {
    if (Number(m[1]) === tfd && BigInt(`0x${m[4]}`) === ino) return { events: parseInt(m[2]!, 16), data: BigInt(`0x${m[3]}`) };
  }
  return null;
}

/** The fd numbers of `pid`'s epoll instances (its /proc fd links read "anon_inode:[eventpoll]"). */
function scanEpollFds(pid: number): number[] {
  const dir = `/proc/${pid}/fd`;
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out; // the process is gone
  }
  for (const name of names) {
    try {
      if (fs.readlinkSync(`${dir}/${name}`) === "anon_inode:[eventpoll]") out.push(Number(name));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

export class AppEpolls {
  /** By process: its epoll fd numbers, or absent (unknown or stale: scan on next use). */
  private readonly byProcess = new Map<number, number[]>();

  /** The process made an epoll instance (or may have): its list is rebuilt on next use. */
  created(tgid: number): void {
    this.byProcess.delete(tgid);
  }

  private epollFds(tgid: number, rescan: boolean): number[] {
    let fds = rescan ? undefined : this.byProcess.get(tgid);
    if (!fds) {
      if (this.byProcess.size >= MAX_PROCESSES) this.byProcess.clear();
      fds = scanEpollFds(tgid);
      this.byProcess.set(tgid, fds);
    }
    return fds;
  }

  /**
   * Before the task's fd `fd` (now the file `oldFile`, our copy, with inode `oldIno`) is replaced
   * by our `newFile`: every epoll instance of the process that holds the old file under `fd` gets
   * the same registration for the new one, and loses the old one, which would otherwise report
   * beside it for as long as the old file stays open (the sentry keeps a bound client's socket
   * for its port). Best effort: a failure is logged by the caller and the connection goes on
   * (the app then misses events, as it would without this).
   */
  carry(task: Task, fd: number, oldIno: bigint, oldFile: number, newFile: number): void {
    const asked = new Set<number>();
    for (let attempt = 0; attempt < 2; attempt++) {
      let stale = false;
      for (const epfd of this.epollFds(task.tgid, attempt > 0)) {
        if (asked.has(epfd)) continue;
        let holds: boolean;
        try {
          holds = native.epollHolds(task.tid, fd, epfd);
        } catch (e) {
          if (e instanceof NativeError && (e.errno === E.EBADF || e.errno === E.EINVAL)) {
            stale = true; // epfd closed, or now another file
            continue;
          }
          throw e;
        }
        asked.add(epfd);
        if (holds) this.move(task, epfd, fd, oldIno, oldFile, newFile);
      }
      if (!stale) return;
    }
  }

  private move(task: Task, epfd: number, fd: number, oldIno: bigint, oldFile: number, newFile: number): void {
    const reg = findRegistration(fs.readFileSync(`/proc/${task.tgid}/fdinfo/${epfd}`, "utf8"), fd, oldIno);
    if (!reg) return; // removed meanwhile (another thread's EPOLL_CTL_DEL)
    const ep = task.getFd(epfd);
    try {
      native.epollMoveAs(ep, oldFile, newFile, fd, reg.events, reg.data);
    } finally {
      native.closeFd(ep);
    }
  }
}
