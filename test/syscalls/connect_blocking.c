/* A blocking connect returns 0 once established; addresses on both sides agree. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20310, 4);
  int c = tcp_socket("127.0.0.1");
  show_connect("connect 127.0.0.1:20310", c, "127.0.0.1", 20310);
  show_name("client", c, 0);
  show_name("client", c, 1);
  int s = show_accept("accept", l);
  SAY("accepted peer port == client port -> %d\n", port_of(s, 1) == local_port(c));
  show_name("accepted", s, 0);
  write_all(c, "abc", 3);
  show_read("server", s, 3);
  return 0;
}
