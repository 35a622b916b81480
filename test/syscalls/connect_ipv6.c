/* IPv6 loopback end to end: connect [::1], data both ways. */
#include "common.h"
int main(void) {
  int l = tcp_listen("::1", 20380, 4);
  int c = tcp_socket("::1");
  show_connect("connect [::1]:20380", c, "::1", 20380);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  show_name("client", c, 1);
  show_name("accepted", s, 0);
  SHOW("client write", write(c, "six", 3));
  show_read("server", s, 3);
  SHOW("server write", write(s, "four", 4));
  show_read("client", c, 4);
  int v4 = tcp_socket("127.0.0.1");
  show_connect("IPv4 client to the [::1] port", v4, "127.0.0.1", 20380);
  return 0;
}
