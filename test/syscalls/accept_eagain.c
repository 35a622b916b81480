/* accept/accept4 on a non-blocking listener with no pending connection fail with EAGAIN. */
#include "common.h"
int main(void) {
  int l = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_bind("bind", l, "127.0.0.1", 20140);
  SHOW("listen", listen(l, 4));
  SHOW("accept (nonblocking, none pending)", accept(l, NULL, NULL));
  SHOW("accept4 (nonblocking, none pending)", accept4(l, NULL, NULL, SOCK_CLOEXEC));
  int c = tcp_connect("127.0.0.1", 20140);
  sleep_ms(20);
  int s = SHOWFD("accept (one pending)", accept(l, NULL, NULL));
  SHOW("accept (drained)", accept(l, NULL, NULL));
  close(s);
  close(c);
  return 0;
}
