// Plain socket calls on fds the sentry holds (its duplicates of the app's TCP sockets, and the
// doorbell sockets it makes in the pod's netns): listen, a non-blocking accept, a non-blocking
// connect, names, raw socket options and a zero-timeout poll. All run on the calling thread and
// never block; each failure is a NativeError naming the syscall and errno.
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace tsor {

namespace {

// The largest sockaddr and option value passed through (sockaddr_storage; TCP_INFO fits).
constexpr size_t kMaxOptLen = 512;

Napi::Buffer<char> SockaddrBuffer(Napi::Env env, const sockaddr_storage& ss, socklen_t len) {
  if (len > sizeof(ss)) len = sizeof(ss);
  return Napi::Buffer<char>::Copy(env, reinterpret_cast<const char*>(&ss), len);
}

// listen(fd, backlog).
void Listen(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "listen");
  int backlog = static_cast<int>(ArgInt(info, 1, "listen", "backlog", INT32_MIN, INT32_MAX));
  if (listen(fd, backlog) != 0) ThrowErrno(info.Env(), "listen", errno);
}

// bind(fd, sockaddr).
void Bind(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "bind");
  Napi::Uint8Array addr = ArgBytes(info, 1, "bind", "sockaddr");
  if (bind(fd, reinterpret_cast<const sockaddr*>(addr.Data()), static_cast<socklen_t>(addr.ByteLength())) != 0) {
    ThrowErrno(info.Env(), "bind", errno);
  }
}

// acceptNow(fd): accept4(SOCK_CLOEXEC) with MSG_DONTWAIT semantics: { fd, addr } or null (EAGAIN).
// The listener's own O_NONBLOCK is the app's and is left alone: readiness is checked by poll first.
Napi::Value AcceptNow(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "acceptNow");
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(info.Env(), "poll", errno);
  if (r == 0) return info.Env().Null();
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int c;
  do {
    c = accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } while (c < 0 && errno == EINTR);
  if (c < 0) {
    // Another thread of the app took it first, or the listener has an error to report.
    if (errno == EAGAIN || errno == EWOULDBLOCK) return info.Env().Null();
    ThrowErrno(info.Env(), "accept4", errno);
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("fd", Napi::Number::New(info.Env(), c));
  out.Set("addr", SockaddrBuffer(info.Env(), ss, len));
  return out;
}

// connectNow(fd, sockaddr): connect(2) on a non-blocking socket: 0 (connected), or the errno it
// answered (EINPROGRESS, ECONNREFUSED, ...) as a positive number; never throws for the connect.
Napi::Value ConnectNow(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "connectNow");
  Napi::Uint8Array addr = ArgBytes(info, 1, "connectNow", "sockaddr");
  int r;
  do {
    r = connect(fd, reinterpret_cast<const sockaddr*>(addr.Data()), static_cast<socklen_t>(addr.ByteLength()));
  } while (r < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), r == 0 ? 0 : errno);
}

Napi::Value Name(const Napi::CallbackInfo& info, bool peer) {
  const char* fn = peer ? "getpeername" : "getsockname";
  int fd = ArgFd(info, 0, fn);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) ThrowErrno(info.Env(), fn, errno);
  return SockaddrBuffer(info.Env(), ss, len);
}

Napi::Value Getsockname(const Napi::CallbackInfo& info) { return Name(info, false); }
Napi::Value Getpeername(const Napi::CallbackInfo& info) { return Name(info, true); }

// getsockoptBuf(fd, level, name, maxLen): the value's bytes (as long as the kernel answered).
Napi::Value GetsockoptBuf(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "getsockoptBuf");
  int level = static_cast<int>(ArgInt(info, 1, "getsockoptBuf", "level", 0, INT32_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "getsockoptBuf", "name", 0, INT32_MAX));
  socklen_t len = static_cast<socklen_t>(ArgInt(info, 3, "getsockoptBuf", "maxLen", 0, kMaxOptLen));
  std::vector<char> buf(len > 0 ? len : 1);
  if (getsockopt(fd, level, name, buf.data(), &len) != 0) ThrowErrno(info.Env(), "getsockopt", errno);
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), len);
}

