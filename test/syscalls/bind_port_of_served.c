/* A served connection keeps its listener's port after the listener closed: bind(2) to it fails
 * EADDRINUSE, unless both sides have SO_REUSEADDR, until it is over (both FINs, its own second). A client bound to a wildcard address and a
 * port holds only its source address once connected: the port can be bound on another one. */
#include "common.h"
static void served_then_rebind(int port, int reuse) {
  int c, s;
  int l = tcp_serve_one(port, reuse, &c, &s);
  MUST(close(l));
  sleep_ms(20);
  SAY("listener %s SO_REUSEADDR closed, its connection open:\n", reuse ? "with" : "without");
  int x = show_rebind("  new socket", "127.0.0.1", port, 0);
  if (x >= 0) close(x);
  x = show_rebind("  new socket", "127.0.0.1", port, 1);
  if (x >= 0) close(x);
  close(c);
  close(s);
}
/* The served connection is over once both FINs went, the server's second: the port is free. */
static void served_closed_then_rebind(int port) {
  int c, s;
  int l = tcp_serve_one(port, 0, &c, &s);
  MUST(close(l));
  MUST(close(c));
  sleep_ms(20);
  SHOW("  server shutdown(SHUT_WR) after the client's close", shutdown(s, SHUT_WR));
  sleep_ms(20);
  int x = show_rebind("  new socket", "127.0.0.1", port, 0);
  if (x >= 0) close(x);
  close(s);
}
int main(void) {
  served_then_rebind(20992, 0);
  served_then_rebind(20993, 1);
  SAY("listener closed, its connection closed by both sides:\n");
  served_closed_then_rebind(20974);
  int l = tcp_listen("127.0.0.1", 20994, 4);
  int c = tcp_socket("127.0.0.1");
  show_bind("client bind 0.0.0.0:20995", c, "0.0.0.0", 20995);
  show_connect("client connect", c, "127.0.0.1", 20994);
  sleep_ms(20);
  show_name("client", c, 0);
  int x = tcp_socket("127.0.0.1");
  show_bind("other socket bind 127.0.0.2:20995", x, "127.0.0.2", 20995);
  int y = tcp_socket("127.0.0.1");
  show_bind("other socket bind 127.0.0.1:20995", y, "127.0.0.1", 20995);
  close(l);
  return 0;
}
