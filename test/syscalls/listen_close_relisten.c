/* A server that closes its listener and listens again on the same port at once (iperf3's server
 * between tests): the new listener takes the next connections, the old one refuses nothing. With
 * SO_REUSEADDR the port is free for the new bind while an accepted connection still lives. */
#include "common.h"
static int listener(void) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20850);
  int fd = tcp_socket("127.0.0.1");
  int one = 1;
  MUST(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  SHOW("bind", bind(fd, (struct sockaddr *)&ss, len));
  SHOW("listen", listen(fd, 4));
  return fd;
}
int main(void) {
  for (int round = 1; round <= 3; round++) {
    SAY("round %d\n", round);
    int l = listener();
    int c = tcp_socket("127.0.0.1");
    show_connect("connect", c, "127.0.0.1", 20850);
    int s = SHOWFD("accept", accept(l, NULL, NULL));
    SHOW("close listener", close(l));
    SHOW("write on accepted", write(s, "ok", 2));
    show_read("client", c, 2);
    close(c);
    close(s);
  }
  return 0;
}
