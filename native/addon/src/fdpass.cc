// Unix sockets and fd passing: socketpair, sendFds, recvFds (on its own thread), int sockopts,
// (sockets in another network namespace: inet.cc).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "common.h"

namespace tsor {

namespace {

// The kernel's limit of fds in one SCM_RIGHTS message.
constexpr int64_t kMaxFdsPerMessage = 253;
// recvFds reads at most this much data in one message.
constexpr int64_t kMaxRecvData = 1 << 20;

// socketpair(type = SOCK_STREAM): AF_UNIX, both ends close-on-exec.
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int type = SOCK_STREAM;
  if (!info[0].IsUndefined()) {
    type = static_cast<int>(ArgInt(info, 0, "socketpair", "type", 0, INT32_MAX));
  }
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) {
    ThrowErrno(info.Env(), "socketpair", errno);
  }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, sv[0]);
  out.Set(1u, sv[1]);
  return out;
}

std::vector<int> ArgFdList(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!info[i].IsArray()) ThrowType(info.Env(), std::string(fn) + ": fds must be an array");
  Napi::Array arr = info[i].As<Napi::Array>();
  if (arr.Length() > kMaxFdsPerMessage) {
    ThrowType(info.Env(), std::string(fn) + ": at most 253 fds per message");
  }
  std::vector<int> fds;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= INT32_MAX && static_cast<int>(d) == d)) {
      ThrowType(info.Env(), std::string(fn) + ": fds[" + std::to_string(k) + "] must be an fd");
    }
    fds.push_back(static_cast<int>(d));
  }
  return fds;
}

// sendFds(sock, data, fds): one sendmsg with SCM_RIGHTS; returns the bytes sent. Blocks if the
// socket is blocking and full. A stream socket drops fds sent with no data, so data is required.
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  int sock = ArgFd(info, 0, "sendFds", "sock");
  Napi::Uint8Array data = ArgBytes(info, 1, "sendFds", "data");
  std::vector<int> fds = ArgFdList(info, 2, "sendFds");
  if (data.ByteLength() == 0) ThrowType(info.Env(), "sendFds: data must not be empty");
  iovec iov{data.Data(), data.ByteLength()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    size_t len = fds.size() * sizeof(int);
    control.assign(CMSG_SPACE(len), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), fds.data(), len);
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(info.Env(), "sendmsg", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

struct RecvResult {
  SysError error;
  std::vector<uint8_t> data;
  std::vector<int> fds;
  bool truncated = false;
  bool delivered = false;
  RecvResult() = default;
  RecvResult(RecvResult&& o) noexcept
      : error(o.error), data(std::move(o.data)), fds(std::move(o.fds)), truncated(o.truncated),
        delivered(o.delivered) {
    o.fds.clear();
  }
  ~RecvResult() {
    if (!delivered) {
      for (int fd : fds) close(fd);  // nobody will ever see them
    }
  }
};

// One message from `sock`: waits for it, or without `wait` reports EAGAIN as `*wouldBlock`.
RecvResult RecvOnce(int sock, size_t maxData, size_t maxFds, bool wait = true, bool* wouldBlock = nullptr) {
  RecvResult r;
  // Received into a buffer of this thread's, kept between calls: sizing r.data to maxData would
  // zero it each time (256 KiB for a netd message of ~200 bytes, most of a receive's cost).
  thread_local std::vector<uint8_t> scratch;
  if (scratch.size() < maxData) scratch.resize(maxData);
  std::vector<char> control(maxFds > 0 ? CMSG_SPACE(maxFds * sizeof(int)) : 0);
  for (;;) {
    iovec iov{scratch.data(), maxData};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.empty() ? nullptr : control.data();
    msg.msg_controllen = control.size();
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && !wait) {
        if (wouldBlock) *wouldBlock = true;
        return r;
      }
      if (errno == EAGAIN) {  // a non-blocking socket: wait here, on this thread
        pollfd p{sock, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) {
          r.error.Set("poll", errno);
            return r;
        }
        continue;
      }
      r.error.Set("recvmsg", errno);
      return r;
    }
    r.data.assign(scratch.data(), scratch.data() + n);
    r.truncated = (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const unsigned char* p = CMSG_DATA(c);
      for (size_t k = 0; k < count; k++) {
        int fd;
        memcpy(&fd, p + k * sizeof(int), sizeof(int));
        r.fds.push_back(fd);
      }
    }
    // CMSG_SPACE rounds up, so the kernel may pass more than asked: keep the promise of maxFds.
    while (r.fds.size() > maxFds) {
      close(r.fds.back());
      r.fds.pop_back();
      r.truncated = true;
    }
    return r;
  }
}

