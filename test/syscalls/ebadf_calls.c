/* Every socket call on a closed fd (and on -1) fails with EBADF. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  MUST(close(s));
  show_socket_calls("closed fd", s);
  show_socket_calls("fd -1", -1);
  return 0;
}
