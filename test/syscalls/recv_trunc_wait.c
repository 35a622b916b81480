/* recv with MSG_TRUNC on a blocking connection waits as TCP does: for the first byte, or with
 * MSG_WAITALL for all of them; EOF ends it; SO_RCVTIMEO gives up with EAGAIN. MSG_PEEK|MSG_TRUNC
 * counts without consuming. A signal during the wait interrupts it (EINTR without SA_RESTART), or
 * the call goes on (SA_RESTART). */
#include "common.h"
static int client;
static void *write_later(void *arg) {
  sleep_ms(50);
  write_all(client, (const char *)arg, strlen((const char *)arg));
  return NULL;
}
static void *write_twice(void *arg) {
  (void)arg;
  sleep_ms(30);
  write_all(client, "12345", 5);
  sleep_ms(30);
  write_all(client, "67890", 5);
  return NULL;
}
static void on_alarm(int sig) { (void)sig; }
int main(void) {
  int s;
  tcp_pair("127.0.0.1", 20940, &client, &s);
  pthread_t t = go(write_later, "later");
  SHOW("blocking recv MSG_TRUNC 100 waits for the bytes", recv(s, NULL, 100, MSG_TRUNC));
  join(t);
  t = go(write_twice, NULL);
  SHOW("recv MSG_TRUNC|MSG_WAITALL 10 over two writes", recv(s, NULL, 10, MSG_TRUNC | MSG_WAITALL));
  join(t);
  write_all(client, "abcdef", 6);
  sleep_ms(20);
  SHOW("recv MSG_PEEK|MSG_TRUNC 4", recv(s, NULL, 4, MSG_PEEK | MSG_TRUNC));
  SHOW("recv MSG_PEEK|MSG_TRUNC 100", recv(s, NULL, 100, MSG_PEEK | MSG_TRUNC));
  SHOW("recv MSG_TRUNC 0", recv(s, NULL, 0, MSG_TRUNC));
  char b[16] = {0};
  SHOW("recv the peeked bytes", recv(s, b, sizeof b, MSG_DONTWAIT));
  SAY("  '%s'\n", b);
  struct timeval tv = { 0, 100000 };
  MUST(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  SHOW("recv MSG_TRUNC with SO_RCVTIMEO and nothing coming", recv(s, NULL, 8, MSG_TRUNC));
  tv.tv_usec = 0;
  MUST(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  struct sigaction sa = { .sa_handler = on_alarm };
  MUST(sigaction(SIGALRM, &sa, NULL));
  struct itimerval it = { { 0, 0 }, { 0, 100000 } };
  MUST(setitimer(ITIMER_REAL, &it, NULL));
  SHOW("recv MSG_TRUNC hit by SIGALRM (no SA_RESTART)", recv(s, NULL, 8, MSG_TRUNC));
  sa.sa_flags = SA_RESTART;
  MUST(sigaction(SIGALRM, &sa, NULL));
  it.it_value.tv_usec = 20000;
  MUST(setitimer(ITIMER_REAL, &it, NULL));
  t = go(write_later, "after the signal"); /* 50 ms: the alarm (20 ms) hits the wait first */
  SHOW("recv MSG_TRUNC hit by SIGALRM with SA_RESTART goes on", recv(s, NULL, 100, MSG_TRUNC));
  join(t);
  write_all(client, "xy", 2);
  MUST(shutdown(client, SHUT_WR));
  sleep_ms(20);
  SHOW("recv MSG_TRUNC|MSG_WAITALL 8 with 2 bytes then EOF", recv(s, NULL, 8, MSG_TRUNC | MSG_WAITALL));
  SHOW("recv MSG_TRUNC at EOF", recv(s, NULL, 8, MSG_TRUNC));
  return 0;
}
