/* epoll on a listening socket: no event while idle, EPOLLIN once a client is queued (once per
 * wait in edge mode until drained), none after accept. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20510, 4);
  int ep = MUST(epoll_create1(EPOLL_CLOEXEC));
  struct epoll_event e = { .events = EPOLLIN | EPOLLOUT, .data.u32 = 7 };
  SHOW("epoll_ctl ADD listener", epoll_ctl(ep, EPOLL_CTL_ADD, l, &e));
  show_epoll_wait("idle", ep, 0);
  int c = tcp_connect("127.0.0.1", 20510);
  show_epoll_wait("client queued", ep, 1000);
  show_epoll_wait("still queued", ep, 0);
  int s = MUST(accept(l, NULL, NULL));
  show_epoll_wait("after accept", ep, 0);
  e.events = EPOLLIN | EPOLLET;
  SHOW("epoll_ctl MOD edge", epoll_ctl(ep, EPOLL_CTL_MOD, l, &e));
  int c2 = tcp_connect("127.0.0.1", 20510);
  show_epoll_wait("edge: first client", ep, 1000);
  show_epoll_wait("edge: nothing new", ep, 0);
  int c3 = tcp_connect("127.0.0.1", 20510);
  show_epoll_wait("edge: second client", ep, 1000);
  close(s);
  close(c);
  close(c2);
  close(c3);
  return 0;
}
