/* An IPv6 listener on ::1: accept reports a [::1] peer with a sockaddr_in6 length. */
#include "common.h"
int main(void) {
  int l = tcp_listen("::1", 20190, 4);
  int c = tcp_socket("::1");
  show_bind("client bind [::1]:20191", c, "::1", 20191);
  show_connect("connect [::1]:20190", c, "::1", 20190);
  int s = show_accept("accept", l);
  show_name("client", c, 0);
  show_name("client", c, 1);
  show_name("accepted", s, 0);
  return 0;
}
