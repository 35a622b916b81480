/* accept on a socket that is not listening (fresh, bound, connected) fails with EINVAL. */
#include "common.h"
int main(void) {
  int f = tcp_socket("127.0.0.1");
  SHOW("accept fresh socket", accept(f, NULL, NULL));
  int b = tcp_socket("127.0.0.1");
  MUST(show_bind("bind", b, "127.0.0.1", 20170));
  SHOW("accept bound socket", accept(b, NULL, NULL));
  SHOW("accept4 bound socket", accept4(b, NULL, NULL, SOCK_NONBLOCK));
  int c, s;
  tcp_pair("127.0.0.1", 20171, &c, &s);
  SHOW("accept connected socket", accept(c, NULL, NULL));
  SHOW("accept accepted socket", accept(s, NULL, NULL));
  return 0;
}
