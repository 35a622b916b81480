/* TCP_INFO tcpi_state through a connection's life: CLOSE, LISTEN, ESTABLISHED, FIN_WAIT2 and
 * CLOSE_WAIT after a half close. */
#include "common.h"
static void state(const char *label, int fd) {
  struct tcp_info ti;
  memset(&ti, 0, sizeof ti);
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) SAY("%s -> -1 %s\n", label, errname(errno));
  else SAY("%s tcpi_state -> %s\n", label, tcp_state_name(ti.tcpi_state));
}
int main(void) {
  int f = tcp_socket("127.0.0.1");
  state("fresh", f);
  int l = tcp_listen("127.0.0.1", 20500, 4);
  state("listener", l);
  int c = tcp_connect("127.0.0.1", 20500);
  int s = MUST(accept(l, NULL, NULL));
  state("client", c);
  state("accepted", s);
  MUST(shutdown(c, SHUT_WR));
  sleep_ms(20);
  state("client after SHUT_WR", c);
  state("accepted after peer SHUT_WR", s);
  struct tcp_info ti;
  socklen_t len = 1;
  SHOW("TCP_INFO optlen 1", getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len));
  SAY("optlen -> %u tcpi_state -> %s\n", (unsigned)len, tcp_state_name(ti.tcpi_state));
  return 0;
}
