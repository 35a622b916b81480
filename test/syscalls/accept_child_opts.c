/* What an accepted socket does not take from its listener: TCP_FASTOPEN and TCP_DEFER_ACCEPT
 * (the listener's queue settings; the child's queue starts empty) read 0, and an IPv4 child's
 * IP_MULTICAST_TTL is the TTL of the client's SYN (tcp_v4_syn_recv_sock), its IP_TTL or the
 * default; an IPv6 child keeps the listener's. */
#include "common.h"
static void run(const char *lip, const char *cip, int ttl, int port) {
  int l = MUST(socket(family_of(lip), SOCK_STREAM, 0));
  SHOW("listener TCP_DEFER_ACCEPT 5 (before listen)", setint(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5));
  SHOW("listener TCP_FASTOPEN 8 (before listen)", setint(l, IPPROTO_TCP, TCP_FASTOPEN, 8));
  show_bind("bind", l, lip, port);
  MUST(listen(l, 8));
  int c = MUST(socket(family_of(cip), SOCK_STREAM, 0));
  if (ttl) SHOW("client IP_TTL", setint(c, IPPROTO_IP, IP_TTL, ttl));
  show_connect("connect", c, cip, port);
  SHOW("client writes (TCP_DEFER_ACCEPT waits for data)", write(c, "x", 1));
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  show_opt("accepted IP_MULTICAST_TTL", s, IPPROTO_IP, IP_MULTICAST_TTL);
  show_opt("accepted TCP_DEFER_ACCEPT", s, IPPROTO_TCP, TCP_DEFER_ACCEPT);
  show_opt("accepted TCP_FASTOPEN", s, IPPROTO_TCP, TCP_FASTOPEN);
  show_opt("client IP_MULTICAST_TTL", c, IPPROTO_IP, IP_MULTICAST_TTL);
  char b;
  SHOW("accepted reads it", read(s, &b, 1));
  close(s); close(c); close(l);
}
int main(void) {
  run("127.0.0.1", "127.0.0.1", 0, 20826);
  run("127.0.0.1", "127.0.0.1", 9, 20827);
  run("::", "127.0.0.1", 7, 20828);
  run("::", "::1", 0, 20829);
  return 0;
}
