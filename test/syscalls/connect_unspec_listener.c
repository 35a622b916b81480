/* connect(AF_UNSPEC) on a listener disconnects it (tcp_disconnect): it stops listening, a
 * client is refused, accept fails EINVAL, and the socket keeps its port and may listen again. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20780, 4);
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};
  SHOW("connect AF_UNSPEC on the listener", connect(l, &unspec, sizeof unspec));
  show_opt("SO_ACCEPTCONN", l, SOL_SOCKET, SO_ACCEPTCONN);
  int c = tcp_socket("127.0.0.1");
  show_connect("client connect", c, "127.0.0.1", 20780);
  MUST(fcntl(l, F_SETFL, O_NONBLOCK));
  SHOW("accept", accept(l, NULL, NULL));
  show_name("still bound", l, 0);
  SHOW("listen again", listen(l, 4));
  int c2 = tcp_socket("127.0.0.1");
  show_connect("client connect", c2, "127.0.0.1", 20780);
  SHOWFD("accept", accept(l, NULL, NULL));
  return 0;
}
