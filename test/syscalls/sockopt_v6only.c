/* IPV6_V6ONLY: default 0, round trip, ENOPROTOOPT (set) / EOPNOTSUPP (get) on an AF_INET
 * socket, EINVAL once bound; binding a specific IPv6 address turns it on by itself. */
#include "common.h"
int main(void) {
  int s = tcp_socket("::");
  show_opt("IPV6_V6ONLY default", s, IPPROTO_IPV6, IPV6_V6ONLY);
  SHOW("IPV6_V6ONLY 1", setint(s, IPPROTO_IPV6, IPV6_V6ONLY, 1));
  show_opt("IPV6_V6ONLY", s, IPPROTO_IPV6, IPV6_V6ONLY);
  SHOW("IPV6_V6ONLY 0", setint(s, IPPROTO_IPV6, IPV6_V6ONLY, 0));
  show_opt("IPV6_V6ONLY", s, IPPROTO_IPV6, IPV6_V6ONLY);
  int v4 = tcp_socket("127.0.0.1");
  SHOW("IPV6_V6ONLY on AF_INET socket", setint(v4, IPPROTO_IPV6, IPV6_V6ONLY, 1));
  show_opt("get IPV6_V6ONLY on AF_INET socket", v4, IPPROTO_IPV6, IPV6_V6ONLY);
  MUST(show_bind("bind [::1]:20490", s, "::1", 20490));
  SHOW("IPV6_V6ONLY 1 after bind", setint(s, IPPROTO_IPV6, IPV6_V6ONLY, 1));
  show_opt("IPV6_V6ONLY after bind", s, IPPROTO_IPV6, IPV6_V6ONLY);
  return 0;
}
