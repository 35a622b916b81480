/* accept4 SOCK_NONBLOCK/SOCK_CLOEXEC set the new fd's flags; accept does not inherit the
 * listener's O_NONBLOCK. */
#include "common.h"
int main(void) {
  int l = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  show_bind("bind", l, "127.0.0.1", 20150);
  MUST(listen(l, 8));
  int c[4];
  for (int i = 0; i < 4; i++) c[i] = tcp_connect("127.0.0.1", 20150);
  sleep_ms(20);
  show_flags("listener", l);
  int a = SHOWFD("accept", accept(l, NULL, NULL));
  show_flags("accept", a);
  int b = SHOWFD("accept4(SOCK_NONBLOCK)", accept4(l, NULL, NULL, SOCK_NONBLOCK));
  show_flags("accept4(SOCK_NONBLOCK)", b);
  int d = SHOWFD("accept4(SOCK_CLOEXEC)", accept4(l, NULL, NULL, SOCK_CLOEXEC));
  show_flags("accept4(SOCK_CLOEXEC)", d);
  int e = SHOWFD("accept4(SOCK_NONBLOCK|SOCK_CLOEXEC)", accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
  show_flags("accept4(both)", e);
  SHOW("read on nonblocking accepted (no data)", read(b, &a, 1));
  for (int i = 0; i < 4; i++) close(c[i]);
  return 0;
}
