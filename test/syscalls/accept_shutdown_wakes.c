/* shutdown(SHUT_RD) on a listener wakes a thread blocked in accept with EINVAL; the port is then
 * refused; close follows. (shutdown(SHUT_WR) alone leaves the listener alone.) */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20220, 4);
  SHOW("shutdown(SHUT_WR) on listener", shutdown(l, SHUT_WR));
  show_opt("SO_ACCEPTCONN after SHUT_WR", l, SOL_SOCKET, SO_ACCEPTCONN);
  struct blocked_accept b;
  start_accept(&b, l);
  sleep_ms(100);
  SHOW("shutdown(SHUT_RD) on listener", shutdown(l, SHUT_RD));
  SAY("blocked accept -> %s\n", finish_accept(&b));
  show_opt("SO_ACCEPTCONN after SHUT_RD", l, SOL_SOCKET, SO_ACCEPTCONN);
  SHOW("accept after shutdown", accept(l, NULL, NULL));
  int c = tcp_socket("127.0.0.1");
  show_connect("connect after shutdown", c, "127.0.0.1", 20220);
  show_name("listener", l, 0);
  SHOW("close listener", close(l));
  return 0;
}
