/* Connections still in a listener's queue are reset when it goes (inet_csk_listen_stop), by
 * close or by shutdown(SHUT_RD): the client reads ECONNRESET, and the connection is over
 * (getpeername and shutdown say ENOTCONN, even once the error has been read). */
#include "common.h"
static void after_reset(const char *label, int c) {
  char b;
  SAY("%s:\n", label);
  SHOW("  read", read(c, &b, 1));
  SHOW("  read again", read(c, &b, 1));
  show_opt("  SO_ERROR", c, SOL_SOCKET, SO_ERROR);
  show_name("  after reset", c, 1);
  SHOW("  shutdown(SHUT_RDWR)", shutdown(c, SHUT_RDWR));
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20984, 4);
  int c = tcp_connect("127.0.0.1", 20984);
  SHOW("close the listener", close(l));
  sleep_ms(20);
  after_reset("blocking client", c);
  close(c);

  l = tcp_listen("127.0.0.1", 20985, 4);
  int n = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_connect("non-blocking connect", n, "127.0.0.1", 20985);
  struct pollfd p = { n, POLLOUT, 0 };
  poll(&p, 1, 1000);
  SHOW("listener shutdown(SHUT_RD)", shutdown(l, SHUT_RD));
  sleep_ms(20);
  show_name("non-blocking client", n, 1);
  show_connect("connect again (error unread)", n, "127.0.0.1", 20985);
  close(n);

  l = tcp_listen("127.0.0.1", 20986, 4);
  n = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_connect("non-blocking connect", n, "127.0.0.1", 20986);
  poll(&(struct pollfd){ n, POLLOUT, 0 }, 1, 1000);
  SHOW("close the listener", close(l));
  sleep_ms(20);
  char b;
  SHOW("read", read(n, &b, 1));
  SHOW("shutdown(SHUT_WR)", shutdown(n, SHUT_WR));
  show_connect("connect again (error read, shut down)", n, "127.0.0.1", 20986);
  close(n);
  return 0;
}
