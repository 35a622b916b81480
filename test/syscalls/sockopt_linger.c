/* SO_LINGER: default off, struct round trip, optlen too small is EINVAL, getsockopt truncates. */
#include "common.h"
static void show_linger(const char *label, int fd) {
  struct linger lg = { -1, -1 };
  socklen_t len = sizeof lg;
  long r = getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len);
  SAY("%s -> %ld onoff %d linger %d optlen %u\n", label, r, lg.l_onoff, lg.l_linger, (unsigned)len);
}
int main(void) {
  int s = tcp_socket("127.0.0.1");
  show_linger("SO_LINGER default", s);
  struct linger on = { 1, 5 };
  SHOW("SO_LINGER {1,5}", setsockopt(s, SOL_SOCKET, SO_LINGER, &on, sizeof on));
  show_linger("SO_LINGER", s);
  struct linger odd = { 7, 0 };
  SHOW("SO_LINGER {7,0}", setsockopt(s, SOL_SOCKET, SO_LINGER, &odd, sizeof odd));
  show_linger("SO_LINGER", s);
  SHOW("SO_LINGER optlen 4", setsockopt(s, SOL_SOCKET, SO_LINGER, &on, 4));
  struct linger off = { 0, 9 };
  SHOW("SO_LINGER {0,9}", setsockopt(s, SOL_SOCKET, SO_LINGER, &off, sizeof off));
  show_linger("SO_LINGER", s);
  return 0;
}
