/* recv flags the sentry traps (MSG_TRUNC, MSG_ERRQUEUE) stay the kernel's on UDP and AF_UNIX:
 * UDP MSG_TRUNC returns the datagram's real length, MSG_ERRQUEUE reads an ICMP error (IP_RECVERR);
 * an AF_UNIX stream copies for MSG_TRUNC. */
#include "common.h"
#include <linux/errqueue.h>
int main(void) {
  int a = MUST(socket(AF_INET, SOCK_DGRAM, 0));
  int b = MUST(socket(AF_INET, SOCK_DGRAM, 0));
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20961);
  MUST(bind(b, (struct sockaddr *)&ss, len));
  MUST(connect(a, (struct sockaddr *)&ss, len));
  MUST(send(a, "a datagram of 24 bytes..", 24, 0));
  char buf[8] = {0};
  SHOW("udp recv MSG_PEEK|MSG_TRUNC into 0 bytes", recv(b, NULL, 0, MSG_PEEK | MSG_TRUNC));
  SHOW("udp recv MSG_TRUNC into 4 bytes", recv(b, buf, 4, MSG_TRUNC));
  SAY("  '%s'\n", buf);
  SHOW("udp recv MSG_ERRQUEUE, no error", recv(b, buf, sizeof buf, MSG_ERRQUEUE | MSG_DONTWAIT));
  int on = 1;
  MUST(setsockopt(a, IPPROTO_IP, IP_RECVERR, &on, sizeof on));
  len = mkaddr(&ss, "127.0.0.1", 20962);
  MUST(connect(a, (struct sockaddr *)&ss, len));
  MUST(send(a, "x", 1, 0));
  sleep_ms(20);
  char ctl[256];
  struct iovec iov = { buf, sizeof buf };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
  SHOW("udp recvmsg MSG_ERRQUEUE after a refused send", recvmsg(a, &m, MSG_ERRQUEUE | MSG_DONTWAIT));
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  if (cm && cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) {
    struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(cm);
    SAY("  ee_errno %s origin %d\n", errname((int)ee->ee_errno), ee->ee_origin);
  } else {
    SAY("  no IP_RECVERR message\n");
  }
  int sv[2];
  MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  MUST(write(sv[0], "unix", 4));
  memset(buf, 0, sizeof buf);
  SHOW("unix stream recv MSG_TRUNC copies", recv(sv[1], buf, 2, MSG_TRUNC));
  SAY("  '%s'\n", buf);
  return 0;
}
