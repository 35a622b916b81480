/* getpeername keeps answering after the peer has closed (CLOSE_WAIT); it fails with ENOTCONN once
 * our own shutdown has completed the close (CLOSE) and once the connection is reset. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20430, &c, &s);
  MUST(close(c));
  char b;
  SHOW("server read EOF", read(s, &b, 1));
  show_name("after peer close", s, 1);
  SHOW("shutdown(SHUT_RDWR)", shutdown(s, SHUT_RDWR));
  show_name("after shutdown", s, 1);
  int c2, s2;
  tcp_pair("127.0.0.1", 20431, &c2, &s2);
  struct linger lg = { 1, 0 };
  MUST(setsockopt(c2, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
  MUST(close(c2));
  sleep_ms(20);
  show_name("after reset", s2, 1);
  return 0;
}
