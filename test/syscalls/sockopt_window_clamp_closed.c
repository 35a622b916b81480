/* TCP_WINDOW_CLAMP 0 is refused on a live connection but taken once it is TCP_CLOSE
 * (tcp_set_window_clamp): after a reset (its listener closed with it queued) and after both FINs;
 * then it reads 0. */
#include "common.h"
static void try_zero(const char *label, int fd) {
  char l[96];
  snprintf(l, sizeof l, "%s: TCP_WINDOW_CLAMP 0", label);
  SHOW(l, setint(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, 0));
  snprintf(l, sizeof l, "%s: TCP_WINDOW_CLAMP", label);
  show_opt(l, fd, IPPROTO_TCP, TCP_WINDOW_CLAMP);
}
int main(void) {
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
