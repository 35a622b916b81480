/* Unknown options fail with ENOPROTOOPT at each level; an unknown level too. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  int v = 1;
  socklen_t len = sizeof v;
  SHOW("getsockopt SOL_SOCKET 9999", getsockopt(s, SOL_SOCKET, 9999, &v, &len));
  SHOW("setsockopt SOL_SOCKET 9999", setsockopt(s, SOL_SOCKET, 9999, &v, sizeof v));
  SHOW("getsockopt IPPROTO_TCP 9999", getsockopt(s, IPPROTO_TCP, 9999, &v, &len));
  SHOW("setsockopt IPPROTO_TCP 9999", setsockopt(s, IPPROTO_TCP, 9999, &v, sizeof v));
  SHOW("getsockopt IPPROTO_IP 9999", getsockopt(s, IPPROTO_IP, 9999, &v, &len));
  SHOW("getsockopt level 4242", getsockopt(s, 4242, 1, &v, &len));
  SHOW("setsockopt level 4242", setsockopt(s, 4242, 1, &v, sizeof v));
  SHOW("getsockopt IPPROTO_UDP UDP_CORK on TCP", getsockopt(s, IPPROTO_UDP, 1, &v, &len));
  return 0;
}
