/* MSG_WAITALL waits until the whole length has arrived though it is written in pieces. */
#include "common.h"
static int cfd;
static void *writer(void *arg) {
  block_signals();
  unsigned char buf[100];
  for (int i = 0; i < 3; i++) {
    sleep_ms(30);
    fill(buf, sizeof buf, (uint64_t)i * 100);
    write_all(cfd, buf, sizeof buf);
  }
  return NULL;
}
int main(void) {
  int s;
  tcp_pair("127.0.0.1", 20590, &cfd, &s);
  pthread_t t = go(writer, NULL);
  unsigned char buf[300], want[300];
  SHOW("recv 300 MSG_WAITALL", recv(s, buf, sizeof buf, MSG_WAITALL));
  fill(want, sizeof want, 0);
  SAY("content matches -> %d\n", memcmp(buf, want, sizeof buf) == 0);
  join(t);
  write_all(cfd, "ab", 2);
  MUST(shutdown(cfd, SHUT_WR));
  SHOW("recv 10 MSG_WAITALL cut short by EOF", recv(s, buf, 10, MSG_WAITALL));
  return 0;
}
