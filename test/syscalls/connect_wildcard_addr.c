/* connect to 0.0.0.0 / :: reaches a local listener (Linux treats it as loopback). */
#include "common.h"
int main(void) {
  int l = tcp_listen("0.0.0.0", 20360, 4);
  int c = tcp_socket("0.0.0.0");
  show_connect("connect 0.0.0.0:20360", c, "0.0.0.0", 20360);
  show_name("client", c, 1);
  show_name("client", c, 0);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  show_name("accepted", s, 0);
  int l6 = tcp_listen("::", 20361, 4);
  int c6 = tcp_socket("::");
  show_connect("connect [::]:20361", c6, "::", 20361);
  show_name("client6", c6, 1);
  int s6 = SHOWFD("accept6", accept(l6, NULL, NULL));
  show_name("accepted6", s6, 0);
  return 0;
}
