/* I/O on a socket that is not connected: read/recv fail with ENOTCONN, send with EPIPE (no
 * SIGPIPE with MSG_NOSIGNAL), shutdown with ENOTCONN; a listener the same, but shutdown(SHUT_WR)
 * on it succeeds. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  char b;
  SHOW("read unconnected", read(s, &b, 1));
  SHOW("recv MSG_DONTWAIT unconnected", recv(s, &b, 1, MSG_DONTWAIT));
  SHOW("send unconnected (MSG_NOSIGNAL)", send(s, "x", 1, MSG_NOSIGNAL));
  SHOW("shutdown unconnected", shutdown(s, SHUT_RDWR));
  int l = tcp_listen("127.0.0.1", 20545, 4);
  SHOW("read listener", read(l, &b, 1));
  SHOW("send listener (MSG_NOSIGNAL)", send(l, "x", 1, MSG_NOSIGNAL));
  SHOW("shutdown(SHUT_WR) listener", shutdown(l, SHUT_WR));
  signal(SIGPIPE, SIG_IGN);
  SHOW("write unconnected (SIGPIPE ignored)", write(s, "x", 1));
  return 0;
}
