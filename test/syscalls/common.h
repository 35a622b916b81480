/* Shared by the syscall suite (test/syscalls, one .c file each): each program checks one socket behaviour and
 * prints what it observes, one line per call, `label -> ret` or `label -> -1 ENAME`. The output
 * is compared between a native run (kernel TCP in a fresh netns) and a run under the runtime, so
 * it must be deterministic: no pids, no timings, no fd numbers, kernel-chosen ports as
 * <ephemeral>. Every program is bounded by a watchdog and exits 0 when it ran to the end. */
#ifndef TSOR_SYSCALLS_COMMON_H
#define TSOR_SYSCALLS_COMMON_H
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e) {
  switch (e) {
#define E(n) case n: return #n;
    E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT)
    E(EBUSY) E(EEXIST) E(ENODEV) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ENOSPC) E(ESPIPE)
    E(EPIPE) E(ENOSYS) E(ENOTSOCK) E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT)
    E(EPROTONOSUPPORT) E(ESOCKTNOSUPPORT) E(EOPNOTSUPP) E(EPFNOSUPPORT) E(EAFNOSUPPORT)
    E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ECONNABORTED) E(ECONNRESET)
    E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTUNREACH)
    E(EALREADY) E(EINPROGRESS) E(ERESTART) E(EDOM)
#undef E
  }
  static char buf[32];
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

static long show_(const char *label, long ret, int err, int isfd) {
  if (ret < 0) printf("%s -> %ld %s\n", label, ret, errname(err));
  else if (isfd) printf("%s -> fd\n", label);
  else printf("%s -> %ld\n", label, ret);
  return ret;
}

/* SHOW prints a call's return value (or -1 and the errno name); SHOWFD prints `fd` for a new fd. */
#define SHOW(label, expr) ({ errno = 0; long r_ = (long)(expr); show_(label, r_, errno, 0); })
#define SHOWFD(label, expr) ({ errno = 0; long r_ = (long)(expr); (int)show_(label, r_, errno, 1); })
/* MUST is setup that is not the behaviour under test: it is silent unless it fails. */
#define MUST(expr) ({ errno = 0; long r_ = (long)(expr); \
  if (r_ < 0) { printf("FAIL %s:%d %s -> %s\n", __FILE__, __LINE__, #expr, errname(errno)); exit(1); } r_; })
#define SAY(...) printf(__VA_ARGS__)

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* The watchdog bounds every program; it blocks all signals so SIGALRM tests see their own. */
static void *watchdog_(void *arg) {
  (void)arg;
  sleep_ms(10000);
  printf("TIMEOUT\n");
  fflush(stdout);
  _exit(3);
}

__attribute__((constructor)) static void setup_(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  pthread_create(&t, NULL, watchdog_, NULL);
  pthread_detach(t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static pthread_t go(void *(*fn)(void *), void *arg) {
  pthread_t t;
  if (pthread_create(&t, NULL, fn, arg) != 0) { printf("FAIL pthread_create\n"); exit(1); }
  return t;
}

static void join(pthread_t t) { pthread_join(t, NULL); }

/* An address from text: "127.0.0.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::". */
static socklen_t mkaddr(struct sockaddr_storage *ss, const char *ip, int port) {
  memset(ss, 0, sizeof *ss);
  if (strchr(ip, ':')) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return sizeof *a;
}

static int port_is_ephemeral(int port) {
  static int lo = -1, hi = -1;
  if (lo < 0) {
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (!f || fscanf(f, "%d %d", &lo, &hi) != 2) { lo = 32768; hi = 60999; }
    if (f) fclose(f);
  }
  return port >= lo && port <= hi;
}

/* ip:port text ([v6]:port), the port as <ephemeral> when it lies in the kernel's range. */
static const char *addrstr(const struct sockaddr_storage *ss, socklen_t len) {
  static char bufs[4][96];
  static int n;
  char *b = bufs[n++ % 4], ip[64], port[16];
  int p;
  if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *a = (const void *)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    p = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *a = (const void *)ss;
    char tmp[56];
    inet_ntop(AF_INET6, &a->sin6_addr, tmp, sizeof tmp);
    snprintf(ip, sizeof ip, "[%s]", tmp);
    p = ntohs(a->sin6_port);
  } else {
    snprintf(b, 96, "family=%d len=%u", ss->ss_family, (unsigned)len);
    return b;
  }
  if (port_is_ephemeral(p)) snprintf(port, sizeof port, "<ephemeral>");
  else snprintf(port, sizeof port, "%d", p);
  snprintf(b, 96, "%s:%s", ip, port);
  return b;
}

/* Prints `label getsockname -> addr` (or getpeername); the errno when the call fails. */
static void show_name(const char *label, int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  const char *what = peer ? "getpeername" : "getsockname";
  int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (r < 0) printf("%s %s -> -1 %s\n", label, what, errname(errno));
  else printf("%s %s -> %s\n", label, what, addrstr(&ss, len));
}

/* The port of fd's own address (peer = 0) or of its peer's (peer = 1). */
static int port_of(int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  MUST(peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len));
  return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int local_port(int fd) { return port_of(fd, 0); }

static int family_of(const char *ip) { return strchr(ip, ':') ? AF_INET6 : AF_INET; }

static int tcp_socket(const char *ip) { return MUST(socket(family_of(ip), SOCK_STREAM, 0)); }

/* A TCP listener on ip:port (port 0: ephemeral), set up silently. */
static int tcp_listen(const char *ip, int port, int backlog) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, ip, port);
  int fd = tcp_socket(ip);
  MUST(bind(fd, (struct sockaddr *)&ss, len));
  MUST(listen(fd, backlog));
  return fd;
}

/* A blocking client connected to ip:port, set up silently. */
static int tcp_connect(const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, ip, port);
  int fd = tcp_socket(ip);
  MUST(connect(fd, (struct sockaddr *)&ss, len));
  return fd;
}

