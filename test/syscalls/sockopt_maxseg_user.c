/* TCP_MAXSEG set before the handshake: it caps the MSS each side announces, so both ends of the
 * connection read the smaller of the two caps less the timestamp option (12 bytes), as tcp_sync_mss
 * leaves mss_cache; an accepted socket takes its listener's cap. */
#include "common.h"
static void pair(const char *label, int listener_mss, int client_mss, int port) {
  int l = listener_mss ? tcp_listen_with("127.0.0.1", port, IPPROTO_TCP, TCP_MAXSEG, listener_mss, "listener: setsockopt TCP_MAXSEG")
                       : tcp_listen("127.0.0.1", port, 4);
  int c = tcp_socket("127.0.0.1");
  if (client_mss) SHOW("client: setsockopt TCP_MAXSEG", setint(c, IPPROTO_TCP, TCP_MAXSEG, client_mss));
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", port);
  MUST(connect(c, (struct sockaddr *)&ss, len));
  int s = MUST(accept(l, NULL, NULL));
  SAY("%s: client %d, accepted %d\n", label, getint(c, IPPROTO_TCP, TCP_MAXSEG), getint(s, IPPROTO_TCP, TCP_MAXSEG));
  close(s);
  close(c);
  close(l);
}
int main(void) {
  pair("client 1024", 0, 1024, 20456);
  pair("listener 1100", 1100, 0, 20457);
  pair("listener 900, client 1200", 900, 1200, 20458);
  pair("listener 2000, client 600", 2000, 600, 20459);
  return 0;
}
