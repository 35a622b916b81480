/* poll on a fresh, never connected TCP socket reports POLLOUT|POLLHUP at once; so does a bound
 * one; a listener reports nothing. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  show_poll("fresh socket", s, POLLIN | POLLOUT | POLLRDHUP, 0);
  int s6 = tcp_socket("::1");
  show_poll("fresh socket6", s6, POLLIN | POLLOUT, 0);
  MUST(show_bind("bind", s, "127.0.0.1", 20540));
  show_poll("bound socket", s, POLLIN | POLLOUT, 0);
  int l = tcp_listen("127.0.0.1", 20541, 4);
  show_poll("listener", l, POLLIN | POLLOUT | POLLRDHUP, 0);
  return 0;
}
