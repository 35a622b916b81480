/* A connection's own shutdown is not its peer's: after shutdown(SHUT_RDWR) the connection is
 * in FIN_WAIT2 until the peer closes (getpeername answers, shutdown again succeeds); a
 * non-blocking connect's socket shut down is connected (connect: EISCONN, not 0). */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20996, 4);
  int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_connect("non-blocking connect", c, "127.0.0.1", 20996);
  poll(&(struct pollfd){ c, POLLOUT, 0 }, 1, 1000);
  int s = MUST(accept(l, NULL, NULL));
  SHOW("client shutdown(SHUT_RDWR)", shutdown(c, SHUT_RDWR));
  show_name("client", c, 1);
  SHOW("client shutdown(SHUT_RDWR) again", shutdown(c, SHUT_RDWR));
  show_connect("client connect again", c, "127.0.0.1", 20996);
  show_name("client", c, 1);
  SHOW("server close", close(s));
  sleep_ms(20);
  show_name("client after the server's close", c, 1);
  SHOW("client shutdown(SHUT_RD) then", shutdown(c, SHUT_RD));
  int c2, s2;
  tcp_pair("127.0.0.1", 20997, &c2, &s2);
  SHOW("second client shutdown(SHUT_RD)", shutdown(c2, SHUT_RD));
  show_name("second client", c2, 1);
  SHOW("second client shutdown(SHUT_WR)", shutdown(c2, SHUT_WR));
  show_name("second client", c2, 1);
  return 0;
}
