/* [::]:P takes the IPv4 port too unless IPV6_V6ONLY is set before bind. */
#include "common.h"
int main(void) {
  int d = tcp_socket("::");
  show_opt("IPV6_V6ONLY default", d, IPPROTO_IPV6, IPV6_V6ONLY);
  show_bind("dual bind [::]:20090", d, "::", 20090);
  SHOW("dual listen", listen(d, 4));
  int a = tcp_socket("0.0.0.0");
  show_bind("bind 0.0.0.0:20090 (dual listening)", a, "0.0.0.0", 20090);
  int v = tcp_socket("::");
  SHOW("IPV6_V6ONLY 1", setint(v, IPPROTO_IPV6, IPV6_V6ONLY, 1));
  show_bind("v6only bind [::]:20091", v, "::", 20091);
  SHOW("v6only listen", listen(v, 4));
  int b = tcp_socket("0.0.0.0");
  show_bind("bind 0.0.0.0:20091 (v6only listening)", b, "0.0.0.0", 20091);
  SHOW("listen", listen(b, 4));
  int c = tcp_connect("127.0.0.1", 20091);
  MUST(fcntl(v, F_SETFL, O_NONBLOCK));
  SHOW("v6only accept (IPv4 client went to 0.0.0.0)", accept(v, NULL, NULL));
  int ac = SHOWFD("v4 accept", accept(b, NULL, NULL));
  close(ac);
  close(c);
  return 0;
}
