// The app's epoll registrations of a socket whose fd the sentry replaces. connect() to a TSoR
// listener installs a socketpair end over the app's fd; an app that registered the socket with
// epoll *before* connecting (nginx's and Envoy's upstream connections) would keep watching the
// old file, which the replacement closes (eventpoll_release drops its registration), and never
// hear of the new one. The sentry finds such a registration (kcmp KCMP_EPOLL_TFD, as CRIU does)
// and adds the same one for the new file in the same epoll instance under the same fd number,
// so events, EPOLL_CTL_MOD and EPOLL_CTL_DEL keep working. The old file's registration goes too
// (EPOLL_CTL_DEL keyed the same way): the sentry may keep that file open (the port of a client
// that bound it), and it would go on reporting as a second registration of the fd.
//
// An epoll item is keyed by (file, fd number) (fs/eventpoll.c ep_find), and epoll_ctl takes the
// number from the caller's own fd table. The sentry's table has other files at the app's
// numbers, so the ADD runs on a thread with a private fd table (unshare(CLONE_FILES)) that holds
// nothing but what each request needs, placed at the app's number.
#include <linux/kcmp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common.h"

namespace tsor {

namespace {

// kcmp(2) KCMP_EPOLL_TFD: whether the epoll instance at `epfd` in `pid` holds the file at `fd`
// in `pid` under the number `fd`. Items with the same number (other files, e.g. a copy left
// behind by an earlier replacement) are told apart by their offset among them (toff).
// Returns 1 (it does), 0 (it does not); -errno when the question cannot be asked (EBADF: no such
// fd or epfd; EINVAL: epfd is not an epoll instance; ESRCH, EPERM, ENOSYS).
int EpollHoldsRaw(int pid, int fd, int epfd) {
  for (uint32_t toff = 0; toff < 64; toff++) {
    kcmp_epoll_slot slot{static_cast<uint32_t>(epfd), static_cast<uint32_t>(fd), toff};
    long r = syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, &slot);
    if (r == 0) return 1;
    if (r < 0) return errno == ENOENT ? 0 : -errno;
    // 1 or 2: another file under that number; look at the next one.
  }
  return 0;
}

// epollHolds(pid, fd, epfd): see EpollHoldsRaw; a question that cannot be asked throws
// NativeError("kcmp", errno).
Napi::Value EpollHolds(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "epollHolds");
  int fd = ArgFd(info, 1, "epollHolds");
  int epfd = ArgFd(info, 2, "epollHolds", "epfd");
  int r = EpollHoldsRaw(pid, fd, epfd);
  if (r < 0) ThrowErrno(info.Env(), "kcmp(KCMP_EPOLL_TFD)", -r);
  return Napi::Boolean::New(info.Env(), r == 1);
}

// The thread with a private fd table. Started on first use; it lives as long as the process (it
// holds no file between requests, so it keeps nothing open).
class PrivateFdThread {
 public:
  struct Request {
    int epfd, oldTarget, newTarget, tfd;  // all but tfd: fds in the process's (shared) table
    epoll_event ev;
  };

  static PrivateFdThread& Get() {
    static PrivateFdThread* instance = new PrivateFdThread();  // never destroyed: the thread may outlive statics
    return *instance;
  }

  // Runs `req` on the thread and waits; the failed call, if any.
  SysError Run(const Request& req) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (startError_) return startError_;
    pending_ = &req;
    done_ = false;
    cv_.notify_all();
    cv_.wait(lock, [this] { return done_; });
    pending_ = nullptr;
    return result_;
  }

 private:
  PrivateFdThread() {
    std::unique_lock<std::mutex> lock(mutex_);
    std::thread(&PrivateFdThread::Loop, this).detach();
    cv_.wait(lock, [this] { return started_; });
  }

  void Loop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Start();
      started_ = true;
    }
    cv_.notify_all();
    if (startError_) return;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return pending_ != nullptr && !done_; });
      result_ = Serve(*pending_);
      done_ = true;
      cv_.notify_all();
    }
  }

  // The private table starts as a copy of the process's: everything in it is closed (a copy
  // would keep the app's files open); the process's files are reached through a pidfd.
  void Start() {
    if (unshare(CLONE_FILES) != 0) return startError_.Set("unshare(CLONE_FILES)", errno);
    if (syscall(SYS_close_range, 0U, ~0U, 0U) != 0) return startError_.Set("close_range", errno);
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (pidfd_ < 0) startError_.Set("pidfd_open", errno);
  }

  // Moves `fd` (of this table) above `avoid` if it sits there.
  static int MoveOff(int fd, int avoid, SysError* err) {
    if (fd != avoid) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, avoid + 1);
    if (moved < 0) {
      err->Set("fcntl(F_DUPFD_CLOEXEC)", errno);
      return fd;
    }
    close(fd);
    return moved;
  }

  // Puts the process's file `target` at number `tfd` of this table (replacing what was there).
  SysError Place(int target, int tfd) {
    SysError err;
    // The target lands on the lowest free number, which may be tfd itself.
    int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd_, target, 0));
    if (fd < 0) {
      err.Set("pidfd_getfd", errno);
      return err;
    }
    if (fd != tfd) {
      int r = dup3(fd, tfd, O_CLOEXEC);
      int e = errno;
      close(fd);
      if (r < 0) err.Set("dup3", e);
    }
    return err;
  }

  // The new file's registration added under tfd, then the old file's deleted: EEXIST and ENOENT
  // mean another fd of the process names the same epoll instance, which has had it moved already.
  SysError Serve(const Request& req) {
    SysError err;
    pidfd_ = MoveOff(pidfd_, req.tfd, &err);
    if (err) return err;
    int ep = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd_, req.epfd, 0));
    if (ep < 0) {
      err.Set("pidfd_getfd", errno);
      return err;
    }
    ep = MoveOff(ep, req.tfd, &err);
    if (!err) err = Place(req.newTarget, req.tfd);
    epoll_event ev = req.ev;
    if (!err && epoll_ctl(ep, EPOLL_CTL_ADD, req.tfd, &ev) != 0 && errno != EEXIST) err.Set("epoll_ctl(EPOLL_CTL_ADD)", errno);
    if (!err) err = Place(req.oldTarget, req.tfd);
    if (!err && epoll_ctl(ep, EPOLL_CTL_DEL, req.tfd, nullptr) != 0 && errno != ENOENT) err.Set("epoll_ctl(EPOLL_CTL_DEL)", errno);
    close(req.tfd);
    close(ep);
    return err;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  bool started_ = false;
  SysError startError_;
  int pidfd_ = -1;
  const Request* pending_ = nullptr;
  bool done_ = false;
  SysError result_;
};

