/* TCP_DEFER_ACCEPT: the client's connect completes at once, but the listener has nothing to
 * accept (and is not readable) until the client's first bytes arrive; then the connection is
 * accepted with its data waiting. */
#include "common.h"
int main(void) {
  int l = tcp_listen_with("127.0.0.1", 20760, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5, "setsockopt TCP_DEFER_ACCEPT 5");
  int c = tcp_connect("127.0.0.1", 20760);
  SAY("client connected\n");
  show_poll("listener before data", l, POLLIN, 200);
  MUST(fcntl(l, F_SETFL, O_NONBLOCK));
  SHOW("accept before data", accept(l, NULL, NULL));
  SHOW("client write", write(c, "hello", 5));
  show_poll("listener after data", l, POLLIN, 2000);
  int s = SHOWFD("accept after data", accept(l, NULL, NULL));
  char buf[16] = {0};
  SHOW("server read", read(s, buf, sizeof buf - 1));
  SAY("server got \"%s\"\n", buf);
  return 0;
}
