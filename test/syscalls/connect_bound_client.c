/* A client bound to a fixed port before connect keeps it; the server sees exactly that peer. A
 * client bound to the wildcard gets the route's source address. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20370, 4);
  int c = tcp_socket("127.0.0.1");
  show_bind("client bind 127.0.0.1:20371", c, "127.0.0.1", 20371);
  show_connect("connect", c, "127.0.0.1", 20370);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  show_name("accepted", s, 1);
  int w = tcp_socket("0.0.0.0");
  show_bind("client bind 0.0.0.0:20372", w, "0.0.0.0", 20372);
  show_name("before connect", w, 0);
  show_connect("connect", w, "127.0.0.1", 20370);
  show_name("after connect", w, 0);
  int c2 = tcp_socket("127.0.0.1");
  show_bind("client bind 127.0.0.1:20371 (in use by a connection)", c2, "127.0.0.1", 20371);
  return 0;
}
