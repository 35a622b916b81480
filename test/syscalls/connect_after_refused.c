/* A refused non-blocking connect leaves the socket SS_CONNECTING: the next connect answers the
 * error (or ECONNABORTED once SO_ERROR has read it) and disconnects it, and the one after that
 * connects. shutdown(2) meanwhile makes it SS_DISCONNECTING instead: connect then says EINVAL. */
#include "common.h"
static int refused(const char *label, int port) {
  int s = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_connect(label, s, "127.0.0.1", port);
  struct pollfd p = { s, POLLOUT, 0 };
  poll(&p, 1, 1000);
  return s;
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20982, 4);
  int s = refused("connect to a closed port", 20983);
  show_opt("SO_ERROR", s, SOL_SOCKET, SO_ERROR);
  show_connect("connect again (error read)", s, "127.0.0.1", 20982);
  long r = show_connect("connect to the listener", s, "127.0.0.1", 20982);
  if (r < 0 && errno == EINPROGRESS) {
    struct pollfd p = { s, POLLOUT, 0 };
    poll(&p, 1, 1000);
    show_opt("SO_ERROR", s, SOL_SOCKET, SO_ERROR);
  }
  SHOW("accept", accept(l, NULL, NULL) >= 0);
  close(s);

  s = refused("second socket: connect to a closed port", 20983);
  show_connect("connect again (error unread)", s, "127.0.0.1", 20982);
  show_opt("SO_ERROR", s, SOL_SOCKET, SO_ERROR);
  close(s);

  s = refused("third socket: connect to a closed port", 20983);
  show_opt("SO_ERROR", s, SOL_SOCKET, SO_ERROR);
  SHOW("shutdown(SHUT_WR)", shutdown(s, SHUT_WR));
  show_connect("connect after shutdown", s, "127.0.0.1", 20982);
  close(s);
  return 0;
}
