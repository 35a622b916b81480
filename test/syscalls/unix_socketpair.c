/* AF_UNIX socketpair is untouched: data both ways, identity sockopts, unnamed addresses. */
#include "common.h"
int main(void) {
  int sv[2];
  SHOW("socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)", socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  show_flags("sv[0]", sv[0]);
  SAY("domain %d type %d\n", getint(sv[0], SOL_SOCKET, SO_DOMAIN), getint(sv[0], SOL_SOCKET, SO_TYPE));
  SHOW("write", write(sv[0], "unix", 4));
  show_read("sv[1]", sv[1], 4);
  struct sockaddr_un un;
  socklen_t len = sizeof un;
  SHOW("getsockname", getsockname(sv[0], (struct sockaddr *)&un, &len));
  SAY("addrlen -> %u family %d\n", (unsigned)len, un.sun_family);
  SHOW("socketpair(AF_INET, SOCK_STREAM)", socketpair(AF_INET, SOCK_STREAM, 0, sv));
  return 0;
}
