/* An AF_INET6 socket bound to an IPv4-mapped address connects to IPv4 peers only, and one bound
 * to an IPv6 address to IPv6 peers only (tcp_v6_connect): the other kind fails. */
#include "common.h"
int main(void) {
  int l4 = tcp_listen("127.0.0.1", 20977, 4), l6 = tcp_listen("::1", 20978, 4);
  int a = tcp_socket("::1");
  show_bind("bind ::ffff:127.0.0.1:0", a, "::ffff:127.0.0.1", 0);
  show_connect("connect to ::1", a, "::1", 20978);
  show_connect("connect to ::ffff:127.0.0.1", a, "::ffff:127.0.0.1", 20977);
  int b = tcp_socket("::1");
  show_bind("bind ::1:0", b, "::1", 0);
  show_connect("connect to ::ffff:127.0.0.1", b, "::ffff:127.0.0.1", 20977);
  show_connect("connect to ::1", b, "::1", 20978);
  close(l4);
  close(l6);
  return 0;
}
