/* select on a listening socket: readable once a client is pending, not before, not after accept. */
#include "common.h"
static void show_select(const char *label, int fd, long usec) {
  fd_set r, w;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_SET(fd, &r);
  FD_SET(fd, &w);
  struct timeval tv = { usec / 1000000, usec % 1000000 };
  errno = 0;
  int n = select(fd + 1, &r, &w, NULL, &tv);
  if (n < 0) SAY("%s -> -1 %s\n", label, errname(errno));
  else SAY("%s -> %d readable %d writable %d\n", label, n, FD_ISSET(fd, &r) != 0, FD_ISSET(fd, &w) != 0);
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20530, 4);
  show_select("idle", l, 0);
  int c = tcp_connect("127.0.0.1", 20530);
  show_select("client pending", l, 1000000);
  int s = MUST(accept(l, NULL, NULL));
  show_select("after accept", l, 0);
  show_select("accepted", s, 0);
  close(c);
  show_select("accepted after peer close", s, 1000000);
  return 0;
}
