/* A server process that exits without calling close(2): the exit closes its connection and its
 * listener, the client reads EOF, and the server's port is left in TIME_WAIT (the server closed
 * first) as if it had closed them itself: bind without SO_REUSEADDR fails, with it (the listener
 * had it too) succeeds. */
#include "common.h"
int main(void) {
  int ready[2];
  MUST(pipe(ready));
  pid_t pid = MUST(fork());
  if (pid == 0) {
    struct sockaddr_storage ss;
    socklen_t len = mkaddr(&ss, "127.0.0.1", 20770);
    int l = tcp_socket("127.0.0.1");
    MUST(setint(l, SOL_SOCKET, SO_REUSEADDR, 1));
    MUST(bind(l, (struct sockaddr *)&ss, len));
    MUST(listen(l, 4));
    MUST(write(ready[1], "r", 1));
    int s = MUST(accept(l, NULL, NULL));
    write_all(s, "bye", 3);
    _exit(0); /* no close: the exit drops s and l */
  }
  char r;
  MUST(read(ready[0], &r, 1));
  int c = tcp_connect("127.0.0.1", 20770);
  show_wait("server exit", pid);
  show_read("client", c, 3);
  char b;
  SHOW("client read EOF", read(c, &b, 1));
  close(c);
  sleep_ms(50);
  int x = show_rebind("after the server's exit", "127.0.0.1", 20770, 0);
  if (x >= 0) close(x);
  x = show_rebind("after the server's exit", "127.0.0.1", 20770, 1);
  if (x >= 0) close(x);
  return 0;
}
