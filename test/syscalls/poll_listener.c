/* poll on a listening socket: POLLIN only while a connection is pending; never POLLOUT. */
#include "common.h"
static void *client(void *arg) {
  block_signals();
  sleep_ms(100);
  return (void *)(long)tcp_connect("127.0.0.1", 20520);
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20520, 4);
  show_poll("idle", l, POLLIN | POLLOUT, 0);
  pthread_t t = go(client, NULL);
  show_poll("blocking poll until a client", l, POLLIN | POLLOUT, 2000);
  join(t);
  show_poll("pending", l, POLLIN | POLLOUT | POLLRDHUP, 0);
  int s = MUST(accept(l, NULL, NULL));
  show_poll("after accept", l, POLLIN, 0);
  show_poll("accepted socket", s, POLLIN | POLLOUT, 0);
  return 0;
}
