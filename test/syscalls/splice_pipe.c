/* splice moves bytes pipe -> socket and socket -> pipe. */
#include "common.h"
#define SIZE (256 * 1024)
static int pw;
static void *feeder(void *arg) {
  block_signals();
  static unsigned char buf[SIZE];
  fill(buf, SIZE, 0);
  write_all(pw, buf, SIZE);
  close(pw);
  return NULL;
}
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20630, &c, &s);
  int p[2];
  MUST(pipe(p));
  pw = p[1];
  pthread_t t = go(feeder, NULL);
  uint64_t moved = 0;
  for (;;) {
    ssize_t r = splice(p[0], NULL, c, NULL, 65536, SPLICE_F_MOVE);
    if (r < 0) { SAY("splice pipe->socket -> -1 %s\n", errname(errno)); return 0; }
    if (r == 0) break;
    moved += (uint64_t)r;
  }
  join(t);
  MUST(shutdown(c, SHUT_WR));
  SAY("spliced pipe->socket -> %llu\n", (unsigned long long)moved);
  int q[2];
  MUST(pipe(q));
  static unsigned char want[SIZE];
  fill(want, SIZE, 0);
  uint64_t h = FNV_INIT, got = 0;
  static unsigned char buf[65536];
  for (;;) {
    ssize_t r = splice(s, NULL, q[1], NULL, 65536, SPLICE_F_MOVE);
    if (r < 0) { SAY("splice socket->pipe -> -1 %s\n", errname(errno)); return 0; }
    if (r == 0) break;
    size_t left = (size_t)r;
    while (left > 0) {
      ssize_t n = MUST(read(q[0], buf, left));
      h = fnv(h, buf, (size_t)n);
      left -= (size_t)n;
      got += (uint64_t)n;
    }
  }
  SAY("spliced socket->pipe -> %llu, checksum %s\n", (unsigned long long)got,
      h == fnv(FNV_INIT, want, SIZE) ? "matches" : "DIFFERS");
  SHOW("splice socket->socket (no pipe)", splice(s, NULL, c, NULL, 10, 0));
  return 0;
}
