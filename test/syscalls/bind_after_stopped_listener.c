/* A listener shut down with SHUT_RDWR stops listening but stays bound (tcp_disconnect): until the
 * app closes it, it shares its port with the connections it served; after its close those keep
 * the port themselves, an established one as long as it lives and one the server closed first
 * in TIME_WAIT, so bind(2) without SO_REUSEADDR still fails EADDRINUSE. */
#include "common.h"

/* Serves one connection on 127.0.0.1:port, then stops the listener with shutdown(SHUT_RDWR). */
static int serve_then_stop(int port, int *client, int *server) {
  int l = tcp_serve_one(port, 0, client, server);
  SHOW("listener shutdown(SHUT_RDWR)", shutdown(l, SHUT_RDWR));
  return l;
}

static void rebind(const char *label, int port) {
  sleep_ms(20);
  int x = show_rebind(label, "127.0.0.1", port, 0);
  if (x >= 0) close(x);
}

int main(void) {
  int c, s;
  SAY("established connection:\n");
  int l = serve_then_stop(20870, &c, &s);
  rebind("  stopped listener open", 20870);
  MUST(close(l));
  rebind("  stopped listener closed", 20870);
  MUST(close(c));
  sleep_ms(20);
  MUST(close(s));
  rebind("  connection over (server closed second)", 20870);

  SAY("server closed first (TIME_WAIT):\n");
  l = serve_then_stop(20871, &c, &s);
  close_first("  client read EOF", s, c);
  rebind("  stopped listener open", 20871);
  MUST(close(l));
  rebind("  stopped listener closed", 20871);
  return 0;
}
