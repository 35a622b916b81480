/* A connection over IPv6 whose socket is dual-stack (served by a [::] listener, or a client bound
 * to [::]) keeps its port from IPv4 wildcard binds too: ipv4_rcv_saddr_equal matches 0.0.0.0
 * against the LOOPBACK4_IPV6 an IPv6 socket carries unless it is v6only, while 127.0.0.1 is
 * another address. It does so while established after its listener closed and in TIME_WAIT; a
 * v6only one ([::] with IPV6_V6ONLY) does not. */
#include "common.h"

static void rebind4(const char *ip, int port) {
  char label[64];
  snprintf(label, sizeof label, "  IPv4");
  int x = show_rebind(label, ip, port, 0);
  if (x >= 0) close(x);
}

/* A [::]:port listener (IPV6_V6ONLY = v6only) that served one connection from ::1. */
static int serve_v6(int port, int v6only, int *client, int *server) {
  int l = tcp_socket("::");
  MUST(setint(l, IPPROTO_IPV6, IPV6_V6ONLY, v6only));
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "::", port);
  MUST(bind(l, (struct sockaddr *)&ss, len));
  MUST(listen(l, 4));
  *client = tcp_connect("::1", port);
  *server = MUST(accept(l, NULL, NULL));
  return l;
}

static void served(int port, int v6only) {
  int c, s;
  SAY("[::] listener, IPV6_V6ONLY %d, closed; its connection from ::1 established:\n", v6only);
  MUST(close(serve_v6(port, v6only, &c, &s)));
  sleep_ms(20);
  rebind4("0.0.0.0", port);
  rebind4("127.0.0.1", port);
  SAY("  the server closed first (TIME_WAIT):\n");
  close_first("  client read EOF", s, c);
  sleep_ms(20);
  rebind4("0.0.0.0", port);
  rebind4("127.0.0.1", port);
}

int main(void) {
  served(20872, 0);
  served(20873, 1);
  SAY("client bound to [::]:20875, connected to [::1]:20874:\n");
  int l = tcp_listen("::1", 20874, 4);
  int c = tcp_socket("::");
  show_bind("  client bind [::]:20875", c, "::", 20875);
  show_connect("  client connect", c, "::1", 20874);
  sleep_ms(20);
  rebind4("0.0.0.0", 20875);
  rebind4("127.0.0.1", 20875);
  close(c);
  close(l);
  return 0;
}
