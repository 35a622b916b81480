/* Bad lengths fail with EINVAL: bind/connect addrlen 0, setsockopt optlen smaller than an int,
 * getsockopt negative optlen; a short getsockopt buffer truncates the int instead. */
#include "common.h"
int main(void) {
  int s = tcp_socket("127.0.0.1");
  struct sockaddr_storage ss;
  mkaddr(&ss, "127.0.0.1", 20690);
  SHOW("bind addrlen 0", bind(s, (struct sockaddr *)&ss, 0));
  SHOW("connect addrlen 0", connect(s, (struct sockaddr *)&ss, 0));
  SHOW("connect addrlen 8", connect(s, (struct sockaddr *)&ss, 8));
  int v = 1;
  SHOW("setsockopt SO_REUSEADDR optlen 2", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2));
  SHOW("setsockopt SO_KEEPALIVE optlen 0", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 0));
  SHOW("setsockopt TCP_NODELAY optlen 2", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, 2));
  SHOW("setsockopt IPV6_V6ONLY optlen 2", setsockopt(tcp_socket("::"), IPPROTO_IPV6, IPV6_V6ONLY, &v, 2));
  socklen_t len = (socklen_t)-1;
  SHOW("getsockopt SO_TYPE optlen -1", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len));
  len = (socklen_t)-1;
  SHOW("getsockopt TCP_NODELAY optlen -1", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len));
  unsigned char buf[4] = { 0xee, 0xee, 0xee, 0xee };
  len = 1;
  SHOW("getsockopt SO_TYPE optlen 1", getsockopt(s, SOL_SOCKET, SO_TYPE, buf, &len));
  SAY("optlen -> %u bytes -> %02x %02x\n", (unsigned)len, buf[0], buf[1]);
  len = 0;
  SHOW("getsockopt SO_TYPE optlen 0", getsockopt(s, SOL_SOCKET, SO_TYPE, buf, &len));
  SAY("optlen -> %u\n", (unsigned)len);
  len = 2;
  buf[0] = buf[1] = 0xee;
  SHOW("getsockopt TCP_NODELAY optlen 2", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, buf, &len));
  SAY("optlen -> %u bytes -> %02x %02x\n", (unsigned)len, buf[0], buf[1]);
  len = 64;
  SHOW("getsockopt SO_TYPE optlen 64", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len));
  SAY("optlen -> %u\n", (unsigned)len);
  return 0;
}
