/* epoll on a listening socket: no event while idle, EPOLLIN once a client is queued (once per
 * wait in edge mode until drained), none after accept. */
#include "common.h"
static void wait_show(const char *label, int ep, int timeout) {
  struct epoll_event ev[4];
  memset(ev, 0, sizeof ev);
  int n = epoll_wait(ep, ev, 4, timeout);
  if (n < 0) SAY("%s -> -1 %s\n", label, errname(errno));
  else SAY("%s -> %d%s%s%s tag %d\n", label, n, n && (ev[0].events & EPOLLIN) ? " EPOLLIN" : "",
           n && (ev[0].events & EPOLLOUT) ? " EPOLLOUT" : "", n && (ev[0].events & EPOLLHUP) ? " EPOLLHUP" : "",
           n ? (int)ev[0].data.u32 : -1);
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20510, 4);
  int ep = MUST(epoll_create1(EPOLL_CLOEXEC));
  struct epoll_event e = { .events = EPOLLIN | EPOLLOUT, .data.u32 = 7 };
  SHOW("epoll_ctl ADD listener", epoll_ctl(ep, EPOLL_CTL_ADD, l, &e));
  wait_show("idle", ep, 0);
  int c = tcp_connect("127.0.0.1", 20510);
  wait_show("client queued", ep, 1000);
  wait_show("still queued", ep, 0);
  int s = MUST(accept(l, NULL, NULL));
  wait_show("after accept", ep, 0);
  e.events = EPOLLIN | EPOLLET;
  SHOW("epoll_ctl MOD edge", epoll_ctl(ep, EPOLL_CTL_MOD, l, &e));
  int c2 = tcp_connect("127.0.0.1", 20510);
  wait_show("edge: first client", ep, 1000);
  wait_show("edge: nothing new", ep, 0);
  int c3 = tcp_connect("127.0.0.1", 20510);
  wait_show("edge: second client", ep, 1000);
  close(s);
  close(c);
  close(c2);
  close(c3);
  return 0;
}
