/* SO_RCVBUF/SO_SNDBUF: the kernel doubles the value set (for bookkeeping overhead) and enforces
 * a minimum. Printed as relations, not raw sizes. */
#include "common.h"
static void check(const char *name, int fd, int opt, int set) {
  int r = (int)setint(fd, SOL_SOCKET, opt, set);
  int got = getint(fd, SOL_SOCKET, opt);
  SAY("%s set %d -> %d, get == 2*set -> %d, get >= set -> %d\n", name, set, r, got == 2 * set, got >= set);
}
int main(void) {
  int s = tcp_socket("127.0.0.1");
  SAY("SO_RCVBUF default > 0 -> %d\n", getint(s, SOL_SOCKET, SO_RCVBUF) > 0);
  SAY("SO_SNDBUF default > 0 -> %d\n", getint(s, SOL_SOCKET, SO_SNDBUF) > 0);
  check("SO_RCVBUF", s, SO_RCVBUF, 65536);
  check("SO_SNDBUF", s, SO_SNDBUF, 65536);
  check("SO_RCVBUF", s, SO_RCVBUF, 100000);
  check("SO_SNDBUF", s, SO_SNDBUF, 100000);
  check("SO_RCVBUF", s, SO_RCVBUF, 1);
  check("SO_SNDBUF", s, SO_SNDBUF, 1);
  SAY("SO_RCVBUF min 2304 -> %d\n", getint(s, SOL_SOCKET, SO_RCVBUF) == 2304);
  SAY("SO_SNDBUF min 4608 -> %d\n", getint(s, SOL_SOCKET, SO_SNDBUF) == 4608);
  SHOW("SO_RCVBUF -1", setint(s, SOL_SOCKET, SO_RCVBUF, -1));
  int l = tcp_listen("127.0.0.1", 20480, 4);
  MUST(setint(l, SOL_SOCKET, SO_RCVBUF, 65536));
  int c = tcp_connect("127.0.0.1", 20480);
  int a = MUST(accept(l, NULL, NULL));
  SAY("accepted inherits SO_RCVBUF -> %d\n", getint(a, SOL_SOCKET, SO_RCVBUF) == 2 * 65536);
  close(c);
  return 0;
}
