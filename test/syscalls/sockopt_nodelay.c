/* TCP_NODELAY: off by default, set/get round trip, inherited by accepted sockets. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20460, 4);
  show_opt("listener TCP_NODELAY default", l, IPPROTO_TCP, TCP_NODELAY);
  SHOW("listener TCP_NODELAY 1", setint(l, IPPROTO_TCP, TCP_NODELAY, 1));
  show_opt("listener TCP_NODELAY", l, IPPROTO_TCP, TCP_NODELAY);
  int c = tcp_socket("127.0.0.1");
  SHOW("client TCP_NODELAY 5 (nonzero)", setint(c, IPPROTO_TCP, TCP_NODELAY, 5));
  show_opt("client TCP_NODELAY", c, IPPROTO_TCP, TCP_NODELAY);
  MUST(show_connect("connect", c, "127.0.0.1", 20460));
  show_opt("client TCP_NODELAY after connect", c, IPPROTO_TCP, TCP_NODELAY);
  int s = MUST(accept(l, NULL, NULL));
  show_opt("accepted TCP_NODELAY (inherited)", s, IPPROTO_TCP, TCP_NODELAY);
  SHOW("accepted TCP_NODELAY 0", setint(s, IPPROTO_TCP, TCP_NODELAY, 0));
  show_opt("accepted TCP_NODELAY", s, IPPROTO_TCP, TCP_NODELAY);
  return 0;
}
