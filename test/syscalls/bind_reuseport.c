/* SO_REUSEPORT lets two listeners share a port; a third socket without it gets EADDRINUSE. */
#include "common.h"
int main(void) {
  int a = tcp_socket("127.0.0.1"), b = tcp_socket("127.0.0.1"), c = tcp_socket("127.0.0.1");
  show_opt("SO_REUSEPORT default", a, SOL_SOCKET, SO_REUSEPORT);
  SHOW("a SO_REUSEPORT 1", setint(a, SOL_SOCKET, SO_REUSEPORT, 1));
  SHOW("b SO_REUSEPORT 1", setint(b, SOL_SOCKET, SO_REUSEPORT, 1));
  show_opt("a SO_REUSEPORT", a, SOL_SOCKET, SO_REUSEPORT);
  show_bind("a bind 127.0.0.1:20040", a, "127.0.0.1", 20040);
  SHOW("a listen", listen(a, 8));
  show_bind("b bind 127.0.0.1:20040", b, "127.0.0.1", 20040);
  SHOW("b listen", listen(b, 8));
  show_bind("c bind 127.0.0.1:20040 (no SO_REUSEPORT)", c, "127.0.0.1", 20040);
  /* every connection lands on exactly one of the two listeners */
  int n = 0;
  int cl[8];
  for (int i = 0; i < 8; i++) cl[i] = tcp_connect("127.0.0.1", 20040);
  sleep_ms(20);
  MUST(fcntl(a, F_SETFL, O_NONBLOCK));
  MUST(fcntl(b, F_SETFL, O_NONBLOCK));
  for (int fd; (fd = accept(a, NULL, NULL)) >= 0; n++) close(fd);
  for (int fd; (fd = accept(b, NULL, NULL)) >= 0; n++) close(fd);
  SAY("accepted across both listeners -> %d of 8\n", n);
  for (int i = 0; i < 8; i++) close(cl[i]);
  return 0;
}
