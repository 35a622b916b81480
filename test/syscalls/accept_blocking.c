/* accept blocks until a client connects from another thread. */
#include "common.h"
static void *client(void *arg) {
  block_signals();
  sleep_ms(100);
  int c = tcp_connect("127.0.0.1", 20130);
  write_all(c, "hi", 2);
  return (void *)(long)c;
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20130, 4);
  pthread_t t = go(client, NULL);
  int s = SHOWFD("blocking accept", accept(l, NULL, NULL));
  show_read("accepted", s, 2);
  join(t);
  return 0;
}
