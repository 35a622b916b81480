/*
 * sockbench: TCP over 127.0.0.1 with server and client in one process (a server thread), for
 * test/bench/sockets.ts, which runs it natively in a fresh netns and inside containers.
 *
 *   sockbench connrate N   N x (socket, connect, close) against a thread that accepts and
 *                          closes: connections/s over the loop, mean connect() latency in µs
 *   sockbench pingpong N   N 1-byte round trips over one connection (TCP_NODELAY): mean RTT µs;
 *                          both threads pinned to the CPU it starts on (across CPUs of a small
 *                          VM the RTT is bimodal, ~5 or ~50 µs, by where the scheduler put them)
 *   sockbench bulk MiB     MiB mebibytes one way, 256 KiB writes: MiB/s until the server has
 *                          read the last byte
 *
 * Two processes (test/bench/podnet.ts: between two pods), the same measurements over a real
 * network path:
 *   sockbench server PORT [CPU]          serves 0.0.0.0:PORT forever, one connection at a time;
 *                                        the connection's first byte picks the mode: 'p' echoes
 *                                        1-byte messages until EOF (pinned to CPU if given), 'b'
 *                                        reads until EOF then answers one byte
 *   sockbench client pingpong IP:PORT N [CPU]   N 1-byte round trips: mean RTT µs
 *   sockbench client bulk IP:PORT MiB    MiB one way then shutdown(SHUT_WR): MiB/s until the
 *                                        server's answer (it has read the last byte)
 *   sockbench client connrate IP:PORT N  N x (socket, connect, send 'c', read the server's close,
 *                                        close): connections/s, mean connect() µs
 *
 * Prints one line, `<mode> key=value ...`, including transport=kernel-tcp|unix|unknown: what the
 * client's connected socket really is: the kernel's protocol name for the fd (fgetxattr
 * system.sockprotoname), else its inode in /proc/net/{tcp,tcp6,unix} of the process's own netns
 * (a TSoR virtual socket is one end of an AF_UNIX socketpair the sentry made in its own netns).
 * Static build (test/bench/Makefile) so it runs in a busybox rootfs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "sockbench"
#include "bench.h"

#define BULK_CHUNK (256 * 1024)

/* A listener on 127.0.0.1 with a kernel-chosen port, written to *addr. */
static int listen_loopback(struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket (listener)");
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0) die("bind");
  if (listen(fd, 1024) < 0) die("listen");
  socklen_t len = sizeof *addr;
  if (getsockname(fd, (struct sockaddr *)addr, &len) < 0) die("getsockname");
  return fd;
}

static int connect_to(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket (client)");
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) die("connect");
  return fd;
}

static int accept_one(int lfd) {
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) return fd;
    if (errno != EINTR) die("accept");
  }
}

static void write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    buf += w;
    n -= (size_t)w;
  }
}

/* N 1-byte round trips on a connected socket; the elapsed µs. */
static double pingpong_client(int fd, long n) {
  char c = 'x';
  double t0 = now_us();
  for (long i = 0; i < n; i++) {
    write_all(fd, &c, 1);
    if (read(fd, &c, 1) != 1) die("client read");
  }
  return now_us() - t0;
}

/* `bytes` bytes from buf (BULK_CHUNK long) in BULK_CHUNK writes. */
static void send_bytes(int fd, const char *buf, uint64_t bytes) {
  for (uint64_t sent = 0; sent < bytes; sent += BULK_CHUNK) {
    size_t len = bytes - sent < BULK_CHUNK ? (size_t)(bytes - sent) : BULK_CHUNK;
    write_all(fd, buf, len);
  }
}

/* Whether `inode` is listed in the /proc/net table `file` (inode in column `col`, 0-based). */
static int inode_in(const char *file, int col, unsigned long inode) {
  FILE *f = fopen(file, "r");
  if (!f) return 0;
  char line[512];
  int found = 0;
  if (!fgets(line, sizeof line, f)) line[0] = 0; /* header */
  while (!found && fgets(line, sizeof line, f)) {
    char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
    for (int i = 0; tok && i < col; i++) tok = strtok_r(NULL, " \t\n", &save);
    if (tok && strtoul(tok, NULL, 10) == inode) found = 1;
  }
  fclose(f);
  return found;
}

/*
 * The kernel's own word first: the protocol name of the socket behind fd (the system.sockprotoname
 * xattr, "TCP"/"TCPv6"/"UNIX"/"UNIX-STREAM"), which a sandbox that emulates getsockopt/getsockname
 * does not change. Then the /proc/net tables of this netns (a socket made in another netns, as a
 * TSoR sentry's socketpair is, is in none of them).
 */
