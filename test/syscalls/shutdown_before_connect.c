/* shutdown(2) on an unconnected socket fails ENOTCONN but still sets the socket's shutdown
 * flags (inet_shutdown), which its connection keeps: after SHUT_RD, reads see EOF at once. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20987, 4);
  int c = tcp_socket("127.0.0.1");
  SHOW("shutdown(SHUT_RD) unconnected", shutdown(c, SHUT_RD));
  show_connect("connect", c, "127.0.0.1", 20987);
  int s = MUST(accept(l, NULL, NULL));
  write_all(s, "data", 4);
  sleep_ms(20);
  struct pollfd p = { c, POLLIN | POLLRDHUP, 0 };
  SHOW("poll", poll(&p, 1, 0));
  SAY("revents POLLIN=%d POLLRDHUP=%d\n", !!(p.revents & POLLIN), !!(p.revents & POLLRDHUP));
  char b[8];
  SHOW("client read", read(c, b, sizeof b));
  SHOW("client send", send(c, "up", 2, MSG_NOSIGNAL));
  SHOW("server read", read(s, b, sizeof b));
  return 0;
}
