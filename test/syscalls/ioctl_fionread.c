/* FIONREAD (SIOCINQ) counts queued bytes; on a listening socket it fails with EINVAL; SIOCOUTQ
 * is 0 once the peer has everything. */
#include "common.h"
static void inq(const char *label, int fd) {
  int n = -1;
  long r = ioctl(fd, FIONREAD, &n);
  if (r < 0) SAY("%s FIONREAD -> -1 %s\n", label, errname(errno));
  else SAY("%s FIONREAD -> %d\n", label, n);
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20600, 4);
  int c = tcp_connect("127.0.0.1", 20600);
  int s = MUST(accept(l, NULL, NULL));
  inq("empty", s);
  write_all(c, "hello", 5);
  sleep_ms(20);
  inq("after 5 bytes", s);
  char b[2];
  MUST(read(s, b, 2));
  inq("after reading 2", s);
  inq("listener", l);
  int fresh = tcp_socket("127.0.0.1");
  inq("unconnected", fresh);
  int q = -1;
  SHOW("SIOCOUTQ", ioctl(c, TIOCOUTQ, &q));
  SAY("SIOCOUTQ value -> %d\n", q);
  return 0;
}
