/* dup2 over a socket fd: a listener and a connection keep working under their new numbers, and
 * a connection closes only when its last fd does. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20260, 4);
  int junk = MUST(memfd_create("junk", 0));
  SHOWFD("dup2 listener over another fd", dup2(l, junk));
  SHOW("close original listener", close(l));
  show_opt("SO_ACCEPTCONN via dup", junk, SOL_SOCKET, SO_ACCEPTCONN);
  show_name("dup listener", junk, 0);
  int c = tcp_connect("127.0.0.1", 20260);
  int s = SHOWFD("accept via dup", accept(junk, NULL, NULL));
  int d = SHOWFD("dup accepted", dup(s));
  SHOW("close first accepted fd", close(s));
  SHOW("write via dup", write(d, "dup!", 4));
  show_read("client", c, 4);
  int c2 = MUST(socket(AF_INET, SOCK_STREAM, 0));
  SHOWFD("dup2 connection over a fresh socket", dup2(c, c2));
  SHOW("write via dup2 target", write(c2, "back", 4));
  show_read("server", d, 4);
  SHOW("close dup", close(d));
  char b;
  SHOW("client read EOF", read(c, &b, 1));
  return 0;
}
