/* bind with an address of another family: EAFNOSUPPORT; AF_UNSPEC+INADDR_ANY is accepted on
 * an AF_INET socket for compatibility. */
#include "common.h"
int main(void) {
  struct sockaddr_storage ss;
  int s = tcp_socket("127.0.0.1");
  mkaddr(&ss, "::1", 20070);
  SHOW("AF_INET socket bind sockaddr_in6 (len 16)", bind(s, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)));
  SHOW("AF_INET socket bind sockaddr_in6 (len 28)", bind(s, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6)));
  int s6 = tcp_socket("::1");
  mkaddr(&ss, "127.0.0.1", 20070);
  SHOW("AF_INET6 socket bind sockaddr_in (len 16)", bind(s6, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)));
  SHOW("AF_INET6 socket bind sockaddr_in (len 28)", bind(s6, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6)));
  mkaddr(&ss, "127.0.0.1", 20071);
  ss.ss_family = AF_UNSPEC;
  SHOW("AF_INET socket bind AF_UNSPEC 127.0.0.1", bind(s, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)));
  mkaddr(&ss, "0.0.0.0", 20072);
  ss.ss_family = AF_UNSPEC;
  SHOW("AF_INET socket bind AF_UNSPEC 0.0.0.0", bind(s, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)));
  show_name("after AF_UNSPEC", s, 0);
  return 0;
}
