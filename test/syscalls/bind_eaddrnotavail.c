/* bind to an address that is not local fails with EADDRNOTAVAIL. */
#include "common.h"
int main(void) {
  int s = tcp_socket("10.1.2.3");
  show_bind("bind 10.1.2.3:20080", s, "10.1.2.3", 20080);
  int s6 = tcp_socket("fd00::1");
  show_bind("bind [fd00::1]:20080", s6, "fd00::1", 20080);
  show_name("unbound", s, 0);
  return 0;
}
