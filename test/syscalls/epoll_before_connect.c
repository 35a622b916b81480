/* A socket registered with epoll before its non-blocking connect (nginx's and Envoy's upstream
 * pattern: epoll_ctl ADD with EPOLLIN|EPOLLOUT|EPOLLET, then connect): the registration follows
 * the connection, so EPOLLOUT reports it connected and EPOLLIN its peer's bytes, and
 * EPOLL_CTL_MOD/DEL on the same fd still find it. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20800, 4);
  int ep = MUST(epoll_create1(EPOLL_CLOEXEC));
  int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u32 = 42 };
  SHOW("epoll_ctl ADD before connect", epoll_ctl(ep, EPOLL_CTL_ADD, c, &e));
  show_epoll_wait("unconnected", ep, 0);
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20800);
  long r = connect(c, (struct sockaddr *)&ss, len);
  SAY("connect -> %s\n", r == 0 || errno == EINPROGRESS ? "0 or EINPROGRESS" : errname(errno));
  show_epoll_wait("connected", ep, 1000);
  show_epoll_wait("edge: nothing new", ep, 0);
  int s = MUST(accept(l, NULL, NULL));
  MUST(write(s, "hi", 2));
  show_epoll_wait("peer wrote", ep, 1000);
  char b[8];
  SHOW("read", read(c, b, sizeof b));
  e.events = EPOLLIN;
  e.data.u32 = 43;
  SHOW("epoll_ctl MOD", epoll_ctl(ep, EPOLL_CTL_MOD, c, &e));
  MUST(write(s, "again", 5));
  show_epoll_wait("after MOD", ep, 1000);
  SHOW("epoll_ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
  SHOW("epoll_ctl DEL again", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
  show_epoll_wait("after DEL", ep, 0);
  close(s);
  close(c);
  close(l);
  return 0;
}
