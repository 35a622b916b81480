/* A named (abstract) AF_UNIX stream socket is untouched: bind, listen, connect, accept. */
#include "common.h"
static socklen_t unaddr(struct sockaddr_un *un) {
  static const char name[] = "tsor-syscalls-unix";
  memset(un, 0, sizeof *un);
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path + 1, name, sizeof name - 1);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + sizeof name - 1);
}
int main(void) {
  struct sockaddr_un un, got;
  socklen_t len = unaddr(&un);
  int l = SHOWFD("socket(AF_UNIX)", socket(AF_UNIX, SOCK_STREAM, 0));
  SHOW("bind @tsor-syscalls-unix", bind(l, (struct sockaddr *)&un, len));
  SHOW("listen", listen(l, 4));
  int c = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
  SHOW("connect", connect(c, (struct sockaddr *)&un, len));
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  socklen_t glen = sizeof got;
  MUST(getpeername(c, (struct sockaddr *)&got, &glen));
  SAY("client peer -> @%.*s\n", (int)(glen - offsetof(struct sockaddr_un, sun_path) - 1), got.sun_path + 1);
  SHOW("write", write(c, "named", 5));
  show_read("server", s, 5);
  int d = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
  SHOW("bind the same name again", bind(d, (struct sockaddr *)&un, len));
  return 0;
}
