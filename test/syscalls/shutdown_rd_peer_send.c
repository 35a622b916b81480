/* shutdown(SHUT_RD) tells the peer nothing on TCP: the peer's sends still succeed (the bytes are
 * acknowledged and dropped), while our reads see EOF at once. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20720, &c, &s);
  SHOW("server shutdown(SHUT_RD)", shutdown(s, SHUT_RD));
  char b;
  SHOW("server read", read(s, &b, 1));
  SHOW("client send", send(c, "after", 5, MSG_NOSIGNAL));
  SHOW("server send", send(s, "reply", 5, MSG_NOSIGNAL));
  char buf[8];
  SHOW("client read", read(c, buf, sizeof buf));
  return 0;
}
