/* Urgent data on a connection (send MSG_OOB): a read stops at the mark, SIOCATMARK says when it
 * is there, recv(MSG_OOB) takes the urgent byte apart, and with SO_OOBINLINE it stays in line;
 * an accepted socket inherits its listener's SO_OOBINLINE. */
#include "common.h"
static void take(const char *label, int fd) {
  char b[16] = { 0 };
  long n = recv(fd, b, sizeof b - 1, MSG_DONTWAIT);
  if (n < 0) SHOW(label, n);
  else SAY("%s -> %ld \"%s\"\n", label, n, b);
}
static void atmark(const char *label, int fd) {
  int at = -1;
  SHOW(label, ioctl(fd, SIOCATMARK, &at));
  SAY("  at mark %d\n", at);
}
/* `before`, then the urgent byte `urgent` (MSG_OOB), then `after`, given time to arrive. */
static void send_urgent(int c, const char *before, const char *urgent, const char *after) {
  char label[32];
  MUST(send(c, before, strlen(before), 0));
  snprintf(label, sizeof label, "send \"%s\" MSG_OOB", urgent);
  SHOW(label, send(c, urgent, 1, MSG_OOB));
  if (*after) MUST(send(c, after, strlen(after), 0));
  sleep_ms(50);
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20454, 4);
  int c = tcp_connect("127.0.0.1", 20454);
  MUST(setint(c, IPPROTO_TCP, TCP_NODELAY, 1));
  int s = MUST(accept(l, NULL, NULL));
  send_urgent(c, "ab", "c", "de");
  atmark("SIOCATMARK before reading", s);
  take("read (stops at the mark)", s);
  atmark("SIOCATMARK after", s);
  char u = 0;
  SHOW("recv MSG_OOB", recv(s, &u, 1, MSG_OOB));
  SAY("  urgent byte '%c'\n", u);
  take("read the rest", s);
  SHOW("recv MSG_OOB again", recv(s, &u, 1, MSG_OOB));

  SHOW("setsockopt SO_OOBINLINE 1", setint(s, SOL_SOCKET, SO_OOBINLINE, 1));
  send_urgent(c, "fg", "h", "ij");
  take("inline: read", s);
  atmark("inline: SIOCATMARK", s);
  take("inline: read again", s);
  SHOW("inline: recv MSG_OOB", recv(s, &u, 1, MSG_OOB));

  int l2 = tcp_listen_with("127.0.0.1", 20455, SOL_SOCKET, SO_OOBINLINE, 1, "listener: setsockopt SO_OOBINLINE 1");
  int c2 = tcp_connect("127.0.0.1", 20455);
  MUST(setint(c2, IPPROTO_TCP, TCP_NODELAY, 1));
  int s2 = MUST(accept(l2, NULL, NULL));
  SAY("accepted inherits SO_OOBINLINE %d\n", getint(s2, SOL_SOCKET, SO_OOBINLINE));
  send_urgent(c2, "k", "l", "");
  take("accepted: read", s2);
  take("accepted: read again", s2);
  return 0;
}
