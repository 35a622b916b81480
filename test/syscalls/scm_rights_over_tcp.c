/* A file descriptor sent with SCM_RIGHTS over a TCP connection: TCP carries no control messages
 * of that kind, so sendmsg sends the byte and drops the fd (__sock_cmsg_send ignores
 * SCM_RIGHTS), and the peer never receives an fd, whatever control buffer it offers. */
#include "common.h"
static int send_with_fd(int sock, char byte, int fd) {
  char ctl[CMSG_SPACE(sizeof(int))];
  memset(ctl, 0, sizeof ctl);
  struct iovec io = {.iov_base = &byte, .iov_len = 1};
  struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &m, 0);
}
static void recv_one(const char *label, int sock) {
  char ctl[CMSG_SPACE(4 * sizeof(int))], b = 0;
  struct iovec io = {.iov_base = &b, .iov_len = 1};
  struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  long n = SHOW(label, recvmsg(sock, &m, MSG_DONTWAIT));
  int fds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n > 0 && c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) fds += (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  if (n > 0) SAY("  byte '%c', fds received %d, flags%s\n", b, fds, (m.msg_flags & MSG_CTRUNC) ? " MSG_CTRUNC" : " none");
}
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20840, &c, &s);
  int f = MUST(open("/dev/null", O_RDONLY));
  SHOW("client sendmsg 'x' with SCM_RIGHTS", send_with_fd(c, 'x', f));
  SHOW("server sendmsg 'y' with SCM_RIGHTS", send_with_fd(s, 'y', f));
  SHOW("client send 'z'", send(c, "z", 1, 0));
  sleep_ms(20);
  recv_one("server recvmsg 1", s);
  recv_one("server recvmsg 2", s);
  recv_one("client recvmsg", c);
  return 0;
}
