/* accept fills in the peer address (the client's getsockname) and its length. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20180, 4);
  int c = tcp_socket("127.0.0.1");
  show_bind("client bind 127.0.0.1:20181", c, "127.0.0.1", 20181);
  show_connect("connect", c, "127.0.0.1", 20180);
  int s = show_accept("accept", l);
  struct sockaddr_storage ss;
  socklen_t len;
  show_name("accepted", s, 1);
  show_name("accepted", s, 0);
  int c2 = tcp_connect("127.0.0.1", 20180);
  len = sizeof ss;
  int s2 = SHOWFD("accept (ephemeral client)", accept(l, (struct sockaddr *)&ss, &len));
  SAY("peer -> %s port matches client -> %d\n", addrstr(&ss, len),
      ntohs(((struct sockaddr_in *)&ss)->sin_port) == local_port(c2));
  int c3 = tcp_connect("127.0.0.1", 20180);
  len = 4;
  memset(&ss, 0, sizeof ss);
  int s3 = SHOWFD("accept addrlen 4", accept(l, (struct sockaddr *)&ss, &len));
  SAY("truncated: addrlen -> %u family %d port matches -> %d\n", (unsigned)len, ss.ss_family,
      ntohs(((struct sockaddr_in *)&ss)->sin_port) == local_port(c3));
  close(s);
  close(s2);
  close(s3);
  return 0;
}
