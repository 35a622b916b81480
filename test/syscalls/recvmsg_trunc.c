/* recvmsg and recvfrom with MSG_TRUNC or MSG_ERRQUEUE on a connection: the length comes from the
 * iovecs (NULL bases are fine), TCP names no sender (namelen 0), msg_flags echoes
 * MSG_CMSG_CLOEXEC, no ancillary data; a bad msghdr, iovec or length fails as the kernel checks
 * them. */
#include "common.h"
#include <sys/uio.h>
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20950, &c, &s);
  write_all(c, "0123456789abcdef", 16);
  sleep_ms(20);
  struct sockaddr_storage from;
  char ctl[64];
  struct iovec iov[2] = { { NULL, 3 }, { NULL, 2 } };
  struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = iov, .msg_iovlen = 2,
                      .msg_control = ctl, .msg_controllen = sizeof ctl, .msg_flags = 0x7777 };
  SHOW("recvmsg MSG_TRUNC two NULL iovecs 3+2", recvmsg(s, &m, MSG_TRUNC | MSG_CMSG_CLOEXEC));
  SAY("  namelen %u controllen %zu flags %#x\n", (unsigned)m.msg_namelen, (size_t)m.msg_controllen, (unsigned)m.msg_flags);
  m.msg_name = NULL;
  m.msg_namelen = 77;
  m.msg_controllen = sizeof ctl;
  SHOW("recvmsg MSG_TRUNC no name", recvmsg(s, &m, MSG_TRUNC));
  SAY("  namelen %u controllen %zu flags %#x\n", (unsigned)m.msg_namelen, (size_t)m.msg_controllen, (unsigned)m.msg_flags);
  socklen_t fl = sizeof from;
  SHOW("recvfrom MSG_TRUNC 2 with src_addr", recvfrom(s, NULL, 2, MSG_TRUNC, (struct sockaddr *)&from, &fl));
  SAY("  addrlen %u\n", (unsigned)fl);
  SHOW("recvfrom MSG_TRUNC src_addr with a bad addrlen", recvfrom(s, NULL, 1, MSG_TRUNC, (struct sockaddr *)&from, (socklen_t *)8));
  fl = (socklen_t)-1;
  SHOW("recvfrom MSG_TRUNC negative addrlen", recvfrom(s, NULL, 1, MSG_TRUNC, (struct sockaddr *)&from, &fl));
  SHOW("recvmsg MSG_ERRQUEUE", recvmsg(s, &m, MSG_ERRQUEUE | MSG_DONTWAIT));
  SHOW("recvmsg MSG_ERRQUEUE bad msghdr", recvmsg(s, (struct msghdr *)8, MSG_ERRQUEUE));
  SHOW("recvmsg MSG_TRUNC bad msghdr", recvmsg(s, (struct msghdr *)8, MSG_TRUNC));
  m.msg_iov = (struct iovec *)8;
  SHOW("recvmsg MSG_TRUNC bad iovec array", recvmsg(s, &m, MSG_TRUNC));
  m.msg_iov = iov;
  m.msg_iovlen = 2000;
  SHOW("recvmsg MSG_TRUNC iovlen over UIO_MAXIOV", recvmsg(s, &m, MSG_TRUNC));
  m.msg_iovlen = 2;
  iov[1].iov_len = (size_t)-1;
  SHOW("recvmsg MSG_TRUNC negative iov_len", recvmsg(s, &m, MSG_TRUNC));
  iov[1].iov_len = 2;
  m.msg_name = &from;
  m.msg_namelen = -1;
  SHOW("recvmsg MSG_TRUNC negative namelen", recvmsg(s, &m, MSG_TRUNC));
  SHOW("recv MSG_TRUNC kernel-space buffer", recv(s, (void *)0xffff888000000000UL, 4, MSG_TRUNC));
  SHOW("recv MSG_TRUNC|MSG_ERRQUEUE", recv(s, NULL, 4, MSG_TRUNC | MSG_ERRQUEUE));
  SHOW("recv MSG_TRUNC bad fd", recv(999, NULL, 4, MSG_TRUNC));
  SHOW("recv MSG_TRUNC not a socket", recv(0, NULL, 4, MSG_TRUNC | MSG_DONTWAIT));
  char b[16] = {0};
  SHOW("recv the rest", recv(s, b, sizeof b, MSG_DONTWAIT));
  SAY("  '%s'\n", b);
  return 0;
}
