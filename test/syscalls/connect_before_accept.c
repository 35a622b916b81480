/* connect completes before the server calls accept (the connection waits in the queue); data and
 * even the client's close are seen by the server after a late accept. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20390, 4);
  int c = tcp_socket("127.0.0.1");
  show_connect("connect (nobody accepting yet)", c, "127.0.0.1", 20390);
  SHOW("write before accept", write(c, "early", 5));
  SHOW("close before accept", close(c));
  sleep_ms(50);
  int s = SHOWFD("late accept", accept(l, NULL, NULL));
  show_read("server", s, 5);
  char b;
  SHOW("server read EOF", read(s, &b, 1));
  show_name("accepted", s, 1);
  return 0;
}
