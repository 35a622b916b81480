/* SO_INCOMING_CPU: -1 on a socket that never received (a fresh socket, a listener), a CPU of this
 * machine on both ends of a connection once connected (sk_incoming_cpu, updated by tcp_v4_rcv as
 * the handshake's packets arrive), and what the app set until the next packet. */
#include "common.h"
static void cpu(const char *label, int fd) {
  int v = getint(fd, SOL_SOCKET, SO_INCOMING_CPU);
  long n = sysconf(_SC_NPROCESSORS_CONF);
  if (v < 0) SAY("%s: %d\n", label, v);
  else SAY("%s: a CPU (%s)\n", label, v < n ? "in range" : "out of range");
}
int main(void) {
  int fresh = tcp_socket("127.0.0.1");
  cpu("fresh socket", fresh);
  int l = tcp_listen("127.0.0.1", 20446, 4);
  cpu("listener", l);
  int c = tcp_connect("127.0.0.1", 20446);
  cpu("client", c);
  int s = MUST(accept(l, NULL, NULL));
  cpu("accepted", s);
  SHOW("setsockopt SO_INCOMING_CPU 0 on the client", setint(c, SOL_SOCKET, SO_INCOMING_CPU, 0));
  SAY("client after set: %d\n", getint(c, SOL_SOCKET, SO_INCOMING_CPU));
  int l6 = tcp_listen("::1", 20447, 4);
  int c6 = tcp_connect("::1", 20447);
  cpu("IPv6 client", c6);
  int s6 = MUST(accept(l6, NULL, NULL));
  cpu("IPv6 accepted", s6);
  return 0;
}
