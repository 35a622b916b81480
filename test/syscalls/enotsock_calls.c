/* Every socket call on a regular file fd (a memfd) fails with ENOTSOCK. */
#include "common.h"
int main(void) {
  show_socket_calls("regular file", MUST(memfd_create("not-a-socket", 0)));
  return 0;
}