// {data, fds, truncated} as JS sees a received message (its fds are the caller's from now on).
Napi::Object RecvResultToJs(Napi::Env env, RecvResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, r.data.data(), r.data.size()));
  Napi::Array fds = Napi::Array::New(env, r.fds.size());
  for (size_t k = 0; k < r.fds.size(); k++) fds.Set(static_cast<uint32_t>(k), r.fds[k]);
  out.Set("fds", fds);
  out.Set("truncated", r.truncated);
  r.delivered = true;
  return out;
}

// recvFdsNow(sock, maxData, maxFds): one recvmsg(MSG_DONTWAIT) on this thread: the message
// ({data, fds, truncated}; empty data and no fds at EOF), or null if none waits. For a socket
// the event loop watches (ReadableWatcher): no thread and no hand-over per message, which
// recvFds pays (a thread made per call: ~100 µs a message on a small VM).
Napi::Value RecvFdsNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgFd(info, 0, "recvFdsNow", "sock");
  size_t maxData = static_cast<size_t>(ArgInt(info, 1, "recvFdsNow", "maxData", 1, kMaxRecvData));
  size_t maxFds = static_cast<size_t>(ArgInt(info, 2, "recvFdsNow", "maxFds", 0, kMaxFdsPerMessage));
  bool wouldBlock = false;
  RecvResult r = RecvOnce(sock, maxData, maxFds, false, &wouldBlock);
  if (wouldBlock) return env.Null();
  if (r.error) ThrowErrno(env, r.error.syscall, r.error.err);
  return RecvResultToJs(env, r);
}

// recvFds(sock, maxData, maxFds, cb(err, {data, fds, truncated})): one recvmsg on its own thread.
// EOF: data of length 0. Received fds are close-on-exec.
void RecvFds(const Napi::CallbackInfo& info) {
  int sock = ArgFd(info, 0, "recvFds", "sock");
  size_t maxData = static_cast<size_t>(ArgInt(info, 1, "recvFds", "maxData", 1, kMaxRecvData));
  size_t maxFds = static_cast<size_t>(ArgInt(info, 2, "recvFds", "maxFds", 0, kMaxFdsPerMessage));
  Napi::Function cb = ArgFunction(info, 3, "recvFds", "cb");
  RunOnThread<RecvResult>(
      info.Env(), cb, true, "tsor-recvfds",
      [sock, maxData, maxFds]() { return RecvOnce(sock, maxData, maxFds); },
      [](Napi::Env env, Napi::Function cb, RecvResult& r) {
        if (r.error) {
          CallbackSafely(cb, {MakeNativeError(env, r.error.syscall, r.error.err)});
          return;
        }
        Napi::Object out = RecvResultToJs(env, r);
        CallbackSafely(cb, {env.Null(), out});
      });
}

Napi::Value GetsockoptInt(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "getsockoptInt");
  int level = static_cast<int>(ArgInt(info, 1, "getsockoptInt", "level", 0, INT32_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "getsockoptInt", "name", 0, INT32_MAX));
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) != 0) ThrowErrno(info.Env(), "getsockopt", errno);
  return Napi::Number::New(info.Env(), value);
}