/* connect() on an existing socket, shown under `label`. */
static long show_connect(const char *label, int fd, const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, ip, port);
  return SHOW(label, connect(fd, (struct sockaddr *)&ss, len));
}

static long show_bind(const char *label, int fd, const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, ip, port);
  return SHOW(label, bind(fd, (struct sockaddr *)&ss, len));
}

/* Waits for child `pid` and prints "<label> -> <exit status>" (128 + signal if killed). */
static void show_wait(const char *label, pid_t pid) {
  int st;
  MUST(waitpid(pid, &st, 0));
  SAY("%s -> %d\n", label, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* One epoll_wait on `ep`: "<label> -> <n> [EPOLLIN] [EPOLLOUT] [EPOLLRDHUP] [EPOLLHUP] tag <data.u32 of the first event>". */
static void show_epoll_wait(const char *label, int ep, int timeout) {
  struct epoll_event ev[4];
  memset(ev, 0, sizeof ev);
  int n = epoll_wait(ep, ev, 4, timeout);
  if (n < 0) {
    SAY("%s -> -1 %s\n", label, errname(errno));
    return;
  }
  uint32_t e = n ? ev[0].events : 0;
  SAY("%s -> %d%s%s%s%s tag %d\n", label, n, e & EPOLLIN ? " EPOLLIN" : "", e & EPOLLOUT ? " EPOLLOUT" : "",
      e & EPOLLRDHUP ? " EPOLLRDHUP" : "", e & EPOLLHUP ? " EPOLLHUP" : "", n ? (int)ev[0].data.u32 : -1);
}

/* A connected pair over loopback: *client and *server (accepted), the listener closed. */
static void tcp_pair(const char *ip, int port, int *client, int *server) {
  int l = tcp_listen(ip, port, 8);
  *client = tcp_connect(ip, port);
  *server = MUST(accept(l, NULL, NULL));
  close(l);
}

static void show_flags(const char *label, int fd) {
  int fl = fcntl(fd, F_GETFL), fd_fl = fcntl(fd, F_GETFD);
  printf("%s O_NONBLOCK=%d FD_CLOEXEC=%d\n", label, !!(fl & O_NONBLOCK), !!(fd_fl & FD_CLOEXEC));
}

static int getint(int fd, int level, int opt) {
  int v = -1;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) < 0) {
    printf("FAIL getsockopt(%d,%d) -> %s\n", level, opt, errname(errno));
    exit(1);
  }
  return v;
}

/* An int sockopt's value as text, or its errno's name (for tables of options; 4 results live at once). */
static const char *optstr(int fd, int level, int opt) {
  static char buf[4][32];
  static int k;
  k = (k + 1) % 4;
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) < 0) snprintf(buf[k], sizeof buf[k], "%s", errname(errno));
  else snprintf(buf[k], sizeof buf[k], "%d", v);
  return buf[k];
}

