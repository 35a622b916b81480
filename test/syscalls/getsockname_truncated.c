/* getsockname/getpeername with a short buffer copy what fits and report the full length. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20410, &c, &s);
  unsigned char buf[32];
  memset(buf, 0xee, sizeof buf);
  socklen_t len = 4;
  SHOW("getsockname addrlen 4", getsockname(s, (struct sockaddr *)buf, &len));
  SAY("addrlen -> %u bytes -> %02x%02x %02x%02x %02x\n", (unsigned)len, buf[0], buf[1], buf[2], buf[3], buf[4]);
  len = 0;
  SHOW("getpeername addrlen 0", getpeername(c, (struct sockaddr *)buf, &len));
  SAY("addrlen -> %u\n", (unsigned)len);
  len = 1000;
  SHOW("getsockname addrlen 1000", getsockname(s, (struct sockaddr *)buf, &len));
  SAY("addrlen -> %u\n", (unsigned)len);
  int l6 = tcp_listen("::1", 20411, 4);
  len = 8;
  memset(buf, 0xee, sizeof buf);
  SHOW("getsockname6 addrlen 8", getsockname(l6, (struct sockaddr *)buf, &len));
  SAY("addrlen -> %u bytes[8] -> %02x\n", (unsigned)len, buf[8]);
  len = (socklen_t)-1;
  SHOW("getsockname addrlen -1", getsockname(s, (struct sockaddr *)buf, &len));
  return 0;
}
