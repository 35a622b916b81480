/* A refused non-blocking connect: poll reports POLLOUT|POLLERR|POLLHUP, SO_ERROR gives
 * ECONNREFUSED once and is then cleared; connect afterwards reports the cleared state. */
#include "common.h"
int main(void) {
  int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_opt("SO_ERROR fresh", c, SOL_SOCKET, SO_ERROR);
  int r = (int)show_connect("nonblocking connect 127.0.0.1:20450", c, "127.0.0.1", 20450);
  if (r < 0 && errno == EINPROGRESS) show_poll("poll", c, POLLIN | POLLOUT, 1000);
  int e = getint(c, SOL_SOCKET, SO_ERROR);
  SAY("SO_ERROR -> %s\n", e ? errname(e) : "0");
  show_opt("SO_ERROR again", c, SOL_SOCKET, SO_ERROR);
  int c2 = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  r = (int)show_connect("second nonblocking connect", c2, "127.0.0.1", 20450);
  if (r < 0 && errno == EINPROGRESS) show_poll("poll", c2, POLLOUT, 1000);
  show_connect("connect again reports the error", c2, "127.0.0.1", 20450);
  show_opt("SO_ERROR after that", c2, SOL_SOCKET, SO_ERROR);
  return 0;
}