/* Prints `label -> value` for an int sockopt, or the errno. */
static void show_opt(const char *label, int fd, int level, int opt) {
  int v = -1;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) < 0) printf("%s -> -1 %s\n", label, errname(errno));
  else printf("%s -> %d (optlen %u)\n", label, v, (unsigned)len);
}

/* show_opt with a printf-style label. */
static void show_optf(int fd, int level, int opt, const char *fmt, ...) {
  char label[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(label, sizeof label, fmt, ap);
  va_end(ap);
  show_opt(label, fd, level, opt);
}

/* Prints `label -> sec.usec` for a struct timeval sockopt (SO_RCVTIMEO, SO_SNDTIMEO), or the errno. */
static void show_timeo(const char *label, int fd, int opt) {
  struct timeval got = { 9, 9 };
  socklen_t len = sizeof got;
  if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) < 0) printf("%s -> -1 %s\n", label, errname(errno));
  else printf("%s -> %ld.%06ld\n", label, (long)got.tv_sec, (long)got.tv_usec);
}

static long setint(int fd, int level, int opt, int v) { return setsockopt(fd, level, opt, &v, sizeof v); }

/* A listener on 127.0.0.1:port with SO_REUSEADDR = reuse that has served one connection
 * (*client, *server), set up silently; returns the listener. */
static int tcp_serve_one(int port, int reuse, int *client, int *server) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", port);
  int l = tcp_socket("127.0.0.1");
  MUST(setint(l, SOL_SOCKET, SO_REUSEADDR, reuse));
  MUST(bind(l, (struct sockaddr *)&ss, len));
  MUST(listen(l, 4));
  *client = tcp_connect("127.0.0.1", port);
  *server = MUST(accept(l, NULL, NULL));
  return l;
}

/* One end closes first (its FIN), the other reads that EOF (shown under `label`) and closes:
 * the connection is over, the first closer's port in TIME_WAIT. */
static void close_first(const char *label, int first, int second) {
  char b;
  MUST(close(first));
  SHOW(label, read(second, &b, 1));
  MUST(close(second));
}

/* A listener on ip:port with an int option set (and shown under `label`) before listen(2),
 * whose connections may inherit it. */
static int tcp_listen_with(const char *ip, int port, int level, int opt, int val, const char *label) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, ip, port);
  int fd = tcp_socket(ip);
  MUST(bind(fd, (struct sockaddr *)&ss, len));
  SHOW(label, setint(fd, level, opt, val));
  MUST(listen(fd, 4));
  return fd;
}

/* A fresh socket with SO_REUSEADDR = reuse bound to ip:port, labelled "<label>: bind ip:port
 * with|without SO_REUSEADDR": the socket if bind succeeded (caller closes), else -1. */
static int show_rebind(const char *label, const char *ip, int port, int reuse) {
  char buf[160];
  int x = tcp_socket(ip);
  MUST(setint(x, SOL_SOCKET, SO_REUSEADDR, reuse));
  snprintf(buf, sizeof buf, "%s: bind %s:%d %s SO_REUSEADDR", label, ip, port, reuse ? "with" : "without");
  if (show_bind(buf, x, ip, port) == 0) return x;
  close(x);
  return -1;
}

/* Deterministic test bytes and a checksum over them. */
static unsigned char pattern(uint64_t i) { return (unsigned char)((i * 131) ^ (i >> 9)); }

static void fill(unsigned char *buf, size_t n, uint64_t off) {
  for (size_t i = 0; i < n; i++) buf[i] = pattern(off + i);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}
#define FNV_INIT 14695981039346656037ULL

/* Writes all of buf (blocking fd). */
static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { printf("FAIL write_all -> %s\n", errname(errno)); exit(1); }
    p += w;
    n -= (size_t)w;
  }
}

/* Reads to EOF; returns the byte count and the checksum in *sum. */
static uint64_t drain(int fd, uint64_t *sum) {
  static unsigned char buf[1 << 16];
  uint64_t total = 0, h = FNV_INIT;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { printf("FAIL drain -> %s\n", errname(errno)); exit(1); }
    if (r == 0) break;
    h = fnv(h, buf, (size_t)r);
    total += (uint64_t)r;
  }
  *sum = h;
  return total;
}

