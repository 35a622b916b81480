/* A dual-stack [::] listener accepts an IPv4 client; both names of the accepted socket are
 * v4-mapped IPv6 addresses. */
#include "common.h"
int main(void) {
  int l = tcp_listen("::", 20420, 4);
  show_name("listener", l, 0);
  int c = tcp_socket("127.0.0.1");
  show_bind("client bind 127.0.0.1:20421", c, "127.0.0.1", 20421);
  show_connect("IPv4 connect 127.0.0.1:20420", c, "127.0.0.1", 20420);
  int s = show_accept("accept", l);
  show_name("accepted", s, 0);
  show_name("accepted", s, 1);
  show_opt("accepted SO_DOMAIN", s, SOL_SOCKET, SO_DOMAIN);
  int c6 = tcp_connect("::1", 20420);
  int s6 = SHOWFD("accept IPv6 client", accept(l, NULL, NULL));
  show_name("accepted6", s6, 1);
  close(c6);
  return 0;
}