// copySocketOptions(from, to, options): for each [level, name, default] triple of `options` (an
// Int32Array, flat), the value `from` holds, set on `to` unless it is what a new socket holds:
// `default` for an int-sized value (SO_PEEK_OFF -1, SO_RCVLOWAT 1, a flag 0), all zero bytes for
// a longer one (a timeout; its default must be 0). One call instead of a getsockopt and a
// setsockopt crossing into JS per option, on every connection the sentry makes. Returns how many
// were set; an option either socket refuses is skipped (the caller's copy is best effort).
Napi::Value CopySocketOptions(const Napi::CallbackInfo& info) {
  const char* fn = "copySocketOptions";
  int from = ArgFd(info, 0, fn, "from");
  int to = ArgFd(info, 1, fn, "to");
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowType(info.Env(), std::string(fn) + ": options must be an Int32Array of [level, name, default] triples");
  }
  Napi::Int32Array options = info[2].As<Napi::Int32Array>();
  if (options.ElementLength() % 3 != 0) ThrowType(info.Env(), std::string(fn) + ": options must hold [level, name, default] triples");
  int copied = 0;
  for (size_t i = 0; i + 2 < options.ElementLength(); i += 3) {
    char value[64];
    socklen_t len = sizeof(value);
    if (getsockopt(from, options[i], options[i + 1], value, &len) != 0) continue;
    bool fresh;
    if (len == sizeof(int)) {
      int v;
      memcpy(&v, value, sizeof v);
      fresh = v == options[i + 2];
    } else {
      fresh = true;
      for (socklen_t k = 0; k < len && fresh; k++) fresh = value[k] == 0;
    }
    if (fresh) continue;
    if (setsockopt(to, options[i], options[i + 1], value, len) == 0) copied++;
  }
  return Napi::Number::New(info.Env(), copied);
}

// setsockoptBuf(fd, level, name, value): setsockopt with the value's bytes as given.
void SetsockoptBuf(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "setsockoptBuf");
  int level = static_cast<int>(ArgInt(info, 1, "setsockoptBuf", "level", 0, INT32_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "setsockoptBuf", "name", 0, INT32_MAX));
  Napi::Uint8Array value = ArgBytes(info, 3, "setsockoptBuf", "value");
  if (setsockopt(fd, level, name, value.Data(), static_cast<socklen_t>(value.ByteLength())) != 0) {
    ThrowErrno(info.Env(), "setsockopt", errno);
  }
}

// pollNow(fd, events): poll(2) with a zero timeout: the revents (0 if none).
Napi::Value PollNow(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "pollNow");
  int events = static_cast<int>(ArgInt(info, 1, "pollNow", "events", 0, 0xffff));
  pollfd p{fd, static_cast<short>(events), 0};
  int r;
  do {
    r = poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(info.Env(), "poll", errno);
  return Napi::Number::New(info.Env(), r == 0 ? 0 : p.revents);
}

// closeReset(fd): SO_LINGER {1, 0} then close: a TCP socket sends RST and leaves no TIME_WAIT
// (tcp_close with linger 0 -> tcp_disconnect), for the sentry's doorbell connections.
void CloseReset(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "closeReset");
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));  // best effort: a non-TCP fd just closes
  if (close(fd) != 0 && errno != EINTR) ThrowErrno(info.Env(), "close", errno);
}

