/* UDP is not a virtual socket: sendto/recvfrom on 127.0.0.1 with fixed ports, as the kernel. */
#include "common.h"
int main(void) {
  int a = SHOWFD("socket(AF_INET, SOCK_DGRAM)", socket(AF_INET, SOCK_DGRAM, 0));
  int b = MUST(socket(AF_INET, SOCK_DGRAM, 0));
  show_bind("a bind 127.0.0.1:20640", a, "127.0.0.1", 20640);
  show_bind("b bind 127.0.0.1:20641", b, "127.0.0.1", 20641);
  struct sockaddr_storage to, from;
  socklen_t tolen = mkaddr(&to, "127.0.0.1", 20641), fromlen = sizeof from;
  SHOW("sendto b", sendto(a, "datagram", 8, 0, (struct sockaddr *)&to, tolen));
  char buf[32] = { 0 };
  SHOW("recvfrom", recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen));
  SAY("got \"%s\" from %s\n", buf, addrstr(&from, fromlen));
  show_opt("SO_TYPE", a, SOL_SOCKET, SO_TYPE);
  show_opt("SO_PROTOCOL", a, SOL_SOCKET, SO_PROTOCOL);
  show_connect("connect a to b", a, "127.0.0.1", 20641);
  SHOW("send", send(a, "two", 3, 0));
  memset(buf, 0, sizeof buf);
  SHOW("recv", recv(b, buf, sizeof buf, 0));
  show_name("a", a, 1);
  show_connect("connect to a closed port", b, "127.0.0.1", 20642);
  SHOW("send there", send(b, "x", 1, 0));
  sleep_ms(20);
  SHOW("recv the ICMP error", recv(b, buf, sizeof buf, MSG_DONTWAIT));
  return 0;
}
