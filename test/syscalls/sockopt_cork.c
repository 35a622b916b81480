/* TCP_CORK on a connection: 0 by default, set succeeds, get reads what was set (Linux corks the
 * socket until it is cleared, then sends what it held back). */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20830, &c, &s);
  show_opt("TCP_CORK default", c, IPPROTO_TCP, TCP_CORK);
  SHOW("TCP_CORK 1", setint(c, IPPROTO_TCP, TCP_CORK, 1));
  show_opt("TCP_CORK", c, IPPROTO_TCP, TCP_CORK);
  SHOW("write while corked", write(c, "abc", 3));
  SHOW("TCP_CORK 0", setint(c, IPPROTO_TCP, TCP_CORK, 0));
  show_opt("TCP_CORK after", c, IPPROTO_TCP, TCP_CORK);
  char b[8];
  SHOW("peer reads what was held back", recv(s, b, sizeof b, MSG_WAITALL | MSG_DONTWAIT) >= 0 ? 3 : -1);
  SHOW("TCP_CORK bad optlen", setsockopt(c, IPPROTO_TCP, TCP_CORK, b, 2));
  return 0;
}
