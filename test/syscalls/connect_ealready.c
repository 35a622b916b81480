/* A second connect while a non-blocking connect is still in progress fails with EALREADY. The
 * handshake is kept pending with a listener whose accept queue is full (backlog 0, one queued
 * connection): its SYN is dropped. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20330, 0);
  int first = tcp_connect("127.0.0.1", 20330);
  sleep_ms(20);
  int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_connect("nonblocking connect (queue full)", c, "127.0.0.1", 20330);
  show_connect("connect again", c, "127.0.0.1", 20330);
  show_connect("connect elsewhere", c, "127.0.0.1", 20331);
  show_poll("poll POLLOUT (pending)", c, POLLOUT, 0);
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  MUST(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len));
  SAY("tcpi_state -> %s\n", tcp_state_name(ti.tcpi_state));
  close(c);
  close(first);
  close(l);
  return 0;
}
