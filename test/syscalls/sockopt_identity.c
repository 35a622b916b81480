/* SO_DOMAIN, SO_TYPE, SO_PROTOCOL and SO_ACCEPTCONN of IPv4/IPv6 TCP sockets (plain, listening,
 * accepted). */
#include "common.h"
static void ident(const char *label, int fd) {
  SAY("%s: domain %d type %d protocol %d acceptconn %d\n", label, getint(fd, SOL_SOCKET, SO_DOMAIN),
      getint(fd, SOL_SOCKET, SO_TYPE), getint(fd, SOL_SOCKET, SO_PROTOCOL), getint(fd, SOL_SOCKET, SO_ACCEPTCONN));
}
int main(void) {
  int a = tcp_socket("127.0.0.1");
  ident("AF_INET", a);
  int b = MUST(socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP));
  ident("AF_INET6 nonblock", b);
  int l = tcp_listen("127.0.0.1", 20440, 4);
  ident("listener", l);
  int c = tcp_connect("127.0.0.1", 20440);
  ident("client", c);
  int s = MUST(accept(l, NULL, NULL));
  ident("accepted", s);
  SHOW("setsockopt SO_TYPE (read-only)", setint(a, SOL_SOCKET, SO_TYPE, SOCK_DGRAM));
  SHOW("setsockopt SO_ACCEPTCONN (read-only)", setint(a, SOL_SOCKET, SO_ACCEPTCONN, 1));
  return 0;
}
