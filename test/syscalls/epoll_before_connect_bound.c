/* A client that bound its port, registered with epoll before its connect: the registration
 * follows the connection and is the fd's only one, although the bound socket's port stays in
 * use while the connection lives (under a runtime that keeps the socket it replaced for that
 * port, the old file must not go on reporting beside the new one). */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20876, 4);
  int ep = MUST(epoll_create1(EPOLL_CLOEXEC));
  int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_bind("client bind 127.0.0.1:20877", c, "127.0.0.1", 20877);
  struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = 42 };
  SHOW("epoll_ctl ADD before connect", epoll_ctl(ep, EPOLL_CTL_ADD, c, &e));
  show_epoll_wait("bound, unconnected", ep, 0);
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20876);
  long r = connect(c, (struct sockaddr *)&ss, len);
  SAY("connect -> %s\n", r == 0 || errno == EINPROGRESS ? "0 or EINPROGRESS" : errname(errno));
  sleep_ms(20);
  show_epoll_wait("connected", ep, 1000);
  int s = MUST(accept(l, NULL, NULL));
  MUST(write(s, "hi", 2));
  sleep_ms(20);
  show_epoll_wait("peer wrote", ep, 1000);
  int x = tcp_socket("127.0.0.1");
  show_bind("another socket bind 127.0.0.1:20877 (the connection has it)", x, "127.0.0.1", 20877);
  SHOW("epoll_ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
  show_epoll_wait("after DEL", ep, 0);
  close(x);
  close(s);
  close(c);
  close(l);
  return 0;
}