// `count` close-on-exec sockets created inside the netns at `path` on one short-lived thread:
// setns(CLONE_NEWNET) changes only the calling thread, and the fd table is shared, so the sockets
// (which stay in the namespace they were created in) are usable from every thread.
std::vector<int> SocketsIn(Napi::Env env, const std::string& path, int domain, int type, int protocol, int count) {
  SysError error;
  std::vector<int> fds;
  std::thread([&]() {
    int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      error.Set("open", errno);
      return;
    }
    if (setns(ns, CLONE_NEWNET) != 0) {
      error.Set("setns", errno);
    } else {
      for (int i = 0; i < count; i++) {
        int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
        if (fd < 0) {
          error.Set("socket", errno);
          break;
        }
        fds.push_back(fd);
      }
    }
    close(ns);
  }).join();
  if (error) {
    for (int fd : fds) close(fd);
    ThrowErrno(env, error.syscall, error.err);
  }
  return fds;
}

// loopbackNetns(mtu): a new network namespace (unshare(CLONE_NEWNET) on a short-lived thread)
// whose lo is up with MTU `mtu`, as an fd (close-on-exec; the namespace lives while it is open).
// A TCP connection over it shows what one over an interface of that MTU shows (MSS, window,
// buffers: tcp_info), with none of the pod's interfaces touched. Needs CAP_SYS_ADMIN.
Napi::Value LoopbackNetns(const Napi::CallbackInfo& info) {
  int mtu = static_cast<int>(ArgInt(info, 0, "loopbackNetns", "mtu", 68, 65536));
  SysError error;
  int nsfd = -1;
  std::thread([&]() {
    if (unshare(CLONE_NEWNET) != 0) {
      error.Set("unshare(CLONE_NEWNET)", errno);
      return;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      error.Set("socket", errno);
      return;
    }
    ifreq ifr{};
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    ifr.ifr_mtu = mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) != 0) {
      error.Set("ioctl(SIOCSIFMTU)", errno);
    } else if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
      error.Set("ioctl(SIOCGIFFLAGS)", errno);
    } else {
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) error.Set("ioctl(SIOCSIFFLAGS)", errno);
    }
    close(s);
    if (error) return;
    nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) error.Set("open(/proc/thread-self/ns/net)", errno);
  }).join();
  if (error) ThrowErrno(info.Env(), error.syscall, error.err);
  return Napi::Number::New(info.Env(), nsfd);
}

// socketInNetns(netnsPath, domain, type, protocol): one socket in the netns.
Napi::Value SocketInNetns(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "socketInNetns", "netnsPath");
  int domain = static_cast<int>(ArgInt(info, 1, "socketInNetns", "domain", 0, INT32_MAX));
  int type = static_cast<int>(ArgInt(info, 2, "socketInNetns", "type", 0, INT32_MAX));
  int protocol = static_cast<int>(ArgInt(info, 3, "socketInNetns", "protocol", 0, INT32_MAX));
  return Napi::Number::New(info.Env(), SocketsIn(info.Env(), path, domain, type, protocol, 1)[0]);
}

// socketsInNetns(netnsPath, domain, type, protocol, count): a pool of sockets for one thread's cost.
Napi::Value SocketsInNetns(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "socketsInNetns", "netnsPath");
  int domain = static_cast<int>(ArgInt(info, 1, "socketsInNetns", "domain", 0, INT32_MAX));
  int type = static_cast<int>(ArgInt(info, 2, "socketsInNetns", "type", 0, INT32_MAX));
  int protocol = static_cast<int>(ArgInt(info, 3, "socketsInNetns", "protocol", 0, INT32_MAX));
  int count = static_cast<int>(ArgInt(info, 4, "socketsInNetns", "count", 1, 1024));
  std::vector<int> fds = SocketsIn(info.Env(), path, domain, type, protocol, count);
  Napi::Array out = Napi::Array::New(info.Env(), fds.size());
  for (size_t i = 0; i < fds.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), fds[i]));
  return out;
}

