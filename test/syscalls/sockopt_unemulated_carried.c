/* Options the sentry does not emulate, set on a socket before it connects or on a listener
 * (before or after listen), are still what the connection and the accepted socket read back: the
 * connection keeps its socket's options, and an accepted socket is a copy of its listener
 * (sk_clone_lock), as IP_TOS and TCP_NOTSENT_LOWAT show. */
#include "common.h"
static void show_all(const char *who, int fd) {
  show_optf(fd, SOL_SOCKET, SO_BROADCAST, "%s SO_BROADCAST", who);
  show_optf(fd, SOL_SOCKET, SO_PRIORITY, "%s SO_PRIORITY", who);
  show_optf(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, "%s TCP_NOTSENT_LOWAT", who);
  show_optf(fd, IPPROTO_IP, IP_TOS, "%s IP_TOS", who);
  show_optf(fd, IPPROTO_IP, IP_TTL, "%s IP_TTL", who);
}
int main(void) {
  int l = MUST(socket(AF_INET, SOCK_STREAM, 0));
  SHOW("listener SO_BROADCAST 1 (before listen)", setint(l, SOL_SOCKET, SO_BROADCAST, 1));
  show_bind("bind", l, "127.0.0.1", 20823);
  MUST(listen(l, 8));
  SHOW("listener TCP_NOTSENT_LOWAT 7000 (listening)", setint(l, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 7000));
  SHOW("listener IP_TOS 0x20", setint(l, IPPROTO_IP, IP_TOS, 0x20));
  int c = MUST(socket(AF_INET, SOCK_STREAM, 0));
  SHOW("client SO_BROADCAST 1", setint(c, SOL_SOCKET, SO_BROADCAST, 1));
  SHOW("client SO_PRIORITY 3", setint(c, SOL_SOCKET, SO_PRIORITY, 3));
  SHOW("client TCP_NOTSENT_LOWAT 5000", setint(c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 5000));
  SHOW("client IP_TOS 0x10", setint(c, IPPROTO_IP, IP_TOS, 0x10));
  SHOW("client IP_TTL 9", setint(c, IPPROTO_IP, IP_TTL, 9));
  SHOW("client IP_TTL 300 (out of range)", setint(c, IPPROTO_IP, IP_TTL, 300));
  show_connect("connect", c, "127.0.0.1", 20823);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  show_all("client", c);
  show_all("accepted", s);
  /* Set on the listener while a connection waits: that one keeps what it was made with. */
  int c2 = tcp_connect("127.0.0.1", 20823);
  sleep_ms(20);
  SHOW("listener IP_TTL 33 (a connection queued)", setint(l, IPPROTO_IP, IP_TTL, 33));
  int c3 = tcp_connect("127.0.0.1", 20823);
  sleep_ms(20);
  int s2 = SHOWFD("accept (queued before)", accept(l, NULL, NULL));
  show_opt("queued before IP_TTL", s2, IPPROTO_IP, IP_TTL);
  int s3 = SHOWFD("accept (queued after)", accept(l, NULL, NULL));
  show_opt("queued after IP_TTL", s3, IPPROTO_IP, IP_TTL);
  /* Set on the connection itself: read back as set. */
  SHOW("client SO_PRIORITY 5 (connected)", setint(c, SOL_SOCKET, SO_PRIORITY, 5));
  show_opt("client SO_PRIORITY", c, SOL_SOCKET, SO_PRIORITY);
  close(s3);
  close(s2);
  close(s);
  close(c3);
  close(c2);
  close(c);
  close(l);
  return 0;
}
