/* The TCP-specific queue and timestamp ioctls on a connection with bytes in flight: SIOCINQ counts
 * what waits to be read; SIOCOUTQ (unacknowledged) and SIOCOUTQNSD (unsent) are 0 once the peer
 * has the bytes; SIOCATMARK 0 with no urgent data; SIOCGSTAMP/SIOCGSTAMPNS ENOENT (TCP never
 * records a packet's time); FIONBIO makes the socket non-blocking. */
#include "common.h"
#include <linux/sockios.h>
static void show_int(const char *label, int fd, unsigned long req) {
  int v = -1;
  if (ioctl(fd, req, &v) < 0) SAY("%s -> -1 %s\n", label, errname(errno));
  else SAY("%s -> 0, %d\n", label, v);
}
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20920, &c, &s);
  write_all(c, "hello", 5);
  sleep_ms(20);
  show_int("server SIOCINQ", s, SIOCINQ);
  show_int("client SIOCOUTQ", c, SIOCOUTQ);
  show_int("client SIOCOUTQNSD", c, SIOCOUTQNSD);
  show_int("server SIOCATMARK", s, SIOCATMARK);
  struct timeval tv;
  SHOW("server SIOCGSTAMP", ioctl(s, SIOCGSTAMP, &tv));
  struct timespec ts;
  SHOW("server SIOCGSTAMPNS", ioctl(s, SIOCGSTAMPNS, &ts));
  SHOW("client SIOCOUTQNSD bad pointer", ioctl(c, SIOCOUTQNSD, (void *)8));
  int one = 1;
  SHOW("client FIONBIO", ioctl(c, FIONBIO, &one));
  char b[8];
  SHOW("client read with nothing queued", read(c, b, sizeof b));
  return 0;
}