void SetsockoptInt(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "setsockoptInt");
  int level = static_cast<int>(ArgInt(info, 1, "setsockoptInt", "level", 0, INT32_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "setsockoptInt", "name", 0, INT32_MAX));
  int value = static_cast<int>(ArgInt(info, 3, "setsockoptInt", "value", INT32_MIN, INT32_MAX));
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    ThrowErrno(info.Env(), "setsockopt", errno);
  }
}

// recvNow(sock, maxData): one recv(MSG_DONTWAIT) on the calling thread, for data known to be
// there (it never waits for more): a Buffer (empty at EOF), or null if nothing
// waits (EAGAIN). Never blocks, whatever the socket's O_NONBLOCK.
Napi::Value RecvNow(const Napi::CallbackInfo& info) {
  int sock = ArgFd(info, 0, "recvNow", "sock");
  size_t maxData = static_cast<size_t>(ArgInt(info, 1, "recvNow", "maxData", 1, kMaxRecvData));
  std::vector<char> buf(maxData);
  ssize_t n;
  do {
    n = recv(sock, buf.data(), buf.size(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return info.Env().Null();
    ThrowErrno(info.Env(), "recv", errno);
  }
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), static_cast<size_t>(n));
}

// discardNow(sock, maxBytes, peek): what recv(MSG_TRUNC) does on a TCP socket, on a stream
// socket that would copy instead (a connection's socketpair end): consumes up to maxBytes of
// what waits now without handing them to anyone and returns how many; with `peek`, counts them
// (at most maxBytes, from the SO_PEEK_OFF offset if set, which then moves past them) and leaves
// them queued (SIOCINQ, unix_inq_len). 0 at EOF (or for maxBytes
// 0 with data waiting), -1 if nothing waits (EAGAIN). Never blocks. An error after some bytes
// went is left for the next call, as tcp_recvmsg returns what it copied first.
Napi::Value DiscardNow(const Napi::CallbackInfo& info) {
  int sock = ArgFd(info, 0, "discardNow", "sock");
  int64_t maxBytes = ArgInt(info, 1, "discardNow", "maxBytes", 0, INT32_MAX);
  bool peek = info.Length() > 2 && info[2].ToBoolean().Value();
  Napi::Env env = info.Env();
  auto recvRetry = [&](void* buf, size_t len, int flags) {
    ssize_t n;
    do {
      n = recv(sock, buf, len, flags | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n;
  };
  if (peek || maxBytes == 0) {
    // With SO_PEEK_OFF set, a peek starts at the offset and moves it past what it saw, as TCP's
    // does (tcp_recvmsg_locked: peek_seq, sk_peek_offset_fwd): the probe below moved it by one,
    // so it is set to where TCP leaves it. -1: not set (peeks start at the first unread byte).
    int off = -1;
    socklen_t offLen = sizeof off;
    if (getsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &off, &offLen) != 0) off = -1;
    char probe;
    ssize_t n = recvRetry(&probe, 1, MSG_PEEK);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
      ThrowErrno(env, "recv", errno);
      return env.Undefined();
    }
    auto setPeekOff = [&](int64_t to) {
      int v = static_cast<int>(to);
      if (setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &v, sizeof v) != 0) ThrowErrno(env, "setsockopt(SO_PEEK_OFF)", errno);
    };
    if (n == 0 || maxBytes == 0) {
      if (n > 0 && off >= 0) setPeekOff(off);  // len 0: nothing seen, nothing moves
      return Napi::Number::New(env, 0);
    }
    int queued = 0;
    if (ioctl(sock, FIONREAD, &queued) != 0) {
      ThrowErrno(env, "ioctl(FIONREAD)", errno);
      return env.Undefined();
    }
    int64_t seen = std::min<int64_t>(maxBytes, std::max<int64_t>(off >= 0 ? queued - off : queued, 1));
    if (off >= 0) setPeekOff(off + seen);
    return Napi::Number::New(env, static_cast<double>(seen));
  }
  static char scratch[64 * 1024];  // JS thread only: contents never read
  int64_t total = 0;
  while (total < maxBytes) {
    size_t want = static_cast<size_t>(std::min<int64_t>(maxBytes - total, sizeof scratch));
    ssize_t n = recvRetry(scratch, want, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, total > 0 ? static_cast<double>(total) : -1);
      if (total > 0) break;
      ThrowErrno(env, "recv", errno);
      return env.Undefined();
    }
    if (n == 0) break;
    total += n;
  }
  return Napi::Number::New(env, static_cast<double>(total));
}

