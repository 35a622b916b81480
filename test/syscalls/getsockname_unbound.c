/* getsockname of a fresh socket is the family's wildcard with port 0; getpeername of an
 * unconnected or listening socket fails with ENOTCONN. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  show_name("fresh", s, 0);
  show_name("fresh", s, 1);
  int s6 = tcp_socket("::1");
  show_name("fresh6", s6, 0);
  show_name("fresh6", s6, 1);
  int l = tcp_listen("127.0.0.1", 20400, 4);
  show_name("listener", l, 1);
  int b = tcp_socket("127.0.0.1");
  MUST(show_bind("bind", b, "127.0.0.1", 20401));
  show_name("bound", b, 1);
  return 0;
}
