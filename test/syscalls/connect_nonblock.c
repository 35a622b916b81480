/* Non-blocking connect: EINPROGRESS, then poll says writable and SO_ERROR is 0; the next connect
 * reports the completion with 0, only the one after that says EISCONN. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20320, 4);
  int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_connect("nonblocking connect", c, "127.0.0.1", 20320);
  show_poll("poll POLLOUT", c, POLLOUT, 1000);
  show_opt("SO_ERROR", c, SOL_SOCKET, SO_ERROR);
  show_connect("connect again", c, "127.0.0.1", 20320);
  show_connect("connect a third time", c, "127.0.0.1", 20320);
  show_name("client", c, 1);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  SHOW("write", write(c, "x", 1));
  show_read("server", s, 1);
  return 0;
}
