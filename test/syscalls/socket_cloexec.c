/* socket(SOCK_CLOEXEC) sets FD_CLOEXEC (visible via fcntl); a plain socket has neither flag. */
#include "common.h"
int main(void) {
  int s = SHOWFD("socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC)", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  show_flags("cloexec socket", s);
  int p = SHOWFD("socket(AF_INET, SOCK_STREAM)", socket(AF_INET, SOCK_STREAM, 0));
  show_flags("plain socket", p);
  int b = SHOWFD("socket(AF_INET6, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, IPPROTO_TCP)",
                 socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  show_flags("both", b);
  return 0;
}
