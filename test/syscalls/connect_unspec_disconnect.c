/* connect(AF_UNSPEC) on a connected socket disconnects it (tcp_disconnect): it answers 0, has no
 * peer any more, gives back an ephemeral port (a port bound before connect stays), keeps its
 * options, and may connect again. (What the old peer sees, a reset, is close_linger_reset's.) */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20810, 8);
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};

  int c = tcp_socket("127.0.0.1");
  MUST(setint(c, IPPROTO_TCP, TCP_NODELAY, 1));
  show_connect("connect", c, "127.0.0.1", 20810);
  int s = MUST(accept(l, NULL, NULL));
  SHOW("connect AF_UNSPEC", connect(c, &unspec, sizeof unspec));
  show_name("after disconnect", c, 1);
  show_name("after disconnect", c, 0);
  show_opt("TCP_NODELAY after disconnect", c, IPPROTO_TCP, TCP_NODELAY);
  show_connect("connect again", c, "127.0.0.1", 20810);
  int s2 = SHOWFD("accept the new connection", accept(l, NULL, NULL));
  write_all(c, "again", 5);
  show_read("server", s2, 5);
  close(s);

  int b = tcp_socket("127.0.0.1");
  show_bind("bind 127.0.0.1:20811", b, "127.0.0.1", 20811);
  show_connect("bound connect", b, "127.0.0.1", 20810);
  int s3 = MUST(accept(l, NULL, NULL));
  SHOW("bound: connect AF_UNSPEC", connect(b, &unspec, sizeof unspec));
  show_name("bound after disconnect", b, 0);
  show_connect("bound connect again", b, "127.0.0.1", 20810);
  SHOWFD("accept it", accept(l, NULL, NULL));
  close(s3);
  return 0;
}
