/* Closing a socket with unread data resets the connection: the peer's read fails with
 * ECONNRESET, and later calls see the socket closed. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20700, &c, &s);
  write_all(c, "unread", 6);
  sleep_ms(20);
  SHOW("server close with unread data", close(s));
  sleep_ms(20);
  char b;
  SHOW("client read", read(c, &b, 1));
  SHOW("client read again", read(c, &b, 1));
  show_opt("SO_ERROR", c, SOL_SOCKET, SO_ERROR);
  SHOW("client send (MSG_NOSIGNAL)", send(c, "x", 1, MSG_NOSIGNAL));
  return 0;
}
