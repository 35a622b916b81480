/* A listener's served connections on one address: one closed server-first (TIME_WAIT), one still
 * open when the listener closes. The TIME_WAIT keeps the port for its 60 s after the open one
 * closes too (client-first: no TIME_WAIT of its own), so bind(2) without SO_REUSEADDR still fails
 * EADDRINUSE (a runtime that held the open one's port first must not lose the TIME_WAIT). */
#include "common.h"
int main(void) {
  int ca, sa, cb, sb;
  int l = tcp_serve_one(20878, 0, &ca, &sa);
  cb = tcp_connect("127.0.0.1", 20878);
  sb = MUST(accept(l, NULL, NULL));
  SAY("connection A closed server-first:\n");
  close_first("  client A read EOF", sa, ca);
  sleep_ms(20);
  SHOW("listener closed, connection B open", close(l));
  sleep_ms(20);
  int x = show_rebind("  new socket", "127.0.0.1", 20878, 0);
  if (x >= 0) close(x);
  SAY("connection B closed client-first:\n");
  close_first("  server B read EOF", cb, sb);
  sleep_ms(20);
  x = show_rebind("  new socket", "127.0.0.1", 20878, 0);
  if (x >= 0) close(x);
  x = show_rebind("  new socket", "127.0.0.1", 20878, 1);
  if (x >= 0) close(x);
  return 0;
}
