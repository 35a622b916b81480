/* accept4 with flags other than SOCK_NONBLOCK|SOCK_CLOEXEC fails with EINVAL (the pending
 * connection stays queued). */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20160, 4);
  int c = tcp_connect("127.0.0.1", 20160);
  SHOW("accept4(flags 1)", accept4(l, NULL, NULL, 1));
  SHOW("accept4(flags O_APPEND)", accept4(l, NULL, NULL, O_APPEND));
  SHOW("accept4(SOCK_NONBLOCK|4)", accept4(l, NULL, NULL, SOCK_NONBLOCK | 4));
  int s = SHOWFD("accept4(0) still gets the connection", accept4(l, NULL, NULL, 0));
  close(s);
  close(c);
  return 0;
}
