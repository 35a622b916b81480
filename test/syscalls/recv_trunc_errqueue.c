/* recv flags TCP gives a meaning of its own on a connection: MSG_TRUNC discards the bytes without
 * copying them (a NULL buffer is fine: HAProxy drains connections so), and MSG_ERRQUEUE reads
 * the error queue, which is empty (EAGAIN) even while data waits. An AF_UNIX end would copy for
 * MSG_TRUNC (EFAULT into NULL) and ignore MSG_ERRQUEUE: the filter traps recv by these flags. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20930, &c, &s);
  write_all(c, "abcdefgh", 8);
  sleep_ms(20);
  char b[16] = {0};
  SHOW("recv MSG_TRUNC 3 into a buffer", recv(s, b, 3, MSG_TRUNC | MSG_DONTWAIT));
  SAY("  buffer '%s'\n", b);
  SHOW("recv MSG_TRUNC 2 into NULL", recv(s, NULL, 2, MSG_TRUNC | MSG_DONTWAIT));
  SHOW("recv MSG_ERRQUEUE with data waiting", recv(s, b, sizeof b, MSG_ERRQUEUE | MSG_DONTWAIT));
  memset(b, 0, sizeof b);
  SHOW("recv the rest", recv(s, b, sizeof b, MSG_DONTWAIT));
  SAY("  '%s'\n", b);
  return 0;
}
