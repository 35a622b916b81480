/* A connection takes its listener's options when its handshake completes (sk_clone_lock copies
 * the listener into the child then), not when accept hands it out: options set on the listener
 * while a connection waits in its queue reach only the connections that arrive afterwards. */
#include "common.h"
static void show_accepted(const char *label, int s) {
  char name[128];
  show_optf(s, SOL_SOCKET, SO_REUSEADDR, "%s SO_REUSEADDR", label);
  snprintf(name, sizeof name, "%s SO_RCVTIMEO", label);
  show_timeo(name, s, SO_RCVTIMEO);
  show_optf(s, SOL_SOCKET, SO_OOBINLINE, "%s SO_OOBINLINE", label);
}
int main(void) {
  int l = MUST(socket(AF_INET, SOCK_STREAM, 0));
  show_bind("bind", l, "127.0.0.1", 20821);
  MUST(listen(l, 8));
  int early = tcp_connect("127.0.0.1", 20821);
  sleep_ms(20);
  struct timeval rcv = { 0, 200000 };
  SHOW("listener SO_REUSEADDR 1 (a connection queued)", setint(l, SOL_SOCKET, SO_REUSEADDR, 1));
  SHOW("listener SO_RCVTIMEO 200ms", setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv));
  SHOW("listener SO_OOBINLINE 1", setint(l, SOL_SOCKET, SO_OOBINLINE, 1));
  int late = tcp_connect("127.0.0.1", 20821);
  sleep_ms(20);
  int a = SHOWFD("accept (queued before)", accept(l, NULL, NULL));
  show_accepted("queued before", a);
  int b = SHOWFD("accept (queued after)", accept(l, NULL, NULL));
  show_accepted("queued after", b);
  SHOW("listener SO_REUSEADDR 0 (queue empty)", setint(l, SOL_SOCKET, SO_REUSEADDR, 0));
  int next = tcp_connect("127.0.0.1", 20821);
  int c = SHOWFD("accept (after that)", accept(l, NULL, NULL));
  show_opt("after that SO_REUSEADDR", c, SOL_SOCKET, SO_REUSEADDR);
  close(a);
  close(b);
  close(c);
  close(early);
  close(late);
  close(next);
  close(l);
  return 0;
}
