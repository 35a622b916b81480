/* A client that bound its port and closes first leaves that port in TIME_WAIT (tcp_time_wait):
 * binding it again fails unless both the old and the new socket have SO_REUSEADDR. A client
 * that closes second (the server closed first) leaves nothing behind on its port. */
#include "common.h"

/* Connects from 127.0.0.1:cport (SO_REUSEADDR = reuse) to the listener; closes client-first or server-first. */
static void converse(int l, int cport, int reuse, int client_first) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", cport);
  int c = tcp_socket("127.0.0.1");
  MUST(setint(c, SOL_SOCKET, SO_REUSEADDR, reuse));
  MUST(bind(c, (struct sockaddr *)&ss, len));
  len = mkaddr(&ss, "127.0.0.1", 20750);
  MUST(connect(c, (struct sockaddr *)&ss, len));
  int s = MUST(accept(l, NULL, NULL));
  if (client_first) close_first("server read EOF", c, s);
  else close_first("client read EOF", s, c);
  sleep_ms(50);
}

static void close_if_open(int fd) {
  if (fd >= 0) close(fd);
}

int main(void) {
  int l = tcp_listen("127.0.0.1", 20750, 8);
  converse(l, 20751, 0, 1);
  close_if_open(show_rebind("client plain, closed first", "127.0.0.1", 20751, 0));
  close_if_open(show_rebind("client plain, closed first", "127.0.0.1", 20751, 1));
  converse(l, 20752, 1, 1);
  close_if_open(show_rebind("client reuse, closed first", "127.0.0.1", 20752, 0));
  close_if_open(show_rebind("client reuse, closed first", "127.0.0.1", 20752, 1));
  converse(l, 20753, 0, 0);
  close_if_open(show_rebind("client plain, closed second", "127.0.0.1", 20753, 0));
  return 0;
}
