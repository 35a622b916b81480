/* A second bind to a port in use fails with EADDRINUSE (bound only, listening, wildcard overlap). */
#include "common.h"
int main(void) {
  int a = tcp_socket("127.0.0.1");
  show_bind("a bind 127.0.0.1:20020", a, "127.0.0.1", 20020);
  int b = tcp_socket("127.0.0.1");
  show_bind("b bind 127.0.0.1:20020 (a bound)", b, "127.0.0.1", 20020);
  SHOW("a listen", listen(a, 4));
  int c = tcp_socket("127.0.0.1");
  show_bind("c bind 127.0.0.1:20020 (a listening)", c, "127.0.0.1", 20020);
  int d = tcp_socket("0.0.0.0");
  show_bind("d bind 0.0.0.0:20020", d, "0.0.0.0", 20020);
  int e = tcp_socket("0.0.0.0");
  show_bind("e bind 0.0.0.0:20021", e, "0.0.0.0", 20021);
  SHOW("e listen", listen(e, 4));
  int f = tcp_socket("127.0.0.1");
  show_bind("f bind 127.0.0.1:20021 (wildcard listening)", f, "127.0.0.1", 20021);
  return 0;
}
