/* bind to a specific address and port; getsockname reports exactly that. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  show_bind("bind 127.0.0.1:20010", s, "127.0.0.1", 20010);
  show_name("v4", s, 0);
  int w = tcp_socket("0.0.0.0");
  show_bind("bind 0.0.0.0:20011", w, "0.0.0.0", 20011);
  show_name("wildcard", w, 0);
  int s6 = tcp_socket("::1");
  show_bind("bind [::1]:20012", s6, "::1", 20012);
  show_name("v6", s6, 0);
  return 0;
}
