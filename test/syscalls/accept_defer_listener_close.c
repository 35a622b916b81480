/* TCP_DEFER_ACCEPT: a client that connected and sent nothing waits outside the accept queue, and
 * its FIN lets it in; one still waiting when the listener closes is dropped without a word (the
 * client sees nothing, and its connection stays open); one its FIN let in is reset by the
 * listener's close (inet_csk_listen_stop), so its read fails with ECONNRESET. */
#include "common.h"
static int defer_listener(int port) {
  int l = tcp_socket("127.0.0.1");
  struct sockaddr_storage ss;
  socklen_t len = mkaddr(&ss, "127.0.0.1", port);
  MUST(bind(l, (struct sockaddr *)&ss, len));
  MUST(setint(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5));
  MUST(listen(l, 4));
  return l;
}
int main(void) {
  int l = defer_listener(20879);
  int c = tcp_connect("127.0.0.1", 20879);
  SHOW("client shutdown(SHUT_WR)", shutdown(c, SHUT_WR));
  sleep_ms(50);
  MUST(fcntl(l, F_SETFL, O_NONBLOCK));
  int s = SHOWFD("accept after the client's FIN", accept(l, NULL, NULL));
  if (s >= 0) close(s);
  close(c);
  close(l);

  l = defer_listener(20881);
  c = tcp_connect("127.0.0.1", 20881);
  sleep_ms(20);
  SHOW("listener closed with the client waiting", close(l));
  sleep_ms(50);
  char b;
  SHOW("client read (nothing comes)", recv(c, &b, 1, MSG_DONTWAIT));
  SHOW("client shutdown(SHUT_RDWR)", shutdown(c, SHUT_RDWR));
  close(c);

  l = defer_listener(20883);
  c = tcp_connect("127.0.0.1", 20883);
  SHOW("client shutdown(SHUT_WR)", shutdown(c, SHUT_WR));
  sleep_ms(50);
  SHOW("listener closed with the client's FIN queued", close(l));
  sleep_ms(50);
  SHOW("client read (reset)", recv(c, &b, 1, MSG_DONTWAIT));
  close(c);
  return 0;
}
