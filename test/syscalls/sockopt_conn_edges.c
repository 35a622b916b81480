/* The per-connection TCP options servers set on every connection (TCP_NODELAY, TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT) on both ends of a connection, at the edges of what
 * do_tcp_setsockopt takes: the smallest and largest valid values, one past them (EINVAL), a
 * longer optlen (the first int counts), a short one (EINVAL), a bad pointer (EFAULT); each read
 * back. Under tsor the valid ones are answered by the addon itself (native.fastSetsockopt), the
 * rest by the sentry: the outputs must not tell them apart. */
#include "common.h"
struct opt { int name; const char *label; int min, max; };
static const struct opt OPTS[] = {
  {TCP_NODELAY, "TCP_NODELAY", -7, 1},
  {TCP_KEEPIDLE, "TCP_KEEPIDLE", 1, 32767},
  {TCP_KEEPINTVL, "TCP_KEEPINTVL", 1, 32767},
  {TCP_KEEPCNT, "TCP_KEEPCNT", 1, 127},
};
static void edges(const char *who, int fd) {
  char label[96];
  for (unsigned i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++) {
    const struct opt *o = &OPTS[i];
    int vals[] = {o->min, o->max, o->min - 1, o->max + 1};
    for (int k = 0; k < 4; k++) {
      if (o->name == TCP_NODELAY && k >= 2) continue; /* any int is valid */
      snprintf(label, sizeof label, "%s %s %d", who, o->label, vals[k]);
      SHOW(label, setint(fd, IPPROTO_TCP, o->name, vals[k]));
      snprintf(label, sizeof label, "%s %s", who, o->label);
      show_opt(label, fd, IPPROTO_TCP, o->name);
    }
    long long wide = 42; /* optlen 8: the first int (42 on little-endian) */
    snprintf(label, sizeof label, "%s %s optlen 8", who, o->label);
    SHOW(label, setsockopt(fd, IPPROTO_TCP, o->name, &wide, sizeof wide));
    snprintf(label, sizeof label, "%s %s", who, o->label);
    show_opt(label, fd, IPPROTO_TCP, o->name);
    short narrow = 3;
    snprintf(label, sizeof label, "%s %s optlen 2", who, o->label);
    SHOW(label, setsockopt(fd, IPPROTO_TCP, o->name, &narrow, sizeof narrow));
    snprintf(label, sizeof label, "%s %s bad pointer", who, o->label);
    SHOW(label, setsockopt(fd, IPPROTO_TCP, o->name, (void *)8, sizeof(int)));
  }
}
int main(void) {
  int c, s;
  tcp_pair("127.0.0.1", 20860, &c, &s);
  edges("client", c);
  edges("server", s);
  /* Still a working connection. */
  SHOW("write", write(c, "ok", 2));
  show_read("server", s, 2);
  return 0;
}
