// Unix-domain listening and connecting sockets for tsor-netd's API (a SOCK_SEQPACKET socket whose
// messages carry fds with SCM_RIGHTS): unixListen, unixAccept (on its own thread), unixConnect,
// peerCred (SO_PEERCRED) and shutdownFd (wakes the threads waiting on a socket before it is
// closed: closing an fd does not wake a poll() on it).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "common.h"

namespace tsor {

namespace {

// Fills `addr` for `path`; a leading '@' names an abstract socket (as ss(8) prints them). Returns
// the address length, or 0 if the path does not fit sun_path.
socklen_t UnixAddress(const std::string& path, sockaddr_un* addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  bool abstract = !path.empty() && path[0] == '@';
  // A filesystem path needs its NUL terminator inside sun_path; an abstract name does not.
  size_t room = sizeof(addr->sun_path) - (abstract ? 0 : 1);
  if (path.empty() || path.size() > room) return 0;
  memcpy(addr->sun_path, path.data(), path.size());
  if (abstract) addr->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
}

int ArgSocketType(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info[i].IsUndefined()) return SOCK_SEQPACKET;
  return static_cast<int>(ArgInt(info, i, fn, "type", 0, INT32_MAX));
}

// unixListen(path, type = SOCK_SEQPACKET, backlog = 128): a bound, listening, non-blocking,
// close-on-exec AF_UNIX socket. The caller removes a stale socket file first ('@name': abstract).
Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "unixListen", "path");
  int type = ArgSocketType(info, 1, "unixListen");
  int backlog = info[2].IsUndefined() ? 128 : static_cast<int>(ArgInt(info, 2, "unixListen", "backlog", 1, 65535));
  sockaddr_un addr;
  socklen_t len = UnixAddress(path, &addr);
  if (len == 0) ThrowErrno(info.Env(), "bind", ENAMETOOLONG);
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowErrno(info.Env(), "socket", errno);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int e = errno;
    close(fd);
    ThrowErrno(info.Env(), "bind", e);
  }
  if (listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    ThrowErrno(info.Env(), "listen", e);
  }
  return Napi::Number::New(info.Env(), fd);
}

// unixConnect(path, type = SOCK_SEQPACKET): a connected close-on-exec socket (blocking; a unix
// connect does not wait for the peer to accept, only for room in its backlog). ENOENT: no socket
// file; ECONNREFUSED: nobody listens on it.
Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "unixConnect", "path");
  int type = ArgSocketType(info, 1, "unixConnect");
  sockaddr_un addr;
  socklen_t len = UnixAddress(path, &addr);
  if (len == 0) ThrowErrno(info.Env(), "connect", ENAMETOOLONG);
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), "socket", errno);
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int e = errno;
    close(fd);
    ThrowErrno(info.Env(), "connect", e);
  }
  return Napi::Number::New(info.Env(), fd);
}

struct AcceptResult {
  SysError error;
  int fd = -1;
  bool delivered = false;
  AcceptResult() = default;
  AcceptResult(AcceptResult&& o) noexcept : error(o.error), fd(o.fd), delivered(o.delivered) { o.fd = -1; }
  ~AcceptResult() {
    if (!delivered && fd >= 0) close(fd);  // nobody will ever see it
  }
};

// Waits with poll on the (non-blocking) listening socket, then accept4. A listening socket that
// was shut down (shutdownFd) reports POLLHUP and nothing to accept: EINVAL, as accept(2) on a
// socket that is not listening.
AcceptResult AcceptOnce(int sock) {
  AcceptResult r;
  for (;;) {
    pollfd p{sock, POLLIN, 0};
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      r.error.Set("poll", errno);
      return r;
    }
    if (p.revents & POLLNVAL) {
      r.error.Set("poll", EBADF);
      return r;
    }
    int fd = accept4(sock, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      r.fd = fd;
      return r;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN) {
      if (p.revents & (POLLHUP | POLLERR)) {
        r.error.Set("accept4", EINVAL);
        return r;
      }
      continue;
    }
    r.error.Set("accept4", errno);
    return r;
  }
}

// unixAccept(sock, cb(err, fd)): one accept on its own thread; the new fd is close-on-exec and
// blocking. Keeps the event loop alive until it reports; shutdownFd(sock) ends the wait (EINVAL).
void UnixAccept(const Napi::CallbackInfo& info) {
  int sock = ArgFd(info, 0, "unixAccept", "sock");
  Napi::Function cb = ArgFunction(info, 1, "unixAccept", "cb");
  RunOnThread<AcceptResult>(
      info.Env(), cb, true, "tsor-accept", [sock]() { return AcceptOnce(sock); },
      [](Napi::Env env, Napi::Function cb, AcceptResult& r) {
        if (r.error) {
          CallbackSafely(cb, {MakeNativeError(env, r.error.syscall, r.error.err)});
          return;
        }
        r.delivered = true;
        CallbackSafely(cb, {env.Null(), Napi::Number::New(env, r.fd)});
      });
}

// peerCred(sock): SO_PEERCRED, the pid/uid/gid of the peer when it connected (or made the pair).
Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "peerCred");
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    ThrowErrno(info.Env(), "getsockopt(SO_PEERCRED)", errno);
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("pid", cred.pid);
  out.Set("uid", cred.uid);
  out.Set("gid", cred.gid);
  return out;
}

// shutdownFd(sock): shutdown(SHUT_RDWR). Wakes a recvFds or unixAccept waiting on the socket (they
// report EOF or EINVAL); only then is it safe to close. ENOTCONN is not an error.
void ShutdownFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "shutdownFd");
  if (shutdown(fd, SHUT_RDWR) != 0 && errno != ENOTCONN) ThrowErrno(info.Env(), "shutdown", errno);
}

}  // namespace

void InitUnix(Napi::Env env, Napi::Object exports) {
  exports.Set("unixListen", Napi::Function::New(env, UnixListen, "unixListen"));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect, "unixConnect"));
  exports.Set("unixAccept", Napi::Function::New(env, UnixAccept, "unixAccept"));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred"));
  exports.Set("shutdownFd", Napi::Function::New(env, ShutdownFd, "shutdownFd"));
}

}  // namespace tsor
