/* Options a connection keeps and an accepted socket inherits, for ~50 int options the sentry
 * does not emulate: each is set on a socket before it connects and on a listener before it
 * listens, then read on the listener, its accepted socket and the connected client. Linux keeps
 * a socket's options through connect and copies the listener into the child (sk_clone_lock),
 * but a child's TCP_FASTOPEN is 0 and its TCP_QUICKACK a new connection's. */
#include "common.h"
struct o { int level, name, val; const char *n; };
static struct o opts[] = {
  {SOL_SOCKET, SO_DEBUG, 1, "SO_DEBUG"}, {SOL_SOCKET, SO_DONTROUTE, 1, "SO_DONTROUTE"}, {SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST"},
  {SOL_SOCKET, SO_NO_CHECK, 1, "SO_NO_CHECK"}, {SOL_SOCKET, SO_PRIORITY, 4, "SO_PRIORITY"}, {SOL_SOCKET, SO_PASSCRED, 1, "SO_PASSCRED"},
  {SOL_SOCKET, SO_TIMESTAMP, 1, "SO_TIMESTAMP"}, {SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS"}, {SOL_SOCKET, SO_MARK, 7, "SO_MARK"},
  {SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL"}, {SOL_SOCKET, SO_WIFI_STATUS, 1, "SO_WIFI_STATUS"}, {SOL_SOCKET, SO_NOFCS, 1, "SO_NOFCS"},
  {SOL_SOCKET, SO_SELECT_ERR_QUEUE, 1, "SO_SELECT_ERR_QUEUE"}, {SOL_SOCKET, SO_BUSY_POLL, 5, "SO_BUSY_POLL"}, {SOL_SOCKET, SO_MAX_PACING_RATE, 99999, "SO_MAX_PACING_RATE"},
  {SOL_SOCKET, SO_PASSSEC, 1, "SO_PASSSEC"}, {SOL_SOCKET, 75, 1, "SO_RCVMARK"}, {SOL_SOCKET, 76, 1, "SO_PASSPIDFD"}, {SOL_SOCKET, 70, 9, "SO_BUSY_POLL_BUDGET"}, {SOL_SOCKET, 69, 1, "SO_PREFER_BUSY_POLL"},
  {IPPROTO_TCP, TCP_SYNCNT, 3, "TCP_SYNCNT"}, {IPPROTO_TCP, TCP_LINGER2, 7, "TCP_LINGER2"}, {IPPROTO_TCP, TCP_QUICKACK, 0, "TCP_QUICKACK"},
  {IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, 1, "TCP_THIN_LINEAR_TIMEOUTS"}, {IPPROTO_TCP, TCP_THIN_DUPACK, 1, "TCP_THIN_DUPACK"}, {IPPROTO_TCP, TCP_USER_TIMEOUT, 5000, "TCP_USER_TIMEOUT"},
  {IPPROTO_TCP, TCP_FASTOPEN, 16, "TCP_FASTOPEN"}, {IPPROTO_TCP, TCP_NOTSENT_LOWAT, 7000, "TCP_NOTSENT_LOWAT"}, {IPPROTO_TCP, TCP_SAVE_SYN, 1, "TCP_SAVE_SYN"},
  {IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1, "TCP_FASTOPEN_CONNECT"}, {IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 1, "TCP_FASTOPEN_NO_COOKIE"}, {IPPROTO_TCP, TCP_INQ, 1, "TCP_INQ"}, {IPPROTO_TCP, TCP_TX_DELAY, 100, "TCP_TX_DELAY"},
  {IPPROTO_IP, IP_TOS, 0x20, "IP_TOS"}, {IPPROTO_IP, IP_TTL, 9, "IP_TTL"}, {IPPROTO_IP, IP_RECVOPTS, 1, "IP_RECVOPTS"}, {IPPROTO_IP, IP_RETOPTS, 1, "IP_RETOPTS"},
  {IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO"}, {IPPROTO_IP, IP_MTU_DISCOVER, 0, "IP_MTU_DISCOVER"}, {IPPROTO_IP, IP_RECVERR, 1, "IP_RECVERR"}, {IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL"},
  {IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS"}, {IPPROTO_IP, IP_FREEBIND, 1, "IP_FREEBIND"}, {IPPROTO_IP, IP_PASSSEC, 1, "IP_PASSSEC"}, {IPPROTO_IP, IP_TRANSPARENT, 1, "IP_TRANSPARENT"},
  {IPPROTO_IP, IP_MINTTL, 2, "IP_MINTTL"}, {IPPROTO_IP, IP_NODEFRAG, 1, "IP_NODEFRAG"}, {IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1, "IP_BIND_ADDRESS_NO_PORT"}, {IPPROTO_IP, IP_RECVFRAGSIZE, 1, "IP_RECVFRAGSIZE"},
  {IPPROTO_IP, 26, 1, "IP_RECVERR_RFC4884"}, {IPPROTO_IP, IP_MULTICAST_TTL, 5, "IP_MULTICAST_TTL"}, {IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP"}, {IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL"},
  {IPPROTO_IP, 51, 0x7fff0400, "IP_LOCAL_PORT_RANGE"},
};
#define N (int)(sizeof opts / sizeof opts[0])
int main(void) {
  int l = MUST(socket(AF_INET, SOCK_STREAM, 0));
  int c = MUST(socket(AF_INET, SOCK_STREAM, 0));
  for (int i = 0; i < N; i++) {
    int r1 = setint(l, opts[i].level, opts[i].name, opts[i].val); int e1 = errno;
    int r2 = opts[i].name == TCP_FASTOPEN_CONNECT && opts[i].level == IPPROTO_TCP ? 0 : setint(c, opts[i].level, opts[i].name, opts[i].val); int e2 = errno;
    if (r1 < 0 || r2 < 0) SAY("set %s: %s %s\n", opts[i].n, r1 < 0 ? errname(e1) : "ok", r2 < 0 ? errname(e2) : "ok");
  }
  show_bind("bind", l, "127.0.0.1", 20825);
  MUST(listen(l, 8));
  show_connect("connect", c, "127.0.0.1", 20825);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  for (int i = 0; i < N; i++) {
    SAY("%s: listener %s accepted %s client %s\n", opts[i].n, optstr(l, opts[i].level, opts[i].name), optstr(s, opts[i].level, opts[i].name), optstr(c, opts[i].level, opts[i].name));
  }
  return 0;
}
