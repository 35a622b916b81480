/* A close with SO_LINGER {1, 0} resets the connection: the peer's next read fails ECONNRESET,
 * the one after reads EOF, and the peer has no peer name any more. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20790, &c, &s);
  struct linger lg = {1, 0};
  SHOW("setsockopt SO_LINGER {1, 0}", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
  SHOW("server close", close(s));
  sleep_ms(20);
  char b;
  SHOW("client read", read(c, &b, 1));
  SHOW("client read again", read(c, &b, 1));
  show_name("client after reset", c, 1);
  return 0;
}