static const char *transport(int fd) {
  char proto[32] = {0};
  ssize_t n = fgetxattr(fd, "system.sockprotoname", proto, sizeof proto - 1);
  if (n > 0) {
    proto[n] = 0;
    if (strncmp(proto, "TCP", 3) == 0) return "kernel-tcp";
    if (strncmp(proto, "UNIX", 4) == 0) return "unix";
  }
  struct stat st;
  if (fstat(fd, &st) < 0) return "unknown";
  unsigned long ino = (unsigned long)st.st_ino;
  if (inode_in("/proc/net/tcp", 9, ino) || inode_in("/proc/net/tcp6", 9, ino)) return "kernel-tcp";
  if (inode_in("/proc/net/unix", 6, ino)) return "unix";
  return "unknown";
}

struct server {
  int lfd;
  long n;       /* connrate: connections to accept; pingpong: round trips */
  uint64_t bytes; /* bulk: bytes to read */
  double done_us; /* bulk: when the last byte was read */
};

static void *connrate_server(void *arg) {
  struct server *s = arg;
  for (long i = 0; i < s->n; i++) close(accept_one(s->lfd));
  return NULL;
}

static void *pingpong_server(void *arg) {
  struct server *s = arg;
  int fd = accept_one(s->lfd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char c;
  for (long i = 0; i < s->n; i++) {
    ssize_t r = read(fd, &c, 1);
    if (r != 1) die("server read");
    write_all(fd, &c, 1);
  }
  close(fd);
  return NULL;
}

static void *bulk_server(void *arg) {
  struct server *s = arg;
  int fd = accept_one(s->lfd);
  char *buf = malloc(BULK_CHUNK);
  uint64_t got = 0;
  while (got < s->bytes) {
    ssize_t r = read(fd, buf, BULK_CHUNK);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die("server read (bulk)");
    got += (uint64_t)r;
  }
  s->done_us = now_us();
  free(buf);
  close(fd);
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: sockbench connrate N | pingpong N | bulk MiB\n"
                  "       sockbench server PORT [CPU]\n"
                  "       sockbench client pingpong IP:PORT N [CPU] | client bulk IP:PORT MiB\n"
                  "       sockbench client connrate IP:PORT N\n");
  exit(2);
}

static void pin(int cpu, cpu_set_t *old) {
  if (old && sched_getaffinity(0, sizeof *old, old) < 0) die("sched_getaffinity");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
}

/* sockbench server PORT [CPU]: never returns. */
static _Noreturn void serve(int port, int cpu) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket (listener)");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(lfd, 16) < 0) die("listen");
  printf("listening port=%d\n", port);
  fflush(stdout);
  char *buf = malloc(BULK_CHUNK);
  for (;;) {
    int fd = accept_one(lfd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char tag;
    if (read(fd, &tag, 1) != 1) {
      close(fd);
      continue;
    }
    if (tag == 'p') {
      cpu_set_t old;
      if (cpu >= 0) pin(cpu, &old);
      char c;
      while (read(fd, &c, 1) == 1) write_all(fd, &c, 1);
      if (cpu >= 0) sched_setaffinity(0, sizeof old, &old);
    } else if (tag == 'b') {
      ssize_t r;
      while ((r = read(fd, buf, BULK_CHUNK)) > 0 || (r < 0 && errno == EINTR)) {
      }
      write_all(fd, "k", 1);
    }
    close(fd);
  }
}

/* "IP:PORT" as a sockaddr. */
static struct sockaddr_in parse_addr(const char *s) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  char host[64];
  const char *colon = strrchr(s, ':');
  if (!colon || (size_t)(colon - s) >= sizeof host) usage();
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) usage();
  a.sin_port = htons((uint16_t)atoi(colon + 1));
  return a;
}

/* n x (socket, connect, close) to addr: the total µs spent in connect(); *how: what the first
 * connection's socket was (transport). With `tag`, each connection sends it and reads to EOF
 * before its close: a server taking one connection at a time then paces the loop (an unpaced
 * loop overflows its accept queue, and each dropped SYN costs a 1 s retransmission). */
static double connect_many(const struct sockaddr_in *addr, long n, const char *tag, const char **how) {
  double total = 0;
  *how = "unknown";
  for (long i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket (client)");
    double c0 = now_us();
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) die("connect");
    total += now_us() - c0;
    if (i == 0) *how = transport(fd);
    if (tag) {
      char c;
      write_all(fd, tag, 1);
      if (read(fd, &c, 1) != 0) die("client read (connrate: the server's close)");
    }
    close(fd);
  }
  return total;
}

