/* listen on a connected socket fails with EINVAL; on a UDP socket with EOPNOTSUPP. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20110, &c, &s);
  SHOW("listen on connected client", listen(c, 4));
  SHOW("listen on accepted socket", listen(s, 4));
  int u = MUST(socket(AF_INET, SOCK_DGRAM, 0));
  SHOW("listen on UDP socket", listen(u, 4));
  return 0;
}
