/* bind on an already bound socket fails with EINVAL, even to the same address. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  show_bind("bind 127.0.0.1:20050", s, "127.0.0.1", 20050);
  show_bind("bind 127.0.0.1:20051 again", s, "127.0.0.1", 20051);
  show_bind("bind 127.0.0.1:20050 same", s, "127.0.0.1", 20050);
  int e = tcp_socket("127.0.0.1");
  show_bind("bind 127.0.0.1:0", e, "127.0.0.1", 0);
  show_bind("bind 127.0.0.1:0 again", e, "127.0.0.1", 0);
  show_name("still", s, 0);
  return 0;
}
