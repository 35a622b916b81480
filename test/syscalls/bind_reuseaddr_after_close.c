/* After a served connection is closed server-first (TIME_WAIT), the port can be bound again only
 * if both the new socket and the old listener had SO_REUSEADDR (Linux checks both sides). */
#include "common.h"

/* Serves one connection on port (listener with SO_REUSEADDR = reuse) and closes server-first. */
static void serve_and_close(int port, int reuse) {
  int c, s;
  int l = tcp_serve_one(port, reuse, &c, &s);
  MUST(close(s));
  close(l);
  char b;
  SHOW("client read EOF", read(c, &b, 1));
  close(c);
  sleep_ms(50);
}

int main(void) {
  int x = tcp_socket("127.0.0.1");
  show_opt("SO_REUSEADDR default", x, SOL_SOCKET, SO_REUSEADDR);
  SHOW("setsockopt SO_REUSEADDR 1", setint(x, SOL_SOCKET, SO_REUSEADDR, 1));
  show_opt("SO_REUSEADDR", x, SOL_SOCKET, SO_REUSEADDR);

  serve_and_close(20030, 0);
  show_rebind("old listener plain", "127.0.0.1", 20030, 0);
  show_rebind("old listener plain", "127.0.0.1", 20030, 1);

  serve_and_close(20031, 1);
  show_rebind("old listener reuse", "127.0.0.1", 20031, 0);
  int y = show_rebind("old listener reuse", "127.0.0.1", 20031, 1);
  if (y < 0) return 0;
  SHOW("listen", listen(y, 4));
  int c2 = tcp_connect("127.0.0.1", 20031);
  int s2 = SHOWFD("accept on the rebound port", accept(y, NULL, NULL));
  close(c2);
  close(s2);
  return 0;
}
