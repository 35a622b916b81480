/* A signal whose handler lacks SA_RESTART interrupts a blocking accept with EINTR. */
#include "common.h"
static volatile sig_atomic_t hits;
static void on_alrm(int sig) { hits++; }
int main(void) {
  int l = tcp_listen("127.0.0.1", 20200, 4);
  on_signal(SIGALRM, on_alrm, 0);
  alarm_ms(100);
  SHOW("accept interrupted", accept(l, NULL, NULL));
  SAY("handler ran -> %d\n", (int)hits);
  alarm_ms(100);
  SHOW("accept4 interrupted", accept4(l, NULL, NULL, SOCK_CLOEXEC));
  SAY("handler ran -> %d\n", (int)hits);
  int c = tcp_connect("127.0.0.1", 20200);
  int s = SHOWFD("accept after the signals", accept(l, NULL, NULL));
  close(s);
  close(c);
  return 0;
}
