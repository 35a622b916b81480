/* After the listener is closed, connecting to its port is refused; accepted connections live on. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20120, 4);
  int c = tcp_connect("127.0.0.1", 20120);
  int s = MUST(accept(l, NULL, NULL));
  SHOW("close listener", close(l));
  int c2 = tcp_socket("127.0.0.1");
  show_connect("connect after close", c2, "127.0.0.1", 20120);
  SHOW("write on accepted", write(s, "still", 5));
  show_read("client", c, 5);
  return 0;
}