/* Reads exactly n bytes (or to EOF) and prints them as text under `label`. */
static void show_read(const char *label, int fd, size_t n) {
  char buf[256];
  size_t got = 0;
  if (n > sizeof buf - 1) n = sizeof buf - 1;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { printf("%s read -> -1 %s\n", label, errname(errno)); return; }
    if (r == 0) break;
    got += (size_t)r;
  }
  buf[got] = 0;
  printf("%s read -> %zu \"%s\"\n", label, got, buf);
}

static const char *tcp_state_name(int s) {
  static const char *names[] = { "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
                                 "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING" };
  return s >= 0 && s < 12 ? names[s] : "?";
}

static void show_revents(const char *label, int r, short ev) {
  if (r < 0) { printf("%s -> -1 %s\n", label, errname(errno)); return; }
  printf("%s -> %d%s%s%s%s%s%s\n", label, r, ev & POLLIN ? " POLLIN" : "", ev & POLLOUT ? " POLLOUT" : "",
         ev & POLLERR ? " POLLERR" : "", ev & POLLHUP ? " POLLHUP" : "", ev & POLLRDHUP ? " POLLRDHUP" : "",
         ev & POLLNVAL ? " POLLNVAL" : "");
}

/* poll() on one fd for `ev`, printed as `label -> n FLAGS`. */
static void show_poll(const char *label, int fd, short ev, int timeout_ms) {
  struct pollfd p = { fd, ev, 0 };
  int r = poll(&p, 1, timeout_ms);
  show_revents(label, r, p.revents);
}

static void on_signal(int sig, void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  MUST(sigaction(sig, &sa, NULL));
}

/* A one-shot SIGALRM after ms (setitimer, so sub-second). */
static void alarm_ms(long ms) {
  struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };
  MUST(setitimer(ITIMER_REAL, &it, NULL));
}

/* Blocks every signal in the calling thread (helpers, so SIGALRM lands on the main thread). */
static void block_signals(void) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
}

/* accept() that prints `label -> fd` and the peer address with its length. */
static int show_accept(const char *label, int l) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len = sizeof ss;
  int s = SHOWFD(label, accept(l, (struct sockaddr *)&ss, &len));
  if (s >= 0) printf("%s peer -> %s addrlen %u\n", label, addrstr(&ss, len), (unsigned)len);
  return s;
}

/* A thread blocked in accept(listener), signals blocked; finish_accept says how it ended. */
struct blocked_accept {
  int listener;
  int err; /* 0: got a connection */
  pthread_t t;
};

static void *blocked_accept_(void *arg) {
  struct blocked_accept *b = arg;
  block_signals();
  errno = 0;
  b->err = accept(b->listener, NULL, NULL) < 0 ? errno : 0;
  return NULL;
}

static void start_accept(struct blocked_accept *b, int listener) {
  b->listener = listener;
  b->err = -1;
  b->t = go(blocked_accept_, b);
}

static const char *finish_accept(struct blocked_accept *b) {
  pthread_join(b->t, NULL);
  return b->err == 0 ? "fd" : errname(b->err);
}

/* Every call that takes a socket fd, on `fd`, each shown as `<call> <what>`. */
static void show_socket_calls(const char *what, int fd) {
  char label[96];
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20999), sl = sizeof ss;
  int v = 1;
  socklen_t vl = sizeof v;
#define TRY(name, expr) (snprintf(label, sizeof label, "%s %s", name, what), SHOW(label, expr))
  TRY("bind", bind(fd, (struct sockaddr *)&ss, len));
  TRY("listen", listen(fd, 4));
  TRY("accept", accept(fd, NULL, NULL));
  TRY("accept4", accept4(fd, NULL, NULL, SOCK_CLOEXEC));
  TRY("connect", connect(fd, (struct sockaddr *)&ss, len));
  TRY("getsockname", getsockname(fd, (struct sockaddr *)&ss, &sl));
  TRY("getpeername", getpeername(fd, (struct sockaddr *)&ss, &sl));
  TRY("getsockopt", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl));
  TRY("setsockopt", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
  TRY("shutdown", shutdown(fd, SHUT_RDWR));
  TRY("recv", recv(fd, &v, 1, MSG_DONTWAIT));
#undef TRY
}

#endif
