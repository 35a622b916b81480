/* accept with a bad addr or addrlen pointer fails with EFAULT only after dequeuing the
 * connection, which is then lost: the next accept finds none and the client reads EOF. */
#include "common.h"
static void *volatile bad_ = (void *)1; /* opaque to the compiler */
int main(void) {
  int l = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  MUST(show_bind("bind", l, "127.0.0.1", 20680));
  MUST(listen(l, 4));
  int c = tcp_connect("127.0.0.1", 20680);
  sleep_ms(20);
  struct sockaddr_storage ss;
  SHOW("accept bad addrlen pointer", accept(l, (struct sockaddr *)&ss, bad_));
  SHOW("accept again", accept(l, NULL, NULL));
  char b;
  SHOW("client 1 read", read(c, &b, 1));
  int c2 = tcp_connect("127.0.0.1", 20680);
  sleep_ms(20);
  socklen_t len = sizeof(struct sockaddr_in);
  SHOW("accept bad addr pointer", accept(l, bad_, &len));
  SHOW("accept again", accept(l, NULL, NULL));
  SHOW("client 2 read", read(c2, &b, 1));
  return 0;
}
