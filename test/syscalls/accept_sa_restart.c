/* With SA_RESTART the handler runs and the blocking accept restarts, returning the client that
 * connects later. */
#include "common.h"
static volatile sig_atomic_t hits;
static void on_alrm(int sig) { hits++; }
static void *client(void *arg) {
  block_signals();
  sleep_ms(300);
  return (void *)(long)tcp_connect("127.0.0.1", 20210);
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20210, 4);
  on_signal(SIGALRM, on_alrm, SA_RESTART);
  pthread_t t = go(client, NULL);
  alarm_ms(100);
  int s = SHOWFD("accept restarted", accept(l, NULL, NULL));
  SAY("handler ran -> %d\n", (int)hits);
  join(t);
  close(s);
  return 0;
}
