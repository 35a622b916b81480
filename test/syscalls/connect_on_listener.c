/* connect(2) on a listening socket fails EISCONN, whatever the address (__inet_stream_connect:
 * the socket is not TCP_CLOSE), after the address length check. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20980, 4);
  show_connect("connect to itself", l, "127.0.0.1", 20980);
  show_connect("connect elsewhere", l, "127.0.0.1", 20981);
  show_connect("connect to an IPv6 address", l, "::1", 20980);
  struct sockaddr_in a = { .sin_family = AF_INET };
  SHOW("connect with addrlen 1", connect(l, (struct sockaddr *)&a, 1));
  int c = tcp_connect("127.0.0.1", 20980);
  SHOW("still listening: accept", accept(l, NULL, NULL) >= 0);
  close(c);
  return 0;
}
