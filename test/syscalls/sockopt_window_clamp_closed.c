/* TCP_WINDOW_CLAMP 0 is refused on a live connection but taken once it is TCP_CLOSE
 * (tcp_set_window_clamp): after a reset (its listener closed with it queued) and after both FINs;
 * then it reads 0. Taken before connect or listen, it does not outlive the handshake: the
 * connection and the accepted socket read the route's clamp. */
#include "common.h"
static void try_zero(const char *label, int fd) {
  char l[96];
  snprintf(l, sizeof l, "%s: TCP_WINDOW_CLAMP 0", label);
  SHOW(l, setint(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, 0));
  show_optf(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, "%s: TCP_WINDOW_CLAMP", label);
}
int main(void) {
  int l0 = MUST(socket(AF_INET, SOCK_STREAM, 0));
  SHOW("listener TCP_WINDOW_CLAMP 0 (before listen)", setint(l0, IPPROTO_TCP, TCP_WINDOW_CLAMP, 0));
  show_bind("bind", l0, "127.0.0.1", 20845);
  MUST(listen(l0, 4));
  int c0 = MUST(socket(AF_INET, SOCK_STREAM, 0));
  SHOW("client TCP_WINDOW_CLAMP 0 (before connect)", setint(c0, IPPROTO_TCP, TCP_WINDOW_CLAMP, 0));
  show_opt("client TCP_WINDOW_CLAMP before connect", c0, IPPROTO_TCP, TCP_WINDOW_CLAMP);
  show_connect("connect", c0, "127.0.0.1", 20845);
  int s0 = SHOWFD("accept", accept(l0, NULL, NULL));
  show_opt("client TCP_WINDOW_CLAMP", c0, IPPROTO_TCP, TCP_WINDOW_CLAMP);
  show_opt("accepted TCP_WINDOW_CLAMP", s0, IPPROTO_TCP, TCP_WINDOW_CLAMP);
  close(s0);
  close(c0);
  close(l0);

  int l = tcp_listen("127.0.0.1", 20839, 4);
  int c = tcp_connect("127.0.0.1", 20839);
  sleep_ms(20);
  try_zero("queued", c);
  SHOW("close the listener (the queued connection is reset)", close(l));
  sleep_ms(50);
  try_zero("reset", c);
  close(c);

  int a, b;
  tcp_pair("127.0.0.1", 20841, &a, &b);
  try_zero("established", a);
  SHOW("shutdown WR (client)", shutdown(a, SHUT_WR));
  SHOW("shutdown WR (server)", shutdown(b, SHUT_WR));
  sleep_ms(50);
  char x;
  SHOW("client reads EOF", read(a, &x, 1));
  SHOW("server reads EOF", read(b, &x, 1));
  try_zero("both FINs (client)", a);
  try_zero("both FINs (server)", b);
  close(a);
  close(b);
  return 0;
}
