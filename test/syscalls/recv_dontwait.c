/* MSG_DONTWAIT on a blocking socket: EAGAIN when nothing is queued; the fd stays blocking. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20580, &c, &s);
  char buf[8];
  SHOW("recv MSG_DONTWAIT empty", recv(s, buf, sizeof buf, MSG_DONTWAIT));
  show_flags("after", s);
  write_all(c, "ok", 2);
  sleep_ms(20);
  SHOW("recv MSG_DONTWAIT with data", recv(s, buf, sizeof buf, MSG_DONTWAIT));
  SHOW("send MSG_DONTWAIT", send(s, "yo", 2, MSG_DONTWAIT));
  return 0;
}
