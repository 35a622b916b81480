/* connect(2) to 0.0.0.0 goes to the address the socket is bound to (ip_route_output: an empty
 * destination takes the source), to 127.0.0.1 only when it is unbound. */
#include "common.h"
int main(void) {
  int l1 = tcp_listen("127.0.0.1", 20960, 4);
  int a = tcp_socket("127.0.0.1");
  show_bind("bind 127.0.0.2:0", a, "127.0.0.2", 0);
  show_connect("connect 0.0.0.0:20960 (listener on 127.0.0.1 only)", a, "0.0.0.0", 20960);
  int l2 = tcp_listen("127.0.0.2", 20961, 4);
  int b = tcp_socket("127.0.0.1");
  show_bind("bind 127.0.0.2:0", b, "127.0.0.2", 0);
  show_connect("connect 0.0.0.0:20961 (listener on 127.0.0.2)", b, "0.0.0.0", 20961);
  show_name("connected", b, 1);
  int c = tcp_socket("127.0.0.1");
  show_connect("unbound: connect 0.0.0.0:20960", c, "0.0.0.0", 20960);
  show_name("connected", c, 1);
  close(l1);
  close(l2);
  return 0;
}
