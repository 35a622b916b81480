/* Bad user pointers fail with EFAULT: bind/connect addresses, getsockname/getpeername buffers
 * and lengths, getsockopt/setsockopt values and lengths. */
#include "common.h"
static void *volatile bad_ = (void *)1; /* opaque to the compiler */
#define BAD (bad_)
int main(void) {
  int s = tcp_socket("127.0.0.1");
  SHOW("bind bad addr", bind(s, BAD, sizeof(struct sockaddr_in)));
  SHOW("connect bad addr", connect(s, BAD, sizeof(struct sockaddr_in)));
  socklen_t len = sizeof(struct sockaddr_in);
  SHOW("getsockname bad addr", getsockname(s, BAD, &len));
  struct sockaddr_storage ss;
  SHOW("getsockname bad addrlen", getsockname(s, (struct sockaddr *)&ss, BAD));
  int c, a;
  tcp_pair("127.0.0.1", 20670, &c, &a);
  len = sizeof(struct sockaddr_in);
  SHOW("getpeername bad addr", getpeername(c, BAD, &len));
  socklen_t ol = sizeof(int);
  SHOW("getsockopt bad optval", getsockopt(s, SOL_SOCKET, SO_TYPE, BAD, &ol));
  int v;
  SHOW("getsockopt bad optlen", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, BAD));
  SHOW("getsockopt TCP_NODELAY bad optval", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, BAD, &ol));
  SHOW("setsockopt bad optval", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, BAD, sizeof(int)));
  SHOW("setsockopt TCP_NODELAY bad optval", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, BAD, sizeof(int)));
  show_name("still unbound", s, 0);
  return 0;
}
