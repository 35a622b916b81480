/* Writing to a connection the peer has closed: the first write succeeds (the peer answers with
 * a reset), the next fails with EPIPE and raises SIGPIPE unless MSG_NOSIGNAL. Before that, poll
 * shows the peer's FIN (POLLIN, POLLRDHUP), not a hang-up: our sending side is still open. */
#include "common.h"
static volatile sig_atomic_t pipes;
static void on_pipe(int sig) { pipes++; }
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20710, &c, &s);
  on_signal(SIGPIPE, on_pipe, 0);
  SHOW("server close", close(s));
  sleep_ms(20);
  show_poll("client poll after the peer's close", c, POLLIN | POLLOUT | POLLRDHUP, 0);
  SHOW("client write 1", write(c, "one", 3));
  sleep_ms(20);
  SHOW("client write 2", write(c, "two", 3));
  SAY("SIGPIPE count -> %d\n", (int)pipes);
  SHOW("client send MSG_NOSIGNAL", send(c, "three", 5, MSG_NOSIGNAL));
  SAY("SIGPIPE count -> %d\n", (int)pipes);
  char b;
  SHOW("client read", read(c, &b, 1));
  return 0;
}
