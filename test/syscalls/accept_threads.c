/* Several threads block in accept on one listener; N clients each get accepted exactly once. */
#include "common.h"
#define N 6
static int l;
static int seen[N];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *acceptor(void *arg) {
  block_signals();
  int s = MUST(accept(l, NULL, NULL));
  unsigned char b;
  MUST(read(s, &b, 1));
  pthread_mutex_lock(&mu);
  if (b < N) seen[b]++;
  pthread_mutex_unlock(&mu);
  close(s);
  return NULL;
}
int main(void) {
  l = tcp_listen("127.0.0.1", 20240, 16);
  pthread_t t[N];
  for (int i = 0; i < N; i++) t[i] = go(acceptor, NULL);
  sleep_ms(50);
  int c[N];
  for (int i = 0; i < N; i++) {
    c[i] = tcp_connect("127.0.0.1", 20240);
    unsigned char b = (unsigned char)i;
    write_all(c[i], &b, 1);
  }
  for (int i = 0; i < N; i++) join(t[i]);
  SAY("accept count per client ->");
  for (int i = 0; i < N; i++) SAY(" %d", seen[i]);
  SAY("\n");
  MUST(fcntl(l, F_SETFL, O_NONBLOCK));
  SHOW("accept after all served", accept(l, NULL, NULL));
  return 0;
}
