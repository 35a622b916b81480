/* 64 MiB through one connection (writer thread, reader main) arrives complete and in order. */
#include "common.h"
#define TOTAL (64ull << 20)
static int cfd;
static void *writer(void *arg) {
  block_signals();
  static unsigned char buf[1 << 17];
  for (uint64_t off = 0; off < TOTAL; off += sizeof buf) {
    fill(buf, sizeof buf, off);
    write_all(cfd, buf, sizeof buf);
  }
  MUST(shutdown(cfd, SHUT_WR));
  return NULL;
}
int main(void) {
  int s;
  tcp_pair("127.0.0.1", 20550, &cfd, &s);
  static unsigned char expect[1 << 17];
  uint64_t h = FNV_INIT;
  for (uint64_t off = 0; off < TOTAL; off += sizeof expect) {
    fill(expect, sizeof expect, off);
    h = fnv(h, expect, sizeof expect);
  }
  pthread_t t = go(writer, NULL);
  uint64_t sum;
  uint64_t n = drain(s, &sum);
  join(t);
  SAY("received -> %llu bytes, checksum %s\n", (unsigned long long)n, sum == h ? "matches" : "DIFFERS");
  return 0;
}
