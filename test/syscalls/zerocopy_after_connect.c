/* SO_ZEROCOPY enabled on a connection that is already established (as a server may do on each
 * accepted socket): TCP takes it and reports each MSG_ZEROCOPY send's completion on the error
 * queue. Under tsor the connection is a socketpair, which has no error queue: the sentry refuses
 * the option (EOPNOTSUPP, as Linux does for an AF_UNIX socket) so that the app sends with copies
 * instead of waiting for completions that would never come (a listed divergence). */
#include "common.h"
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
int main(void) {
  int c, s, one = 1;
  tcp_pair("127.0.0.1", 20890, &c, &s);
  show_opt("accepted SO_ZEROCOPY default", s, SOL_SOCKET, SO_ZEROCOPY);
  SHOW("accepted SO_ZEROCOPY 1", setsockopt(s, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one));
  show_opt("accepted SO_ZEROCOPY", s, SOL_SOCKET, SO_ZEROCOPY);
  SHOW("client SO_ZEROCOPY 1", setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one));
  return 0;
}
