/* IPv6 options through connect and accept (sockopt_inherited for AF_INET6): a connection keeps
 * its socket's, a child copies its listener's, but a child's multicast hop limit and interface
 * are its SYN's (tcp_v6_syn_recv_sock, a v4-mapped peer's too), and a client that asked for packet
 * info or hop limits takes them from the segments it receives (the SYN-ACK). */
#include "common.h"
struct o { int level, name, val; const char *n; };
static struct o opts[] = {
  {IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9, "IPV6_UNICAST_HOPS"}, {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 5, "IPV6_MULTICAST_HOPS"},
  {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP"}, {IPPROTO_IPV6, IPV6_MULTICAST_IF, 0, "IPV6_MULTICAST_IF"},
  {IPPROTO_IPV6, IPV6_TCLASS, 0x20, "IPV6_TCLASS"}, {IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"},
  {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"}, {IPPROTO_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS"},
  {IPPROTO_IPV6, IPV6_MTU_DISCOVER, 0, "IPV6_MTU_DISCOVER"}, {IPPROTO_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR"},
  {IPPROTO_IPV6, IPV6_FREEBIND, 1, "IPV6_FREEBIND"}, {IPPROTO_IPV6, IPV6_TRANSPARENT, 1, "IPV6_TRANSPARENT"},
  {IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, 0, "IPV6_AUTOFLOWLABEL"}, {IPPROTO_IPV6, IPV6_DONTFRAG, 1, "IPV6_DONTFRAG"},
  {IPPROTO_IPV6, IPV6_MINHOPCOUNT, 2, "IPV6_MINHOPCOUNT"}, {IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, 1, "IPV6_RECVORIGDSTADDR"},
  {IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL"}, {IPPROTO_IPV6, IPV6_ADDR_PREFERENCES, 2, "IPV6_ADDR_PREFERENCES"},
  {IPPROTO_IP, IP_TOS, 0x20, "IP_TOS"}, {IPPROTO_IP, IP_TTL, 9, "IP_TTL"}, {IPPROTO_IP, IP_MULTICAST_TTL, 5, "IP_MULTICAST_TTL"},
};
#define N (int)(sizeof opts / sizeof opts[0])
static void run(const char *lip, const char *cip, int port, int setopts) {
  int l = MUST(socket(AF_INET6, SOCK_STREAM, 0));
  int c = MUST(socket(family_of(cip), SOCK_STREAM, 0));
  for (int i = 0; i < N && setopts; i++) {
    int r1 = setint(l, opts[i].level, opts[i].name, opts[i].val); int e1 = errno;
    int r2 = setint(c, opts[i].level, opts[i].name, opts[i].val); int e2 = errno;
    if (r1 < 0 || r2 < 0) SAY("set %s: %s %s\n", opts[i].n, r1 < 0 ? errname(e1) : "ok", r2 < 0 ? errname(e2) : "ok");
  }
  show_bind("bind", l, lip, port);
  MUST(listen(l, 8));
  show_connect("connect", c, cip, port);
  int s = SHOWFD("accept", accept(l, NULL, NULL));
  for (int i = 0; i < N; i++) SAY("%s: listener %s accepted %s client %s\n", opts[i].n, optstr(l, opts[i].level, opts[i].name), optstr(s, opts[i].level, opts[i].name), optstr(c, opts[i].level, opts[i].name));
  close(s); close(c); close(l);
}
int main(void) {
  run("::", "::1", 20833, 1);
  run("::", "::1", 20834, 0);
  run("::", "127.0.0.1", 20835, 0);
  return 0;
}
