/* bind with an address length too short for the family fails with EINVAL (0 included). */
#include "common.h"
int main(void) {
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", 20060);
  int s = tcp_socket("127.0.0.1");
  SHOW("bind addrlen 0", bind(s, (struct sockaddr *)&ss, 0));
  SHOW("bind addrlen 15", bind(s, (struct sockaddr *)&ss, len - 1));
  SHOW("bind addrlen 2", bind(s, (struct sockaddr *)&ss, 2));
  int s6 = tcp_socket("::1");
  mkaddr(&ss, "::1", 20060);
  SHOW("bind6 addrlen 0", bind(s6, (struct sockaddr *)&ss, 0));
  SHOW("bind6 addrlen 23", bind(s6, (struct sockaddr *)&ss, 23));
  SHOW("bind6 addrlen 24 (RFC2133 size)", bind(s6, (struct sockaddr *)&ss, 24));
  show_name("bound6", s6, 0);
  int t = tcp_socket("127.0.0.1");
  mkaddr(&ss, "127.0.0.1", 20061);
  SHOW("bind addrlen sizeof(storage)", bind(t, (struct sockaddr *)&ss, sizeof ss));
  show_name("bound", t, 0);
  return 0;
}