static void print_connrate(long n, double elapsed_us, double connect_total, const char *how) {
  printf("connrate n=%ld conn_per_s=%.1f connect_us=%.2f transport=%s\n", n, n / (elapsed_us / 1e6), connect_total / n, how);
}

/* sockbench client connrate IP:PORT N: each connection sends 'c', which the server answers by
 * closing it (a tag it has no mode for). */
static int client_connrate(const struct sockaddr_in *addr, long n) {
  const char *how;
  double t0 = now_us();
  double connect_total = connect_many(addr, n, "c", &how);
  print_connrate(n, now_us() - t0, connect_total, how);
  return 0;
}

/* sockbench client pingpong|bulk|connrate IP:PORT N [CPU] */
static int client(int argc, char **argv) {
  if (argc < 5 || argc > 6) usage();
  const char *mode = argv[2];
  struct sockaddr_in addr = parse_addr(argv[3]);
  long n = strtol(argv[4], NULL, 10);
  if (n <= 0) usage();
  if (strcmp(mode, "connrate") == 0) return client_connrate(&addr, n);
  int cpu = argc == 6 ? atoi(argv[5]) : -1;
  int fd = connect_to(&addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const char *how = transport(fd);
  if (strcmp(mode, "pingpong") == 0) {
    if (cpu >= 0) pin(cpu, NULL);
    write_all(fd, "p", 1);
    double elapsed = pingpong_client(fd, n);
    printf("pingpong n=%ld rtt_us=%.2f transport=%s cpu=%d\n", n, elapsed / n, how, cpu);
  } else if (strcmp(mode, "bulk") == 0) {
    uint64_t bytes = (uint64_t)n << 20;
    char *buf = malloc(BULK_CHUNK);
    memset(buf, 'b', BULK_CHUNK);
    write_all(fd, "b", 1);
    double t0 = now_us();
    send_bytes(fd, buf, bytes);
    if (shutdown(fd, SHUT_WR) < 0) die("shutdown");
    char k;
    if (read(fd, &k, 1) != 1) die("client read (bulk answer)");
    double elapsed = now_us() - t0;
    free(buf);
    printf("bulk mib=%ld mib_per_s=%.1f transport=%s\n", n, n / (elapsed / 1e6), how);
  } else {
    usage();
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "server") == 0) serve(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : -1);
  if (argc >= 2 && strcmp(argv[1], "client") == 0) return client(argc, argv);
  if (argc != 3) usage();
  const char *mode = argv[1];
  long n = strtol(argv[2], NULL, 10);
  if (n <= 0) usage();
  struct sockaddr_in addr;
  struct server s = {.lfd = listen_loopback(&addr), .n = n};
  pthread_t th;

  if (strcmp(mode, "connrate") == 0) {
    if (pthread_create(&th, NULL, connrate_server, &s)) die("pthread_create");
    const char *how;
    double t0 = now_us();
    double connect_total = connect_many(&addr, n, NULL, &how);
    pthread_join(th, NULL);
    print_connrate(n, now_us() - t0, connect_total, how);
  } else if (strcmp(mode, "pingpong") == 0) {
    int cpu = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
    if (pthread_create(&th, NULL, pingpong_server, &s)) die("pthread_create");
    int fd = connect_to(&addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const char *how = transport(fd);
    double elapsed = pingpong_client(fd, n);
    pthread_join(th, NULL);
    close(fd);
    printf("pingpong n=%ld rtt_us=%.2f transport=%s cpu=%d\n", n, elapsed / n, how, cpu);
  } else if (strcmp(mode, "bulk") == 0) {
    s.bytes = (uint64_t)n << 20;
    if (pthread_create(&th, NULL, bulk_server, &s)) die("pthread_create");
    int fd = connect_to(&addr);
    const char *how = transport(fd);
    char *buf = malloc(BULK_CHUNK);
    memset(buf, 'b', BULK_CHUNK);
    double t0 = now_us();
    send_bytes(fd, buf, s.bytes);
    pthread_join(th, NULL);
    double elapsed = s.done_us - t0;
    close(fd);
    free(buf);
    printf("bulk mib=%ld mib_per_s=%.1f transport=%s\n", n, n / (elapsed / 1e6), how);
  } else {
    usage();
  }
  close(s.lfd);
  return 0;
}
