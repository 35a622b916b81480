/* listen without bind auto-binds the wildcard address on an ephemeral port; clients reach it. */
#include "common.h"
static void autobind(const char *wildcard, const char *loopback) {
  int l = tcp_socket(wildcard);
  SHOW("listen unbound", listen(l, 4));
  show_name("listener", l, 0);
  int c = tcp_connect(loopback, local_port(l));
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  show_name("accepted", s, 0);
  close(s);
  close(c);
  close(l);
}
int main(void) {
  autobind("0.0.0.0", "127.0.0.1");
  autobind("::", "::1");
  return 0;
}
