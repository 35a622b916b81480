/* listen accepts any backlog (negative, 0, huge: clamped to somaxconn), and listen again on a
 * listening socket is allowed; a connection completes even with backlog 0. */
#include "common.h"
int main(void) {
  int a = tcp_socket("127.0.0.1");
  show_bind("bind 127.0.0.1:20100", a, "127.0.0.1", 20100);
  SHOW("listen(-1)", listen(a, -1));
  SHOW("listen(0) again", listen(a, 0));
  SHOW("listen(1000000) again", listen(a, 1000000));
  SHOW("listen(0) again", listen(a, 0));
  show_opt("SO_ACCEPTCONN", a, SOL_SOCKET, SO_ACCEPTCONN);
  int c = tcp_connect("127.0.0.1", 20100);
  int s = SHOWFD("accept with backlog 0", accept(a, NULL, NULL));
  close(s);
  close(c);
  return 0;
}