// inspectTcp(fd): what connect(2) needs to know of a socket in one crossing: null unless it is an
// AF_INET/AF_INET6 TCP socket, else { domain, state (TCP_INFO's tcpi_state), v6only, name
// (getsockname) }. ENOTSOCK and other kinds of fd answer null too (the kernel will say it).
Napi::Value InspectTcp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "inspectTcp");
  int proto = 0, domain = 0;
  socklen_t len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0 || proto != IPPROTO_TCP) return env.Null();
  len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || (domain != AF_INET && domain != AF_INET6)) {
    return env.Null();
  }
  uint8_t state = 0;
  len = sizeof(state);  // tcp_info's first byte is tcpi_state; getsockopt truncates
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &state, &len) != 0) ThrowErrno(env, "getsockopt(TCP_INFO)", errno);
  int v6only = 0;
  if (domain == AF_INET6) {
    len = sizeof(int);
    if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) != 0) ThrowErrno(env, "getsockopt(IPV6_V6ONLY)", errno);
  }
  sockaddr_storage ss{};
  socklen_t slen = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &slen) != 0) ThrowErrno(env, "getsockname", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("domain", Napi::Number::New(env, domain));
  out.Set("state", Napi::Number::New(env, state));
  out.Set("v6only", Napi::Boolean::New(env, v6only != 0));
  out.Set("name", SockaddrBuffer(env, ss, slen));
  return out;
}

// fdinfoFlags(pid, fd): the `flags:` field of /proc/<pid>/fdinfo/<fd> (octal: the file's status
// flags, with O_CLOEXEC for the fd's close-on-exec), or -1 if the fd or process is gone. One
// open/read/close here instead of a JS file read on the trap path.
Napi::Value FdinfoFlags(const Napi::CallbackInfo& info) {
  int pid = static_cast<int>(ArgInt(info, 0, "fdinfoFlags", "pid", 0, INT32_MAX));
  int fd = ArgFd(info, 1, "fdinfoFlags");
  char path[64];
  if (pid == 0) snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  else snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return Napi::Number::New(info.Env(), -1);
  char buf[256];
  ssize_t n;
  do {
    n = read(f, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  close(f);
  if (n <= 0) return Napi::Number::New(info.Env(), -1);
  buf[n] = 0;
  const char* line = strstr(buf, "flags:");
  if (line == nullptr) return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), static_cast<double>(strtoul(line + 6, nullptr, 8)));
}

}  // namespace

void InitInet(Napi::Env env, Napi::Object exports) {
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("acceptNow", Napi::Function::New(env, AcceptNow, "acceptNow"));
  exports.Set("connectNow", Napi::Function::New(env, ConnectNow, "connectNow"));
  exports.Set("getsockname", Napi::Function::New(env, Getsockname, "getsockname"));
  exports.Set("getpeername", Napi::Function::New(env, Getpeername, "getpeername"));
  exports.Set("getsockoptBuf", Napi::Function::New(env, GetsockoptBuf, "getsockoptBuf"));
  exports.Set("copySocketOptions", Napi::Function::New(env, CopySocketOptions, "copySocketOptions"));
  exports.Set("setsockoptBuf", Napi::Function::New(env, SetsockoptBuf, "setsockoptBuf"));
  exports.Set("pollNow", Napi::Function::New(env, PollNow, "pollNow"));
  exports.Set("inspectTcp", Napi::Function::New(env, InspectTcp, "inspectTcp"));
  exports.Set("fdinfoFlags", Napi::Function::New(env, FdinfoFlags, "fdinfoFlags"));
  exports.Set("closeReset", Napi::Function::New(env, CloseReset, "closeReset"));
  exports.Set("socketInNetns", Napi::Function::New(env, SocketInNetns, "socketInNetns"));
  exports.Set("socketsInNetns", Napi::Function::New(env, SocketsInNetns, "socketsInNetns"));
  exports.Set("loopbackNetns", Napi::Function::New(env, LoopbackNetns, "loopbackNetns"));
}

}  // namespace tsor