// sendNow(sock, data): one send(MSG_DONTWAIT | MSG_NOSIGNAL) on the calling thread: the bytes
// sent (possibly fewer than asked), or -1 if the socket's buffer is full (EAGAIN). Never blocks.
Napi::Value SendNow(const Napi::CallbackInfo& info) {
  int sock = ArgFd(info, 0, "sendNow", "sock");
  Napi::Uint8Array data = ArgBytes(info, 1, "sendNow", "data");
  ssize_t n;
  do {
    n = send(sock, data.Data(), data.ByteLength(), MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), -1);
    ThrowErrno(info.Env(), "send", errno);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// new ReadableWatcher(fd): the event loop watches `fd` (uv_poll, not owned: never closed here;
// its O_NONBLOCK left as it was);
// start(onReadable) calls onReadable() on the JS thread whenever the fd is readable or hung up
// (the callback reads it, e.g. with recvNow, until EAGAIN), or onReadable(err) once if watching
// fails. stop() ends it (no call after it returns). ref()/unref() as for Node's handles.
// What a net.Socket on the fd would do for an EOF watch, without a stream per fd.
class ReadableWatcher : public Napi::ObjectWrap<ReadableWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ReadableWatcher",
                       {
                           InstanceMethod<&ReadableWatcher::Start>("start"),
                           InstanceMethod<&ReadableWatcher::Stop>("stop"),
                           InstanceMethod<&ReadableWatcher::RefLoop>("ref"),
                           InstanceMethod<&ReadableWatcher::UnrefLoop>("unref"),
                       });
  }

  explicit ReadableWatcher(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ReadableWatcher>(info), fd_(ArgFd(info, 0, "ReadableWatcher", "fd")) {}

  ~ReadableWatcher() override {
    (void)asyncContext_.release();  // the environment may be going: no N-API call here
    if (poll_ != nullptr) ClosePoll();
  }

 private:
  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Function cb = ArgFunction(info, 0, "ReadableWatcher.start", "onReadable");
    if (poll_ != nullptr) throw Napi::Error::New(env, "ReadableWatcher.start: already started");
    int err = 0;
    // uv_poll_init sets O_NONBLOCK, a flag of the open file: on a duplicate of the app's socket
    // that would change the app's own blocking mode. A poll watch needs no O_NONBLOCK; restored.
    int flags = fcntl(fd_, F_GETFL);
    if (flags < 0) ThrowErrno(env, "fcntl(F_GETFL)", errno);
    uv_poll_t* handle = StartLoopPoll(env, fd_, this, &ReadableWatcher::OnPoll, keepAlive_, &err);
    if (handle == nullptr) ThrowErrno(env, "uv_poll_start", -err);
    if (fcntl(fd_, F_SETFL, flags) != 0) {
      int e = errno;
      CloseLoopPoll(handle);
      ThrowErrno(env, "fcntl(F_SETFL)", e);
    }
    poll_ = handle;
    env_ = env;
    if (!asyncContext_) asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "tsor-readable");
    onReadable_ = Napi::Persistent(cb);
    Ref();
  }

  void Stop(const Napi::CallbackInfo&) { Finish(); }

  void Finish() {
    if (poll_ == nullptr) return;
    ClosePoll();
    Unref();
  }

  void ClosePoll() {
    uv_poll_t* handle = poll_;
    poll_ = nullptr;
    CloseLoopPoll(handle);
  }

  static void OnPoll(uv_poll_t* handle, int status, int) {
    ReadableWatcher* self = static_cast<ReadableWatcher*>(handle->data);
    if (self == nullptr || self->poll_ != handle) return;
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    self->Ref();
    Napi::FunctionReference cb;
    napi_value argv[1];
    size_t argc = 0;
    if (status < 0) {
      argv[0] = MakeNativeError(env, "poll", -status);
      argc = 1;
      cb = std::move(self->onReadable_);
      self->Finish();
    }
    Napi::Function fn = status < 0 ? cb.Value() : self->onReadable_.Value();
    CallFromLoop(env, *self->asyncContext_, fn, argc, argv);
    self->Unref();
  }

  void RefLoop(const Napi::CallbackInfo&) {
    keepAlive_ = true;
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  }

  void UnrefLoop(const Napi::CallbackInfo&) {
    keepAlive_ = false;
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }

  int fd_;
  uv_poll_t* poll_ = nullptr;
  bool keepAlive_ = true;
  napi_env env_ = nullptr;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  Napi::FunctionReference onReadable_;
};

}  // namespace

