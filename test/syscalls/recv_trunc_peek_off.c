/* recv(MSG_PEEK | MSG_TRUNC) counts the bytes a peek would see: with SO_PEEK_OFF from the peek
 * offset on, which it moves past them (tcp_recvmsg_locked: peek_seq starts at copied_seq plus the
 * offset, sk_peek_offset_fwd); without it from the first unread byte, moving nothing. */
#include "common.h"
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20838, &c, &s);
  SHOW("write 11 bytes", write(c, "0123456789a", 11));
  sleep_ms(20);
  SHOW("peek|trunc 4 (no SO_PEEK_OFF)", recv(s, NULL, 4, MSG_PEEK | MSG_TRUNC));
  SHOW("peek|trunc 64 (no SO_PEEK_OFF)", recv(s, NULL, 64, MSG_PEEK | MSG_TRUNC));
  SHOW("SO_PEEK_OFF 2", setint(s, SOL_SOCKET, SO_PEEK_OFF, 2));
  SHOW("peek|trunc 4", recv(s, NULL, 4, MSG_PEEK | MSG_TRUNC));
  show_opt("SO_PEEK_OFF", s, SOL_SOCKET, SO_PEEK_OFF);
  SHOW("peek|trunc 64", recv(s, NULL, 64, MSG_PEEK | MSG_TRUNC));
  show_opt("SO_PEEK_OFF", s, SOL_SOCKET, SO_PEEK_OFF);
  SHOW("peek|trunc|dontwait past the data", recv(s, NULL, 64, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT));
  show_opt("SO_PEEK_OFF", s, SOL_SOCKET, SO_PEEK_OFF);
  SHOW("SO_PEEK_OFF 3", setint(s, SOL_SOCKET, SO_PEEK_OFF, 3));
  char b[16] = { 0 };
  SHOW("peek 2", recv(s, b, 2, MSG_PEEK));
  SAY("peeked \"%s\"\n", b);
  SHOW("shutdown RDWR", shutdown(s, SHUT_RDWR));
  SHOW("peek|trunc 64 after shutdown", recv(s, NULL, 64, MSG_PEEK | MSG_TRUNC));
  show_opt("SO_PEEK_OFF", s, SOL_SOCKET, SO_PEEK_OFF);
  SHOW("peek|trunc 64 again", recv(s, NULL, 64, MSG_PEEK | MSG_TRUNC));
  SHOW("SO_PEEK_OFF 0", setint(s, SOL_SOCKET, SO_PEEK_OFF, 0));
  SHOW("trunc 3 (consumes)", recv(s, NULL, 3, MSG_TRUNC));
  show_opt("SO_PEEK_OFF", s, SOL_SOCKET, SO_PEEK_OFF);
  memset(b, 0, sizeof b);
  SHOW("read the rest", read(s, b, sizeof b - 1));
  SAY("read \"%s\"\n", b);
  close(c);
  close(s);
  return 0;
}
