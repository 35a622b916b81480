/* Half close: the client's shutdown(SHUT_WR) gives the server EOF while the server's reply still
 * reaches the client; writing after SHUT_WR fails with EPIPE. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20560, &c, &s);
  SHOW("client write", write(c, "request", 7));
  SHOW("client shutdown(SHUT_WR)", shutdown(c, SHUT_WR));
  show_read("server", s, 7);
  char b;
  SHOW("server read EOF", read(s, &b, 1));
  show_poll("server poll", s, POLLIN | POLLRDHUP, 0);
  SHOW("server write reply", write(s, "reply", 5));
  show_read("client", c, 5);
  SHOW("client send after SHUT_WR (MSG_NOSIGNAL)", send(c, "x", 1, MSG_NOSIGNAL));
  SHOW("server close", close(s));
  SHOW("client read EOF", read(c, &b, 1));
  SHOW("client shutdown(SHUT_WR) again", shutdown(c, SHUT_WR));
  return 0;
}
