/* A fresh connection's SO_SNDBUF and SO_RCVBUF on each side are what TCP set up for it
 * (tcp_init_buffer_space sizes the send buffer from the MSS), not the sysctl defaults. */
#include "common.h"
int main(void) {
  const char *ips[] = { "127.0.0.1", "::1" };
  for (int i = 0; i < 2; i++) {
    int c, s;
    tcp_pair(ips[i], 20975 + i, &c, &s);
    SAY("%s:\n", ips[i]);
    show_opt("  client SO_SNDBUF", c, SOL_SOCKET, SO_SNDBUF);
    show_opt("  client SO_RCVBUF", c, SOL_SOCKET, SO_RCVBUF);
    show_opt("  server SO_SNDBUF", s, SOL_SOCKET, SO_SNDBUF);
    show_opt("  server SO_RCVBUF", s, SOL_SOCKET, SO_RCVBUF);
    close(c);
    close(s);
  }
  return 0;
}
