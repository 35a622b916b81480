/* connect on a connected socket fails with EISCONN, whatever the address; so does connect on an
 * accepted socket. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20340, 4);
  int c = tcp_connect("127.0.0.1", 20340);
  int s = MUST(accept(l, NULL, NULL));
  show_connect("connect same address", c, "127.0.0.1", 20340);
  show_connect("connect other address", c, "127.0.0.1", 20341);
  show_connect("connect on accepted", s, "127.0.0.1", 20340);
  show_name("client", c, 1);
  return 0;
}
