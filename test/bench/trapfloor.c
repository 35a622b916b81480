/*
 * The floor of a trapped connect() on this machine, with no sentry at all: a child process
 * installs a seccomp filter that notifies connect(2) (SECCOMP_FILTER_FLAG_NEW_LISTENER, as
 * tsor-init does), and this process, a minimal supervisor in C, answers each call the way the
 * sentry does for a connection: a socketpair end installed over the app's fd
 * (SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD), then SECCOMP_IOCTL_NOTIF_SEND with 0.
 * seccomp_unotify(2). What the sentry adds on top of this is its own work (JS, bookkeeping) and
 * its threads; what this costs is the kernel's and the scheduler's, wake-ups across vCPUs above all.
 *
 * The listener asks for synchronous wake-ups (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6), as
 * the sentry does: the app's trap wakes the supervisor on the app's CPU and the answer wakes the
 * app on the supervisor's. ADDFD's own wake-up of the app is an ordinary one, which puts the app
 * on an idle vCPU when there is one (a VM exit to wake it): `answer` mode leaves ADDFD out to show
 * what that costs.
 *
 *   trapfloor N [addfd|answer]   N connects (addfd: a socketpair end installed, then SEND; answer:
 *                                SEND with 0 only); prints
 *                                `trapfloor n=N median_us=.. p90_us=.. mean_us=..`
 *
 * Needs no privilege beyond no_new_privs (set here). Exits non-zero on any failed call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "trapfloor"
#include "bench.h"


static int cmp_double(const void *a, const void *b) {
  double d = *(const double *)a - *(const double *)b;
  return d < 0 ? -1 : d > 0;
}

/* One byte with one fd (SCM_RIGHTS), or one byte only if fd < 0. */
static void send_fd(int sock, int fd) {
  char c = 'x', ctl[CMSG_SPACE(sizeof(int))];
  struct iovec io = {.iov_base = &c, .iov_len = 1};
  struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(ctl, 0, sizeof ctl);
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  }
  if (sendmsg(sock, &m, 0) != 1) die("sendmsg");
}

static int recv_fd(int sock) {
  char c, ctl[CMSG_SPACE(sizeof(int))];
  struct iovec io = {.iov_base = &c, .iov_len = 1};
  struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  if (recvmsg(sock, &m, 0) != 1) die("recvmsg");
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) {
    errno = EPROTO;
    die("no listener fd from the app");
  }
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return fd;
}

static int app(int sock, long n) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (listener < 0) die("seccomp(SECCOMP_SET_MODE_FILTER)");
  send_fd(sock, listener);
  close(listener);
  char go;
  if (read(sock, &go, 1) != 1) die("read (go)");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  double *lat = malloc((size_t)n * sizeof(double));
  if (!lat) die("malloc");
  double t0 = now_us();
  for (long i = 0; i < n; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    double c0 = now_us();
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect (answered by the supervisor)");
    lat[i] = now_us() - c0;
    close(s);
  }
  double elapsed = now_us() - t0;
  qsort(lat, (size_t)n, sizeof(double), cmp_double);
  printf("trapfloor n=%ld median_us=%.2f p90_us=%.2f mean_us=%.2f\n", n, lat[n / 2], lat[n * 9 / 10], elapsed / n);
  fflush(stdout); /* the child leaves with _exit */
  return 0;
}

int main(int argc, char **argv) {
  long n = argc >= 2 && argc <= 3 ? strtol(argv[1], NULL, 10) : 0;
  int addfd_mode = argc < 3 || !strcmp(argv[2], "addfd");
  if (n <= 0 || (argc == 3 && !addfd_mode && strcmp(argv[2], "answer"))) {
    fprintf(stderr, "usage: trapfloor N [addfd|answer]\n");
    return 2;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("socketpair");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(sv[0]);
    _exit(app(sv[1], n));
  }
  close(sv[1]);
  int listener = recv_fd(sv[0]);
  send_fd(sv[0], -1); /* go */
  /* As the sentry: synchronous wake-ups where the kernel has them (else as before):
   * SECCOMP_IOCTL_NOTIF_SET_FLAGS with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6, which
   * these headers may not name yet. */
  (void)ioctl(listener, SECCOMP_IOW(4, __u64), 1UL);
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) die("seccomp(SECCOMP_GET_NOTIF_SIZES)");
  struct seccomp_notif *notif = malloc(sizes.seccomp_notif);
  struct seccomp_notif_resp *resp = malloc(sizes.seccomp_notif_resp);
  if (!notif || !resp) die("malloc");
  for (;;) {
    memset(notif, 0, sizes.seccomp_notif);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, notif) != 0) {
      if (errno == EINTR) continue;
      break; /* ENOENT: the app is gone */
    }
    if (addfd_mode) {
      int pair[2];
      if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) die("socketpair (connection)");
      struct seccomp_notif_addfd addfd = {
          .id = notif->id, .flags = SECCOMP_ADDFD_FLAG_SETFD, .srcfd = (__u32)pair[0], .newfd = (__u32)notif->data.args[0],
      };
      if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0 && errno != ENOENT) die("ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)");
      close(pair[0]);
      close(pair[1]);
    }
    memset(resp, 0, sizes.seccomp_notif_resp);
    resp->id = notif->id;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 && errno != ENOENT) die("ioctl(SECCOMP_IOCTL_NOTIF_SEND)");
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
