/* SO_RCVTIMEO and SO_SNDTIMEO set before connect stay with the connection, and an accepted socket
 * inherits its listener's (sk_clone_lock copies sk_rcvtimeo and sk_sndtimeo): a blocking read on
 * either end then gives up with EAGAIN. */
#include "common.h"
int main(void) {
  int l = tcp_listen("127.0.0.1", 20810, 4);
  struct timeval rcv = { 0, 100000 }, snd = { 0, 250000 };
  SHOW("listener SO_RCVTIMEO 100ms", setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv));
  SHOW("listener SO_SNDTIMEO 250ms", setsockopt(l, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd));
  int c = tcp_socket("127.0.0.1");
  struct timeval crcv = { 0, 150000 };
  SHOW("client SO_RCVTIMEO 150ms before connect", setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &crcv, sizeof crcv));
  show_connect("connect", c, "127.0.0.1", 20810);
  int s = MUST(accept(l, NULL, NULL));
  show_timeo("client SO_RCVTIMEO", c, SO_RCVTIMEO);
  show_timeo("client SO_SNDTIMEO", c, SO_SNDTIMEO);
  show_timeo("accepted SO_RCVTIMEO", s, SO_RCVTIMEO);
  show_timeo("accepted SO_SNDTIMEO", s, SO_SNDTIMEO);
  char b;
  SHOW("client read times out", read(c, &b, 1));
  SHOW("accepted read times out", read(s, &b, 1));
  close(s);
  close(c);
  close(l);
  return 0;
}