// epollMoveAs(epfd, oldFd, newFd, tfd, events, data): in the epoll instance of our `epfd`, the
// registration of our `oldFd`'s file under the fd number `tfd` (the app's) moves to our `newFd`'s
// file, with `events` and the 64-bit `data` the app's own registration had: one request to the
// private fd table for both epoll_ctl calls.
void EpollMoveAs(const Napi::CallbackInfo& info) {
  const char* fn = "epollMoveAs";
  PrivateFdThread::Request req{};
  req.epfd = ArgFd(info, 0, fn, "epfd");
  req.oldTarget = ArgFd(info, 1, fn, "oldFd");
  req.newTarget = ArgFd(info, 2, fn, "newFd");
  req.tfd = ArgFd(info, 3, fn, "tfd");
  req.ev.events = static_cast<uint32_t>(ArgInt(info, 4, fn, "events", 0, UINT32_MAX));
  req.ev.data.u64 = ArgU64(info, 5, fn, "data");
  SysError err = PrivateFdThread::Get().Run(req);
  if (err) ThrowErrno(info.Env(), err.syscall, err.err);
}

// edgeWatchFd(fd, events): an epoll instance of our own watching our `fd` for `events`,
// edge-triggered (EPOLLET): ep_poll_callback queues the item on each wake-up of `fd` that carries
// one of them, so the instance turns readable again for news (bytes beyond ones already waiting,
// a hang-up) even while `fd` stays readable, which a level-triggered poll cannot tell apart.
// Close-on-exec; the caller watches it (ReadableWatcher), drains it (edgeWatchDrain), closes it.
Napi::Value EdgeWatchFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "edgeWatchFd");
  uint32_t events = static_cast<uint32_t>(ArgInt(info, 1, "edgeWatchFd", "events", 1, 0xffff));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) ThrowErrno(info.Env(), "epoll_create1", errno);
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.fd = fd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = errno;
    close(ep);
    ThrowErrno(info.Env(), "epoll_ctl(EPOLL_CTL_ADD)", e);
  }
  return Napi::Number::New(info.Env(), ep);
}

// edgeWatchDrain(epfd): takes what an edgeWatchFd instance has queued (epoll_wait, no wait): the
// events, 0 if none; the instance is then quiet until the next wake-up.
Napi::Value EdgeWatchDrain(const Napi::CallbackInfo& info) {
  int ep = ArgFd(info, 0, "edgeWatchDrain", "epfd");
  epoll_event ev{};
  int r;
  do {
    r = epoll_wait(ep, &ev, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(info.Env(), "epoll_wait", errno);
  return Napi::Number::New(info.Env(), r == 0 ? 0 : ev.events);
}

}  // namespace

void InitEpoll(Napi::Env env, Napi::Object exports) {
  exports.Set("epollHolds", Napi::Function::New(env, EpollHolds, "epollHolds"));
  exports.Set("epollMoveAs", Napi::Function::New(env, EpollMoveAs, "epollMoveAs"));
  exports.Set("edgeWatchFd", Napi::Function::New(env, EdgeWatchFd, "edgeWatchFd"));
  exports.Set("edgeWatchDrain", Napi::Function::New(env, EdgeWatchDrain, "edgeWatchDrain"));
}

}  // namespace tsor
