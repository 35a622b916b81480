/* close() of a listener while another thread blocks in accept does not wake it: the blocked
 * accept holds the socket, which still listens, and returns the next client. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20230, 4);
  struct blocked_accept b;
  start_accept(&b, l);
  sleep_ms(100);
  SHOW("close listener", close(l));
  sleep_ms(100);
  SHOW("accept on the closed fd", accept(l, NULL, NULL));
  int c = tcp_socket("127.0.0.1");
  show_connect("connect after close", c, "127.0.0.1", 20230);
  SAY("blocked accept -> %s\n", finish_accept(&b));
  int c2 = tcp_socket("127.0.0.1");
  show_connect("connect once accept returned", c2, "127.0.0.1", 20230);
  return 0;
}
