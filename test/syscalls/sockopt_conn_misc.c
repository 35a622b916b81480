/* Options of a connection the sentry does not keep itself, as Linux answers them: SO_COOKIE (8
 * bytes, one per socket: the two ends differ, a second read is the same), SO_PEERNAME
 * (getpeername's address; EINVAL with more room than the address, exactly optlen bytes
 * otherwise), TCP_CONGESTION (the netns's default name in 16 bytes), SO_BINDTODEVICE unbound
 * (nothing, optlen 0), SO_PRIORITY and SO_RCVLOWAT (ints). */
#include "common.h"
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef TCP_CONGESTION
#define TCP_CONGESTION 13
#endif
static uint64_t cookie(int fd, socklen_t *len) {
  uint64_t v = 0;
  *len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &v, len) < 0) printf("SO_COOKIE -> -1 %s\n", errname(errno));
  return v;
}
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20910, &c, &s);
  socklen_t lc, ls, l2;
  uint64_t kc = cookie(c, &lc), ks = cookie(s, &ls), kc2 = cookie(c, &l2);
  SAY("SO_COOKIE optlen %u %u; non-zero %d; ends differ %d; stable %d\n", (unsigned)lc, (unsigned)ls, kc != 0 && ks != 0, kc != ks, kc == kc2);
  uint32_t small = 0;
  socklen_t sl = sizeof small;
  SHOW("SO_COOKIE with 4 bytes of room", getsockopt(c, SOL_SOCKET, SO_COOKIE, &small, &sl));

  struct sockaddr_storage name, peer;
  socklen_t nl = sizeof name;
  MUST(getpeername(c, (struct sockaddr *)&peer, &nl));
  socklen_t len = sizeof name;
  SHOW("SO_PEERNAME with 128 bytes of room", getsockopt(c, SOL_SOCKET, SO_PEERNAME, &name, &len));
  memset(&name, 0, sizeof name);
  len = nl;
  SHOW("SO_PEERNAME with the address's size", getsockopt(c, SOL_SOCKET, SO_PEERNAME, &name, &len));
  SAY("  optlen %u, same as getpeername %d\n", (unsigned)len, memcmp(&name, &peer, nl) == 0);
  len = 8;
  memset(&name, 0, sizeof name);
  SHOW("SO_PEERNAME with 8 bytes", getsockopt(s, SOL_SOCKET, SO_PEERNAME, &name, &len));
  SAY("  optlen %u, family %d\n", (unsigned)len, ((struct sockaddr *)&name)->sa_family);

  char cc[32], dflt[32];
  memset(cc, 0x55, sizeof cc);
  memset(dflt, 0x55, sizeof dflt);
  socklen_t cl = sizeof cc, dl = sizeof dflt;
  int fresh = tcp_socket("127.0.0.1");
  MUST(getsockopt(fresh, IPPROTO_TCP, TCP_CONGESTION, dflt, &dl));
  SHOW("TCP_CONGESTION", getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, cc, &cl));
  SAY("  optlen %u, the default's %u, same bytes %d\n", (unsigned)cl, (unsigned)dl, cl == dl && memcmp(cc, dflt, cl) == 0);

  char dev[32];
  socklen_t dvl = sizeof dev;
  SHOW("SO_BINDTODEVICE", getsockopt(c, SOL_SOCKET, SO_BINDTODEVICE, dev, &dvl));
  SAY("  optlen %u\n", (unsigned)dvl);
  show_opt("SO_PRIORITY", c, SOL_SOCKET, SO_PRIORITY);
  show_opt("SO_RCVLOWAT", c, SOL_SOCKET, SO_RCVLOWAT);
  return 0;
}
