/* bind(2) on a connected socket: inet_bind's EINVAL for a socket with a port, after the checks
 * that come first (length, family, a non-local address), in Linux's order. */
#include "common.h"
static const struct { int v6; const char *label, *ip; int port; } CASES[] = {
  { 0, "same family", "127.0.0.1", 20989 },
  { 0, "port 0", "127.0.0.1", 0 },
  { 0, "IPv6 address", "::1", 20989 },
  { 0, "not a local address", "192.0.2.1", 20989 },
  { 1, "v6: same family", "::1", 20991 },
  { 1, "v6: IPv4 address", "127.0.0.1", 20991 },
  { 1, "v6: multicast", "ff02::1", 20991 },
  { 1, "v6: not a local address", "2001:db8::1", 20991 },
};
int main(void) {
  int c[2], s[2];
  tcp_pair("127.0.0.1", 20988, &c[0], &s[0]);
  tcp_pair("::1", 20990, &c[1], &s[1]);
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) show_bind(CASES[i].label, c[CASES[i].v6], CASES[i].ip, CASES[i].port);
  struct sockaddr_in a = { .sin_family = AF_INET };
  SHOW("addrlen 4", bind(c[0], (struct sockaddr *)&a, 4));
  return 0;
}
