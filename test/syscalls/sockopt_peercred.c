/* The peer-identity options on a TCP connection: SO_PEERCRED has no peer credentials to report
 * ({0, -1, -1}, 12 bytes; truncated to a shorter optlen), SO_PEERPIDFD ENODATA, SO_PEERSEC
 * ENOPROTOOPT, SO_PASSCRED EOPNOTSUPP: nothing of the peer process shows through the socket. */
#include "common.h"
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
static void peercred(const char *who, int fd, socklen_t room) {
  struct ucred u;
  memset(&u, 0x55, sizeof u);
  socklen_t len = room;
  char label[64];
  snprintf(label, sizeof label, "%s SO_PEERCRED (room %u)", who, (unsigned)room);
  if (SHOW(label, getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len)) == 0)
    SAY("  pid %d uid %d gid %d optlen %u\n", u.pid, (int)u.uid, (int)u.gid, (unsigned)len);
}
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20900, &c, &s);
  peercred("server", s, sizeof(struct ucred));
  peercred("client", c, sizeof(struct ucred));
  peercred("client", c, 8);
  int pfd = -1;
  socklen_t len = sizeof pfd;
  SHOW("SO_PEERPIDFD", getsockopt(s, SOL_SOCKET, SO_PEERPIDFD, &pfd, &len));
  char sec[64];
  len = sizeof sec;
  SHOW("SO_PEERSEC", getsockopt(s, SOL_SOCKET, SO_PEERSEC, sec, &len));
  int one = 1;
  SHOW("SO_PASSCRED 1", setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
  return 0;
}
