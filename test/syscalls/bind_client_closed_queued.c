/* A client that bound its port and closes while its connection still waits in the listener's
 * queue keeps that port (FIN_WAIT2); accepted and closed by the server, it is left in TIME_WAIT;
 * dropped by the listener's close instead (a reset), it frees the port at once. */
#include "common.h"
/* A client bound to 127.0.0.1:cport, connected to 127.0.0.1:lport and closed at once. */
static void connect_and_close(int cport, int lport) {
  int c = tcp_socket("127.0.0.1");
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", cport);
  MUST(bind(c, (struct sockaddr *)&ss, len));
  len = mkaddr(&ss, "127.0.0.1", lport);
  MUST(connect(c, (struct sockaddr *)&ss, len));
  sleep_ms(10);
  MUST(close(c));
  sleep_ms(20);
}
static void rebind(const char *label, int port) {
  int x = show_rebind(label, "127.0.0.1", port, 0);
  if (x >= 0) close(x);
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20882, 4);
  connect_and_close(20883, 20882);
  rebind("client closed, still queued", 20883);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  char b;
  SHOW("server read EOF", read(s, &b, 1));
  MUST(close(s));
  sleep_ms(20);
  rebind("accepted and closed by the server", 20883);
  close(l);

  l = tcp_listen("127.0.0.1", 20884, 4);
  connect_and_close(20885, 20884);
  SHOW("listener closed with it queued", close(l));
  sleep_ms(20);
  rebind("dropped by the listener", 20885);
  return 0;
}
