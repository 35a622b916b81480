/* SO_RCVTIMEO: a blocking recv with nothing to read gives up with EAGAIN; accept honours it too. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20610, 4);
  int c = tcp_connect("127.0.0.1", 20610);
  int s = MUST(accept(l, NULL, NULL));
  struct timeval tv = { 0, 100000 }, got = { 9, 9 };
  SHOW("SO_RCVTIMEO 100ms", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  socklen_t len = sizeof got;
  SHOW("get SO_RCVTIMEO", getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &len));
  SAY("SO_RCVTIMEO -> %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
  char b;
  SHOW("read times out", read(s, &b, 1));
  SHOW("SO_RCVTIMEO on listener", setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  SHOW("accept times out", accept(l, NULL, NULL));
  struct timeval bad = { 0, 2000000 };
  SHOW("SO_RCVTIMEO usec 2000000", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad));
  SHOW("SO_RCVTIMEO optlen 4", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, 4));
  close(c);
  return 0;
}
