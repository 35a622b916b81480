/* After accept, a forked child serves the connection; the parent closes its copy and the client
 * sees the child's reply and then EOF once the child exits. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20250, 4);
  int c = tcp_connect("127.0.0.1", 20250);
  int s = MUST(accept(l, NULL, NULL));
  write_all(c, "ping", 4);
  pid_t pid = MUST(fork());
  if (pid == 0) {
    close(l);
    char buf[4];
    size_t got = 0;
    while (got < 4) {
      ssize_t r = read(s, buf + got, 4 - got);
      if (r <= 0) _exit(1);
      got += (size_t)r;
    }
    if (memcmp(buf, "ping", 4) != 0) _exit(2);
    write_all(s, "pong from child", 15);
    _exit(0);
  }
  SHOW("parent close accepted", close(s));
  show_wait("child exit", pid);
  show_read("client", c, 15);
  char b;
  SHOW("client read EOF", read(c, &b, 1));
  return 0;
}
