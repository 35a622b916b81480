/* SO_KEEPALIVE and TCP_KEEPIDLE/KEEPINTVL/KEEPCNT: defaults, round trips, range errors,
 * inheritance by accepted sockets. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20470, 4);
  show_opt("SO_KEEPALIVE default", l, SOL_SOCKET, SO_KEEPALIVE);
  show_opt("TCP_KEEPIDLE default", l, IPPROTO_TCP, TCP_KEEPIDLE);
  show_opt("TCP_KEEPINTVL default", l, IPPROTO_TCP, TCP_KEEPINTVL);
  show_opt("TCP_KEEPCNT default", l, IPPROTO_TCP, TCP_KEEPCNT);
  SHOW("SO_KEEPALIVE 1", setint(l, SOL_SOCKET, SO_KEEPALIVE, 1));
  SHOW("TCP_KEEPIDLE 30", setint(l, IPPROTO_TCP, TCP_KEEPIDLE, 30));
  SHOW("TCP_KEEPINTVL 5", setint(l, IPPROTO_TCP, TCP_KEEPINTVL, 5));
  SHOW("TCP_KEEPCNT 3", setint(l, IPPROTO_TCP, TCP_KEEPCNT, 3));
  show_opt("SO_KEEPALIVE", l, SOL_SOCKET, SO_KEEPALIVE);
  show_opt("TCP_KEEPIDLE", l, IPPROTO_TCP, TCP_KEEPIDLE);
  show_opt("TCP_KEEPINTVL", l, IPPROTO_TCP, TCP_KEEPINTVL);
  show_opt("TCP_KEEPCNT", l, IPPROTO_TCP, TCP_KEEPCNT);
  SHOW("TCP_KEEPIDLE 0", setint(l, IPPROTO_TCP, TCP_KEEPIDLE, 0));
  SHOW("TCP_KEEPINTVL 0", setint(l, IPPROTO_TCP, TCP_KEEPINTVL, 0));
  SHOW("TCP_KEEPCNT 0", setint(l, IPPROTO_TCP, TCP_KEEPCNT, 0));
  SHOW("TCP_KEEPIDLE 40000", setint(l, IPPROTO_TCP, TCP_KEEPIDLE, 40000));
  SHOW("TCP_KEEPCNT 128", setint(l, IPPROTO_TCP, TCP_KEEPCNT, 128));
  int c = tcp_connect("127.0.0.1", 20470);
  int s = MUST(accept(l, NULL, NULL));
  show_opt("accepted SO_KEEPALIVE", s, SOL_SOCKET, SO_KEEPALIVE);
  show_opt("accepted TCP_KEEPIDLE", s, IPPROTO_TCP, TCP_KEEPIDLE);
  show_opt("accepted TCP_KEEPINTVL", s, IPPROTO_TCP, TCP_KEEPINTVL);
  show_opt("accepted TCP_KEEPCNT", s, IPPROTO_TCP, TCP_KEEPCNT);
  show_opt("client SO_KEEPALIVE", c, SOL_SOCKET, SO_KEEPALIVE);
  /* Set on the client before connect: the connection keeps it. */
  int c2 = tcp_socket("127.0.0.1");
  SHOW("client 2 SO_KEEPALIVE 1 before connect", setint(c2, SOL_SOCKET, SO_KEEPALIVE, 1));
  show_connect("client 2 connect", c2, "127.0.0.1", 20470);
  show_opt("client 2 SO_KEEPALIVE", c2, SOL_SOCKET, SO_KEEPALIVE);
  SHOW("client 2 SO_KEEPALIVE 0", setint(c2, SOL_SOCKET, SO_KEEPALIVE, 0));
  show_opt("client 2 SO_KEEPALIVE after", c2, SOL_SOCKET, SO_KEEPALIVE);
  SHOW("accepted SO_KEEPALIVE 0", setint(s, SOL_SOCKET, SO_KEEPALIVE, 0));
  show_opt("accepted SO_KEEPALIVE after", s, SOL_SOCKET, SO_KEEPALIVE);
  return 0;
}