void InitFdPass(Napi::Env env, Napi::Object exports) {
  exports.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("recvFdsNow", Napi::Function::New(env, RecvFdsNow, "recvFdsNow"));
  exports.Set("recvNow", Napi::Function::New(env, RecvNow, "recvNow"));
  exports.Set("discardNow", Napi::Function::New(env, DiscardNow, "discardNow"));
  exports.Set("sendNow", Napi::Function::New(env, SendNow, "sendNow"));
  exports.Set("ReadableWatcher", ReadableWatcher::Define(env));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetsockoptInt, "getsockoptInt"));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt, "setsockoptInt"));
  TSOR_CONSTANT(exports, AF_UNIX);
  TSOR_CONSTANT(exports, AF_INET);
  TSOR_CONSTANT(exports, AF_INET6);
  TSOR_CONSTANT(exports, SOCK_STREAM);
  TSOR_CONSTANT(exports, SOCK_DGRAM);
  TSOR_CONSTANT(exports, SOCK_SEQPACKET);
  TSOR_CONSTANT(exports, SOCK_NONBLOCK);
  TSOR_CONSTANT(exports, SOCK_CLOEXEC);
  TSOR_CONSTANT(exports, SOL_SOCKET);
  TSOR_CONSTANT(exports, SO_REUSEADDR);
  TSOR_CONSTANT(exports, SO_REUSEPORT);
  TSOR_CONSTANT(exports, SO_KEEPALIVE);
  TSOR_CONSTANT(exports, SO_RCVBUF);
  TSOR_CONSTANT(exports, SO_SNDBUF);
  TSOR_CONSTANT(exports, SO_RCVLOWAT);
  TSOR_CONSTANT(exports, SO_SNDLOWAT);
  TSOR_CONSTANT(exports, SO_BROADCAST);
  TSOR_CONSTANT(exports, SO_OOBINLINE);
  TSOR_CONSTANT(exports, SO_ERROR);
  TSOR_CONSTANT(exports, SO_DOMAIN);
  TSOR_CONSTANT(exports, SO_TYPE);
  TSOR_CONSTANT(exports, SO_PROTOCOL);
  TSOR_CONSTANT(exports, SO_ACCEPTCONN);
  TSOR_CONSTANT(exports, IPPROTO_IP);
  TSOR_CONSTANT(exports, IPPROTO_IPV6);
  TSOR_CONSTANT(exports, IPPROTO_TCP);
  TSOR_CONSTANT(exports, IPV6_V6ONLY);
  TSOR_CONSTANT(exports, TCP_NODELAY);
  TSOR_CONSTANT(exports, TCP_CORK);
  TSOR_CONSTANT(exports, TCP_KEEPIDLE);
  TSOR_CONSTANT(exports, TCP_KEEPINTVL);
  TSOR_CONSTANT(exports, TCP_KEEPCNT);
  TSOR_CONSTANT(exports, TCP_QUICKACK);
  TSOR_CONSTANT(exports, TCP_DEFER_ACCEPT);
  TSOR_CONSTANT(exports, TCP_USER_TIMEOUT);
}

}  // namespace tsor
