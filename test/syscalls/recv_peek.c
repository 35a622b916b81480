/* MSG_PEEK returns queued data without consuming it. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20570, &c, &s);
  write_all(c, "peekaboo", 8);
  sleep_ms(20);
  char buf[16] = { 0 };
  SHOW("recv MSG_PEEK 4", recv(s, buf, 4, MSG_PEEK));
  SAY("peeked -> \"%s\"\n", buf);
  memset(buf, 0, sizeof buf);
  SHOW("recv MSG_PEEK 16", recv(s, buf, 16, MSG_PEEK));
  SAY("peeked -> \"%s\"\n", buf);
  show_read("consume", s, 8);
  SHOW("recv MSG_PEEK|MSG_DONTWAIT empty", recv(s, buf, 4, MSG_PEEK | MSG_DONTWAIT));
  return 0;
}
