/* sendfile from a regular file (memfd) into a socket, with and without an offset pointer. */
#include "common.h"
#define SIZE (1 << 20)
int main(void) {
  int f = MUST(memfd_create("payload", 0));
  static unsigned char buf[SIZE];
  fill(buf, SIZE, 0);
  write_all(f, buf, SIZE);
  int c, s;
  tcp_pair("127.0.0.1", 20620, &c, &s);
  off_t off = 0;
  uint64_t sent = 0;
  while (sent < SIZE) {
    ssize_t r = sendfile(c, f, &off, SIZE - sent);
    if (r <= 0) { SAY("sendfile -> %zd %s\n", r, errname(errno)); return 0; }
    sent += (uint64_t)r;
  }
  SAY("sendfile total -> %llu offset %lld\n", (unsigned long long)sent, (long long)off);
  MUST(lseek(f, SIZE - 10, SEEK_SET));
  SHOW("sendfile NULL offset (file position)", sendfile(c, f, NULL, 100));
  SAY("file position -> %lld\n", (long long)lseek(f, 0, SEEK_CUR));
  MUST(shutdown(c, SHUT_WR));
  uint64_t sum;
  uint64_t n = drain(s, &sum);
  uint64_t h = fnv(fnv(FNV_INIT, buf, SIZE), buf + SIZE - 10, 10);
  SAY("received -> %llu bytes, checksum %s\n", (unsigned long long)n, sum == h ? "matches" : "DIFFERS");
  SHOW("sendfile from a socket", sendfile(f, s, NULL, 10));
  return 0;
}
