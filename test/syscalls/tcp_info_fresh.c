/* What a fresh connection's TCP_INFO, TCP_MAXSEG and TCP_WINDOW_CLAMP show on each side, over
 * IPv4, IPv6 and v4-mapped loopback (the values the netns's lo and sysctls give; the RTT, the RTO
 * it makes (tcp_metrics keeps it per destination) and the counters, which move, are not printed). TCP_WINDOW_CLAMP 0 is refused on a connection and a
 * small one is raised to SOCK_MIN_RCVBUF / 2. */
#include "common.h"
static void info(const char *label, int fd) {
  struct tcp_info t;
  memset(&t, 0, sizeof t);
  socklen_t len = sizeof t;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &t, &len) < 0) {
    SAY("%s TCP_INFO -> -1 %s\n", label, errname(errno));
    return;
  }
  SAY("%s state %s options %u wscale %u/%u ato %u snd_mss %u rcv_mss %u pmtu %u\n", label, tcp_state_name(t.tcpi_state),
      t.tcpi_options, t.tcpi_snd_wscale, t.tcpi_rcv_wscale, t.tcpi_ato, t.tcpi_snd_mss, t.tcpi_rcv_mss, t.tcpi_pmtu);
  SAY("%s rcv_ssthresh %u snd_ssthresh %u snd_cwnd %u advmss %u reordering %u rcv_space %u\n", label, t.tcpi_rcv_ssthresh,
      t.tcpi_snd_ssthresh, t.tcpi_snd_cwnd, t.tcpi_advmss, t.tcpi_reordering, t.tcpi_rcv_space);
  SAY("%s TCP_MAXSEG %d TCP_WINDOW_CLAMP %d\n", label, getint(fd, IPPROTO_TCP, TCP_MAXSEG), getint(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP));
}
static void pair(const char *listen_ip, const char *connect_ip, int port) {
  int l = tcp_listen(listen_ip, port, 4);
  int c = tcp_connect(connect_ip, port);
  int s = MUST(accept(l, NULL, NULL));
  SAY("-- %s -> %s\n", connect_ip, listen_ip);
  info("client", c);
  info("server", s);
  close(c);
  close(s);
  close(l);
}
int main(void) {
  pair("127.0.0.1", "127.0.0.1", 20970);
  pair("::1", "::1", 20971);
  pair("::", "::ffff:127.0.0.1", 20972);
  int c, s;
  tcp_pair("127.0.0.1", 20973, &c, &s);
  int v = 0;
  SHOW("TCP_WINDOW_CLAMP 0 on a connection", setsockopt(c, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, sizeof v));
  v = 100;
  SHOW("TCP_WINDOW_CLAMP 100", setsockopt(c, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, sizeof v));
  show_opt("TCP_WINDOW_CLAMP", c, IPPROTO_TCP, TCP_WINDOW_CLAMP);
  v = 40000;
  SHOW("TCP_WINDOW_CLAMP 40000", setsockopt(c, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, sizeof v));
  show_opt("TCP_WINDOW_CLAMP", c, IPPROTO_TCP, TCP_WINDOW_CLAMP);
  return 0;
}
