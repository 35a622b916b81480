/* An option one connection sets is not another's default: each fresh connection reads Linux's
 * default for options the runtime does not emulate. */
#include "common.h"
int main(void) {
  int c1, s1, c2, s2;
  tcp_pair("127.0.0.1", 20998, &c1, &s1);
  SHOW("c1 set TCP_DEFER_ACCEPT 30", setint(c1, IPPROTO_TCP, TCP_DEFER_ACCEPT, 30));
  SHOW("c1 set TCP_USER_TIMEOUT 5000", setint(c1, IPPROTO_TCP, TCP_USER_TIMEOUT, 5000));
  SHOW("c1 set IP_TOS 16", setint(c1, IPPROTO_IP, IP_TOS, 16));
  tcp_pair("127.0.0.1", 20999, &c2, &s2);
  show_opt("c1 TCP_DEFER_ACCEPT", c1, IPPROTO_TCP, TCP_DEFER_ACCEPT);
  show_opt("c2 TCP_DEFER_ACCEPT", c2, IPPROTO_TCP, TCP_DEFER_ACCEPT);
  show_opt("c2 TCP_USER_TIMEOUT", c2, IPPROTO_TCP, TCP_USER_TIMEOUT);
  show_opt("c2 IP_TOS", c2, IPPROTO_IP, IP_TOS);
  show_opt("s1 TCP_USER_TIMEOUT", s1, IPPROTO_TCP, TCP_USER_TIMEOUT);
  return 0;
}
