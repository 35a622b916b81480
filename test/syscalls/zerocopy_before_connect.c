/* MSG_ZEROCOPY on a connection whose sockets enabled SO_ZEROCOPY before connect (the client) and
 * before listen (the server's listener, inherited by the accepted socket): each send's completion
 * comes back on the socket's error queue (POLLERR, recvmsg MSG_ERRQUEUE, SO_EE_ORIGIN_ZEROCOPY),
 * which an app waits for before it reuses the buffer. A socketpair has no such queue: under tsor
 * such sockets keep the kernel's TCP connection. */
#include "common.h"
#include <linux/errqueue.h>
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
static char buf[65536];
static void send_and_complete(const char *who, int fd, int peer) {
  char label[64];
  snprintf(label, sizeof label, "%s send MSG_ZEROCOPY", who);
  SHOW(label, send(fd, buf, sizeof buf, MSG_ZEROCOPY));
  struct pollfd p = {.fd = fd, .events = 0};
  snprintf(label, sizeof label, "%s poll for the completion", who);
  SHOW(label, poll(&p, 1, 2000));
  SAY("%s POLLERR %d\n", who, !!(p.revents & POLLERR));
  char ctl[128];
  struct msghdr m = {.msg_control = ctl, .msg_controllen = sizeof ctl};
  snprintf(label, sizeof label, "%s recvmsg MSG_ERRQUEUE", who);
  if (SHOW(label, recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT)) >= 0) {
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    struct sock_extended_err *e = cm ? (void *)CMSG_DATA(cm) : NULL;
    SAY("%s completion: zerocopy origin %d, sends %u..%u\n", who, e && e->ee_origin == SO_EE_ORIGIN_ZEROCOPY, e ? e->ee_info : 0, e ? e->ee_data : 0);
  }
  long got = 0;
  while (got < (long)sizeof buf) {
    long n = read(peer, buf, sizeof buf);
    if (n <= 0) break;
    got += n;
  }
  SAY("%s peer read %ld bytes\n", who, got);
}
int main(void) {
  int one = 1;
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20880);
  int l = tcp_socket("127.0.0.1");
  SHOW("listener SO_ZEROCOPY 1", setsockopt(l, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one));
  MUST(bind(l, (struct sockaddr *)&ss, len));
  MUST(listen(l, 4));
  int c = tcp_socket("127.0.0.1");
  SHOW("client SO_ZEROCOPY 1", setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one));
  show_connect("connect", c, "127.0.0.1", 20880);
  int s = MUST(accept(l, NULL, NULL));
  show_opt("client SO_ZEROCOPY", c, SOL_SOCKET, SO_ZEROCOPY);
  show_opt("accepted SO_ZEROCOPY (inherited)", s, SOL_SOCKET, SO_ZEROCOPY);
  send_and_complete("client", c, s);
  send_and_complete("server", s, c);
  return 0;
}
