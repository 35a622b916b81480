/* SO_PEEK_OFF on a connection (TCP since Linux 6.9): MSG_PEEK starts at the offset and moves it
 * on; a read moves it back by what it took; -1 turns it off. An accepted socket inherits its
 * listener's, a client keeps what it set before connecting. */
#include "common.h"
static void peek(const char *label, int fd, int n) {
  char b[16] = { 0 };
  long r = recv(fd, b, (size_t)n, MSG_PEEK);
  if (r < 0) SHOW(label, r);
  else SAY("%s -> %ld \"%s\", offset %d\n", label, r, b, getint(fd, SOL_SOCKET, SO_PEEK_OFF));
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20448, 4);
  int c = tcp_connect("127.0.0.1", 20448);
  int s = MUST(accept(l, NULL, NULL));
  SAY("default offset %d\n", getint(s, SOL_SOCKET, SO_PEEK_OFF));
  SHOW("setsockopt SO_PEEK_OFF 0", setint(s, SOL_SOCKET, SO_PEEK_OFF, 0));
  MUST(write(c, "abcdef", 6));
  sleep_ms(20);
  peek("peek 2", s, 2);
  peek("peek 2 again", s, 2);
  char b[16] = { 0 };
  SHOW("read 3", read(s, b, 3));
  SAY("read \"%s\", offset %d\n", b, getint(s, SOL_SOCKET, SO_PEEK_OFF));
  peek("peek 2 after the read", s, 2);
  SHOW("setsockopt SO_PEEK_OFF -1", setint(s, SOL_SOCKET, SO_PEEK_OFF, -1));
  peek("peek 3 with the offset off", s, 3);
  SHOW("setsockopt SO_PEEK_OFF -5", setint(s, SOL_SOCKET, SO_PEEK_OFF, -5));
  SAY("offset %d\n", getint(s, SOL_SOCKET, SO_PEEK_OFF));

  int l2 = tcp_listen_with("127.0.0.1", 20449, SOL_SOCKET, SO_PEEK_OFF, 3, "listener: setsockopt SO_PEEK_OFF 3");
  int c2 = tcp_socket("127.0.0.1");
  SHOW("client: setsockopt SO_PEEK_OFF 0 before connect", setint(c2, SOL_SOCKET, SO_PEEK_OFF, 0));
  MUST(show_connect("client: connect", c2, "127.0.0.1", 20449));
  int s2 = MUST(accept(l2, NULL, NULL));
  SAY("accepted inherits %d, client keeps %d\n", getint(s2, SOL_SOCKET, SO_PEEK_OFF), getint(c2, SOL_SOCKET, SO_PEEK_OFF));
  MUST(write(c2, "0123456789", 10));
  sleep_ms(20);
  peek("accepted: peek 2", s2, 2);
  return 0;
}
