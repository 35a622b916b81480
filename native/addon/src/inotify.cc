// Close watches (inotify(7)) on the sentry's sockets: the app's close(2) is not trapped, yet the
// sentry must learn when the last reference to a connection's end or a listener goes. inotify on
// the socket's inode (through /proc/self/fd/N, which resolves to the sockfs inode) reports
// IN_CLOSE_WRITE/IN_CLOSE_NOWRITE from __fput, i.e. once, when the *last* reference to the open
// file is dropped (fsnotify_close); dup/fork copies and reads/writes raise nothing. The watch does
// not keep the file open, so the peer still sees the close at once.
#include <sys/inotify.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "common.h"

namespace tsor {

namespace {

// inotifyInit(): inotify_init1(IN_NONBLOCK | IN_CLOEXEC).
Napi::Value InotifyInit(const Napi::CallbackInfo& info) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), "inotify_init1", errno);
  return Napi::Number::New(info.Env(), fd);
}

// inotifyWatchClose(inotifyFd, fd): a watch for the last close of the file `fd` refers to; its
// watch descriptor. The same inode watched twice answers the same descriptor (inotify(7)).
Napi::Value InotifyWatchClose(const Napi::CallbackInfo& info) {
  int in = ArgFd(info, 0, "inotifyWatchClose", "inotifyFd");
  int fd = ArgFd(info, 1, "inotifyWatchClose");
  char path[48];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int wd = inotify_add_watch(in, path, IN_CLOSE);
  if (wd < 0) ThrowErrno(info.Env(), "inotify_add_watch", errno);
  return Napi::Number::New(info.Env(), wd);
}

// inotifyRmWatch(inotifyFd, wd): ends a watch (the watch pins the inode until then). EINVAL (the
// watch already went, e.g. its inode was unmounted) is not an error here.
void InotifyRmWatch(const Napi::CallbackInfo& info) {
  int in = ArgFd(info, 0, "inotifyRmWatch", "inotifyFd");
  int wd = static_cast<int>(ArgInt(info, 1, "inotifyRmWatch", "wd", 0, INT32_MAX));
  if (inotify_rm_watch(in, wd) != 0 && errno != EINVAL) ThrowErrno(info.Env(), "inotify_rm_watch", errno);
}

// inotifyRead(inotifyFd): the events queued now as an Int32Array of [wd, mask] pairs (empty if
// none); reads until EAGAIN.
Napi::Value InotifyRead(const Napi::CallbackInfo& info) {
  int in = ArgFd(info, 0, "inotifyRead", "inotifyFd");
  std::vector<int32_t> out;
  alignas(inotify_event) char buf[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
  for (;;) {
    ssize_t n;
    do {
      n = read(in, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      ThrowErrno(info.Env(), "read(inotify)", errno);
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      const inotify_event* ev = reinterpret_cast<const inotify_event*>(buf + off);
      out.push_back(ev->wd);
      out.push_back(static_cast<int32_t>(ev->mask));
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  Napi::Int32Array arr = Napi::Int32Array::New(info.Env(), out.size());
  if (!out.empty()) memcpy(arr.Data(), out.data(), out.size() * sizeof(int32_t));
  return arr;
}

}  // namespace

void InitInotify(Napi::Env env, Napi::Object exports) {
  exports.Set("inotifyInit", Napi::Function::New(env, InotifyInit, "inotifyInit"));
  exports.Set("inotifyWatchClose", Napi::Function::New(env, InotifyWatchClose, "inotifyWatchClose"));
  exports.Set("inotifyRmWatch", Napi::Function::New(env, InotifyRmWatch, "inotifyRmWatch"));
  exports.Set("inotifyRead", Napi::Function::New(env, InotifyRead, "inotifyRead"));
  Napi::Object c = exports.Get("constants").As<Napi::Object>();
  c.Set("IN_CLOSE_WRITE", Napi::Number::New(env, IN_CLOSE_WRITE));
  c.Set("IN_CLOSE_NOWRITE", Napi::Number::New(env, IN_CLOSE_NOWRITE));
  c.Set("IN_IGNORED", Napi::Number::New(env, IN_IGNORED));
  c.Set("IN_Q_OVERFLOW", Napi::Number::New(env, IN_Q_OVERFLOW));
}

}  // namespace tsor
