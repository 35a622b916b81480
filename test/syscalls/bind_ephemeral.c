/* bind to port 0 picks an ephemeral port, visible via getsockname (IPv4 and IPv6). */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  show_name("unbound", s, 0);
  show_bind("bind 127.0.0.1:0", s, "127.0.0.1", 0);
  show_name("bound", s, 0);
  int s6 = tcp_socket("::1");
  show_name("unbound6", s6, 0);
  show_bind("bind [::1]:0", s6, "::1", 0);
  show_name("bound6", s6, 0);
  return 0;
}
