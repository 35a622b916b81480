/* SO_RCVLOWAT on a connection: a blocking receive waits until that many bytes are there (or EOF);
 * a non-blocking one takes what there is; an accepted socket inherits its listener's. (Readiness,
 * which TCP also holds back, is not looked at: `tsor syscalls`.) */
#include "common.h"
static int writer_fd;
static void *late_writer(void *arg) {
  (void)arg;
  sleep_ms(100);
  /* As many as the low mark at once: TCP wakes a waiting reader once its queue holds that
   * many (tcp_data_ready), not the difference. */
  MUST(write(writer_fd, "cdefghi", 7));
  return NULL;
}
int main(void) {
  int l = tcp_listen("127.0.0.1", 20452, 4);
  int c = tcp_connect("127.0.0.1", 20452);
  MUST(setint(c, IPPROTO_TCP, TCP_NODELAY, 1)); /* "cde" must not wait for the ACK of "ab" */
  int s = MUST(accept(l, NULL, NULL));
  SHOW("setsockopt SO_RCVLOWAT 5", setint(s, SOL_SOCKET, SO_RCVLOWAT, 5));
  SAY("SO_RCVLOWAT %d\n", getint(s, SOL_SOCKET, SO_RCVLOWAT));
  MUST(write(c, "ab", 2));
  writer_fd = c;
  pthread_t t;
  pthread_create(&t, NULL, late_writer, NULL);
  char b[16] = { 0 };
  long n = SHOW("blocking recv of 15 (2 bytes there, 7 more later)", recv(s, b, sizeof b - 1, 0));
  if (n > 0) SAY("got \"%s\"\n", b);
  pthread_join(t, NULL);
  MUST(write(c, "xy", 2));
  sleep_ms(20);
  memset(b, 0, sizeof b);
  n = SHOW("recv MSG_DONTWAIT (2 bytes there)", recv(s, b, sizeof b - 1, MSG_DONTWAIT));
  if (n > 0) SAY("got \"%s\"\n", b);
  SHOW("shutdown(SHUT_WR) of the client", shutdown(c, SHUT_WR));
  MUST(write(s, "z", 1));
  SHOW("blocking recv at EOF", recv(s, b, sizeof b - 1, 0));

  int l2 = tcp_listen_with("127.0.0.1", 20453, SOL_SOCKET, SO_RCVLOWAT, 3, "listener: setsockopt SO_RCVLOWAT 3");
  int c2 = tcp_connect("127.0.0.1", 20453);
  MUST(setint(c2, IPPROTO_TCP, TCP_NODELAY, 1));
  int s2 = MUST(accept(l2, NULL, NULL));
  SAY("accepted inherits %d\n", getint(s2, SOL_SOCKET, SO_RCVLOWAT));
  MUST(write(c2, "a", 1));
  writer_fd = c2;
  pthread_create(&t, NULL, late_writer, NULL);
  memset(b, 0, sizeof b);
  n = SHOW("accepted: blocking recv (1 byte there, 7 more later)", recv(s2, b, sizeof b - 1, 0));
  if (n > 0) SAY("got \"%s\"\n", b);
  pthread_join(t, NULL);
  return 0;
}
