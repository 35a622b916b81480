/* socket(SOCK_NONBLOCK) sets O_NONBLOCK (visible via fcntl) and nothing else. */
#include "common.h"
int main(void) {
  int s = SHOWFD("socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK)", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_flags("nonblock socket", s);
  int s6 = SHOWFD("socket(AF_INET6, SOCK_STREAM|SOCK_NONBLOCK)", socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0));
  show_flags("nonblock socket6", s6);
  SHOW("fcntl(F_SETFL, 0)", fcntl(s, F_SETFL, 0));
  show_flags("after F_SETFL 0", s);
  return 0;
}
