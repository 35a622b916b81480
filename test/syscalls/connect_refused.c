/* connect to a port nobody listens on fails with ECONNREFUSED (blocking), and the socket can
 * connect again afterwards. */
#include "common.h"
int main(void) {
  int c = tcp_socket("127.0.0.1");
  show_connect("connect 127.0.0.1:20300", c, "127.0.0.1", 20300);
  show_opt("SO_ERROR after refusal", c, SOL_SOCKET, SO_ERROR);
  show_name("after refusal", c, 1);
  int c6 = tcp_socket("::1");
  show_connect("connect [::1]:20300", c6, "::1", 20300);
  int b = tcp_socket("127.0.0.1");
  show_bind("bound but not listening 127.0.0.1:20301", b, "127.0.0.1", 20301);
  int c2 = tcp_socket("127.0.0.1");
  show_connect("connect 127.0.0.1:20301", c2, "127.0.0.1", 20301);
  int l = tcp_listen("127.0.0.1", 20302, 4);
  show_connect("same socket connects again", c, "127.0.0.1", 20302);
  show_name("reconnected", c, 1);
  close(l);
  return 0;
}
