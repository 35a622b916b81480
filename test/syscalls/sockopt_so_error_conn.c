/* SO_ERROR on connections (nginx asks it before every request it sends upstream): 0 once a
 * non-blocking connect is writable and on an idle connection; after the peer closed with
 * unread data (a reset) ECONNRESET once, then 0; after a plain close of the peer, 0. */
#include "common.h"
static void show_soerror(const char *label, int fd) {
  int e = getint(fd, SOL_SOCKET, SO_ERROR);
  SAY("%s -> %s\n", label, e ? errname(e) : "0");
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20820, 8);
  int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20820);
  long r = connect(c, (struct sockaddr *)&ss, len);
  SAY("nonblocking connect -> %s\n", r == 0 || errno == EINPROGRESS ? "0 or EINPROGRESS" : errname(errno));
  show_poll("writable", c, POLLOUT, 1000);
  show_soerror("SO_ERROR connected", c);
  int s = MUST(accept(l, NULL, NULL));
  show_soerror("SO_ERROR accepted", s);
  write_all(c, "unread", 6);
  sleep_ms(20);
  SHOW("server close with unread data", close(s));
  sleep_ms(20);
  show_soerror("client SO_ERROR after the reset", c);
  show_soerror("client SO_ERROR again", c);
  close(c);
  int c2 = tcp_connect("127.0.0.1", 20820);
  int s2 = MUST(accept(l, NULL, NULL));
  SHOW("server plain close", close(s2));
  sleep_ms(20);
  show_soerror("client SO_ERROR after a plain close", c2);
  close(c2);
  close(l);
  return 0;
}
