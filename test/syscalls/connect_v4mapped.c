/* An AF_INET6 socket connects to an IPv4 listener through a v4-mapped address; names are
 * v4-mapped on the IPv6 side and plain IPv4 on the listener side. With IPV6_V6ONLY the same
 * connect fails with ENETUNREACH. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20350, 4);
  int c = tcp_socket("::");
  show_connect("connect [::ffff:127.0.0.1]:20350", c, "::ffff:127.0.0.1", 20350);
  show_name("client6", c, 0);
  show_name("client6", c, 1);
  int s = show_accept("accept", l);
  show_name("accepted", s, 0);
  int v = tcp_socket("::");
  SHOW("IPV6_V6ONLY 1", setint(v, IPPROTO_IPV6, IPV6_V6ONLY, 1));
  show_connect("v6only connect [::ffff:127.0.0.1]:20350", v, "::ffff:127.0.0.1", 20350);
  return 0;
}
