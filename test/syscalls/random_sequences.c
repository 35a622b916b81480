/* Seeded random sequences of socket calls (a differential fuzzer, as gVisor's syscall tests are
 * run against Linux): each seed drives one sequence of socket/bind/listen/connect/accept4/
 * names/options/send/recv/shutdown/poll/dup/close over a few sockets and ports, printing every
 * result. The sequence depends only on the seed and on what earlier calls returned, so a run
 * under the runtime must print what the native run prints. Kernel-chosen ports are labelled in
 * order of first sight (E1, E2...), since their numbers differ between runs.
 *
 * Calls whose answer is one of the suite's listed divergences are not made: a send or poll on a
 * connection whose peer is gone or may have reset it (write_after_peer_close), a send to a peer
 * that shut its reading side (shutdown_rd_peer_send), SO_LINGER {1, 0}
 * (close_linger_reset), TCP_CORK (sockopt_cork), SO_ZEROCOPY, SCM_RIGHTS. Nor calls that meet a
 * limit `tsor syscalls` names (a bind after a reset, a connect on a socket with copies...): each
 * is skipped where it would be made, with the reason.
 *
 * A seed takes about 100 ms natively and a little more under the runtime (closes and connects
 * wait a few ms: see close_slot and connect), so the suite's default of 30 seeds stays inside the
 * watchdog. RS_DEBUG=1 also prints which sockets were found to be the two ends of a connection.
 *
 * Usage: random_sequences [first-seed [count [steps]]]   (default 1 30 48) */
#include "common.h"

#define NSLOT 6
#define NPORT 3

static uint64_t rng;
static unsigned rnd(unsigned n) {
  /* xorshift64*: the same numbers on every libc. */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (unsigned)((rng * 2685821657736338717ULL) >> 33) % n;
}

/* A socket the sequence made (several slots may share one after dup). */
struct sock {
  int refs;
  int peer;      /* index of the connection's other end in socks[], or -1 */
  int peer_gone; /* the other end was closed: its answers are a listed divergence */
  int may_have_peer; /* connected or connecting: a peer may exist that we could not link */
  int maybe_reset;   /* connected without a linked peer when a listener went: maybe reset in its queue */
  int replaced;      /* connect(2) reported a reset (ECONNRESET/ECONNABORTED): see connect */
  int shut_rd;       /* shutdown(SHUT_RD or SHUT_RDWR) succeeded: its peer's sends differ (see send) */
  int stopped;       /* a listener shut down for reading: see listen */
  int sent_fin;      /* shutdown(SHUT_WR or SHUT_RDWR) succeeded: see SIOCOUTQ */
  int sent_data;     /* a send succeeded: see SIOCOUTQ */
  int listening;     /* listen() returned 0 */
  int defer_accept;  /* TCP_DEFER_ACCEPT set above 0: see connect */
  int bound_ip, bound_port; /* what bind() last took (indexes into IPS and ports), or -1 */
};
static struct sock socks[NSLOT * 2];
static int slot_fd[NSLOT], slot_sock[NSLOT];
/* One epoll instance per seed; registrations are keyed by slot (data.u32). */
static int ep = -1;
/* Connections made and not yet accepted (an upper bound: a listener's close drops some). */
static int waiting;
static int ports[NPORT];

/* Kernel-chosen ports, labelled by first sight. */
static int seen_ports[64], nseen;
static const char *portlabel(int p) {
  static char bufs[4][16];
  static int n;
  char *b = bufs[n++ % 4];
  for (int i = 0; i < NPORT; i++)
    if (p == ports[i]) { snprintf(b, 16, "P%d", i); return b; }
  if (p == 0) return "0";
  int i = 0;
  while (i < nseen && seen_ports[i] != p) i++;
  if (i == nseen && nseen < 64) seen_ports[nseen++] = p;
  snprintf(b, 16, "E%d", i + 1);
  return b;
}

static const char *name(const struct sockaddr_storage *ss, socklen_t len) {
  static char bufs[4][96];
  static int n;
  char *b = bufs[n++ % 4], ip[64];
  if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *a = (const void *)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(b, 96, "%s:%s", ip, portlabel(ntohs(a->sin_port)));
  } else if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *a = (const void *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    snprintf(b, 96, "[%s]:%s", ip, portlabel(ntohs(a->sin6_port)));
  } else {
    snprintf(b, 96, "family=%d len=%u", ss->ss_family, (unsigned)len);
  }
  return b;
}

/* The addresses sequences bind and connect to: loopback, wildcard, v4-mapped, port 0. */
static const char *const IPS[] = { "127.0.0.1", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1", "127.0.0.2" };
#define NIPS (int)(sizeof IPS / sizeof IPS[0])

static int picked_ip, picked_port;
/* An address from IPS and the ports (or port 0); of family `fam` (v4-mapped counts as
 * AF_INET6) unless fam is 0. */
static socklen_t pick_addr_of(int fam, struct sockaddr_storage *ss, char *text, size_t n, int allow_zero) {
  do picked_ip = rnd(NIPS);
  while (fam && (fam == AF_INET6) != (strchr(IPS[picked_ip], ':') != NULL));
  const char *ip = IPS[picked_ip];
  int pi = rnd(NPORT + (allow_zero ? 1 : 0));
  picked_port = pi;
  int port = pi < NPORT ? ports[pi] : 0;
  snprintf(text, n, "%s%s%s:%s", strchr(ip, ':') ? "[" : "", ip, strchr(ip, ':') ? "]" : "", pi < NPORT ? (char[]){ 'P', (char)('0' + pi), 0 } : "0");
  return mkaddr(ss, ip, port);
}

static socklen_t pick_addr(struct sockaddr_storage *ss, char *text, size_t n, int allow_zero) {
  return pick_addr_of(0, ss, text, n, allow_zero);
}

static int free_slot(void) {
  for (int i = 0; i < NSLOT; i++)
    if (slot_fd[i] < 0) return i;
  return -1;
}

static int used_slot(void) {
  int n = 0, pick;
  for (int i = 0; i < NSLOT; i++) n += slot_fd[i] >= 0;
  if (n == 0) return -1;
  pick = rnd(n);
  for (int i = 0; i < NSLOT; i++)
    if (slot_fd[i] >= 0 && pick-- == 0) return i;
  return -1;
}

enum kind { LINKED, LISTENING, FRESH };
static int is_kind(int i, enum kind k) {
  const struct sock *so = &socks[slot_sock[i]];
  if (k == LINKED) return so->peer >= 0;
  if (k == LISTENING) return so->listening;
  return !so->listening && so->peer < 0 && !so->may_have_peer;
}

/* A slot whose socket is of kind `k` three times in four (when there is one), else any. */
static int slot_where(enum kind k) {
  int n = 0, pick;
  for (int i = 0; i < NSLOT; i++)
    if (slot_fd[i] >= 0 && is_kind(i, k)) n++;
  if (n == 0 || rnd(4) == 0) return used_slot();
  pick = rnd(n);
  for (int i = 0; i < NSLOT; i++)
    if (slot_fd[i] >= 0 && is_kind(i, k) && pick-- == 0) return i;
  return -1;
}

static int new_sock(void) {
  for (int i = 0; i < NSLOT * 2; i++)
    if (socks[i].refs == 0) {
      socks[i] = (struct sock){ .refs = 1, .peer = -1, .bound_ip = -1, .bound_port = -1 };
      return i;
    }
  printf("FAIL no sock entry\n");
  exit(1);
}

/* An address as IPv4 when it is one (v4-mapped on AF_INET6), for comparing ends of a connection. */
static void canon(const struct sockaddr_storage *ss, unsigned char ip[16], int *port) {
  memset(ip, 0, 16);
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)ss;
    memcpy(ip + 12, &a->sin_addr, 4);
    ip[10] = ip[11] = 0xff;
    *port = ntohs(a->sin_port);
  } else {
    const struct sockaddr_in6 *a = (const void *)ss;
    memcpy(ip, &a->sin6_addr, 16);
    *port = ntohs(a->sin6_port);
  }
}

/* Another slot's socket that is the peer of the slot's (its name is our peer name): linked both ways. */
static void link_peer(int slot) {
  struct sockaddr_storage a, b, c, d;
  socklen_t al = sizeof a, dl = sizeof d, bl, cl;
  unsigned char aip[16], bip[16], cip[16], dip[16];
  int aport, bport, cport, dport;
  if (getpeername(slot_fd[slot], (struct sockaddr *)&a, &al) < 0 || getsockname(slot_fd[slot], (struct sockaddr *)&d, &dl) < 0) return;
  canon(&a, aip, &aport);
  canon(&d, dip, &dport);
  for (int i = 0; i < NSLOT; i++) {
    if (i == slot || slot_fd[i] < 0 || slot_sock[i] == slot_sock[slot]) continue;
    bl = sizeof b;
    cl = sizeof c;
    if (getsockname(slot_fd[i], (struct sockaddr *)&b, &bl) < 0 || getpeername(slot_fd[i], (struct sockaddr *)&c, &cl) < 0) continue;
    canon(&b, bip, &bport);
    canon(&c, cip, &cport);
    /* Its name is our peer's and its peer is our name (ends accepted from one listener share a name). */
    if (bport != aport || memcmp(aip, bip, 16) != 0 || cport != dport || memcmp(cip, dip, 16) != 0) continue;
    int x = slot_sock[slot], y = slot_sock[i];
    socks[x].peer = y;
    socks[y].peer = x;
    if (getenv("RS_DEBUG")) SAY("  (linked s%d s%d)\n", slot, i);
    return;
  }
}

/* Whether a send on the slot's socket would meet the listed divergence (a write after the
 * peer's end went: write_after_peer_close), and a poll its kin (the survivor shut both ways). */
static int peer_gone(int slot) {
  return socks[slot_sock[slot]].peer_gone;
}
static int may_be_reset(int slot) {
  return socks[slot_sock[slot]].peer_gone || socks[slot_sock[slot]].maybe_reset;
}

/* TCP_NODELAY, set silently on each connection's ends (and never cleared, see setsockopt):
 * Nagle holds a small send back while earlier bytes wait for an ACK, and a peer in interactive
 * mode delays its ACK up to 40 ms, so what a recv finds would depend on timing on Linux, while a
 * socketpair delivers each send at once. */
static void no_nagle(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A connection that may be over: reset, or both FINs done (either side's may be the last). */
static int may_be_over(int slot) {
  const struct sock *so = &socks[slot_sock[slot]];
  return may_be_reset(slot) || so->sent_fin || (so->peer >= 0 && socks[so->peer].sent_fin);
}

/* A send the socketpair refuses where TCP takes it: after the peer's own shutdown(SHUT_RD)
 * (unix_shutdown shuts our sending side too; TCP's peer just discards what comes), made before
 * or after the two ends were linked. */
static int send_differs(int slot) {
  const struct sock *so = &socks[slot_sock[slot]];
  return may_be_reset(slot) || (so->peer >= 0 && socks[so->peer].shut_rd);
}

/* Readiness that differs for the same reasons: the survivor of a peer gone, or the peer of an
 * end shut for reading, shows POLLHUP on a socketpair (both its directions are shut). */
static int poll_differs(int slot) {
  return send_differs(slot);
}

/* A listener went (closed, or shut down for reading): connections in its queue were reset. */
static void listener_gone(void) {
  for (int i = 0; i < NSLOT * 2; i++)
    if (socks[i].refs > 0 && socks[i].may_have_peer) socks[i].maybe_reset = 1;
}

static void close_slot(int i) {
  int s = slot_sock[i];
  /* Drained first (silently): a close with bytes unread is a reset on TCP, which leaves no
   * TIME_WAIT, and the runtime, which cannot see those bytes once the end is gone, would leave
   * one (`tsor syscalls`: shutdown). close_unread_rst covers the reset itself. */
  if (socks[s].refs == 1) {
    char sink[64];
    while (recv(slot_fd[i], sink, sizeof sink, MSG_DONTWAIT) > 0) {}
  }
  close(slot_fd[i]);
  slot_fd[i] = -1;
  if (--socks[s].refs > 0) return;
  /* The last close takes effect at once on Linux (a listener's queue reset, a port freed); a
   * runtime that learns of it asynchronously gets a moment, as the suite's programs give it. */
  sleep_ms(10);
  if (socks[s].listening) listener_gone();
  if (socks[s].peer >= 0) socks[socks[s].peer].peer_gone = 1, socks[socks[s].peer].peer = -1;
}

static const struct { const char *name; int level, opt; } OPTS[] = {
  { "SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR }, { "SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT },
  { "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE }, { "TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY },
  { "TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE }, { "TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT },
  { "IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY }, { "SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT },
  { "SO_ERROR", SOL_SOCKET, SO_ERROR }, { "SO_ACCEPTCONN", SOL_SOCKET, SO_ACCEPTCONN },
  { "SO_TYPE", SOL_SOCKET, SO_TYPE }, { "SO_DOMAIN", SOL_SOCKET, SO_DOMAIN },
  { "TCP_DEFER_ACCEPT", IPPROTO_TCP, TCP_DEFER_ACCEPT }, { "IP_TOS", IPPROTO_IP, IP_TOS },
  { "TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT }, { "SO_PRIORITY", SOL_SOCKET, SO_PRIORITY },
  { "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF }, { "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF },
  { "TCP_MAXSEG", IPPROTO_TCP, TCP_MAXSEG }, { "TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL },
  { "TCP_QUICKACK", IPPROTO_TCP, TCP_QUICKACK }, { "SO_OOBINLINE", SOL_SOCKET, SO_OOBINLINE },
  { "IP_TTL", IPPROTO_IP, IP_TTL }, { "TCP_NOTSENT_LOWAT", IPPROTO_TCP, TCP_NOTSENT_LOWAT },
  { "TCP_SYNCNT", IPPROTO_TCP, TCP_SYNCNT }, { "TCP_LINGER2", IPPROTO_TCP, TCP_LINGER2 },
  { "TCP_WINDOW_CLAMP", IPPROTO_TCP, TCP_WINDOW_CLAMP }, { "SO_BROADCAST", SOL_SOCKET, SO_BROADCAST },
  { "SO_PEEK_OFF", SOL_SOCKET, SO_PEEK_OFF },
};
#define NOPTS (int)(sizeof OPTS / sizeof OPTS[0])
static const int VALUES[] = { 0, 1, 2, 30, -1, 1024, 65536 };

static void step(int n) {
  char label[160], at[64];
  struct sockaddr_storage ss;
  socklen_t len;
  int i, r;
  switch (rnd(22)) {
  case 0: case 1: { /* socket */
    if ((i = free_slot()) < 0) return;
    int fam = rnd(2) ? AF_INET6 : AF_INET, cloexec = rnd(2) ? SOCK_CLOEXEC : 0;
    snprintf(label, sizeof label, "%d socket(%s%s) s%d", n, fam == AF_INET ? "AF_INET" : "AF_INET6", cloexec ? ", CLOEXEC" : "", i);
    errno = 0;
    r = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | cloexec, 0);
    show_(label, r, errno, 1);
    if (r >= 0) slot_fd[i] = r, slot_sock[i] = new_sock();
    return;
  }
  case 2: /* bind; not on a connection that may be over (reset, or both FINs done): Linux lets one
           * that was not bound before connecting bind again, the runtime says EINVAL (`tsor
           * syscalls`: bind) */
    if ((i = used_slot()) < 0 || may_be_over(i)) return;
    len = pick_addr(&ss, at, sizeof at, 1);
    snprintf(label, sizeof label, "%d bind s%d %s", n, i, at);
    if (SHOW(label, bind(slot_fd[i], (struct sockaddr *)&ss, len)) == 0)
      socks[slot_sock[i]].bound_ip = picked_ip, socks[slot_sock[i]].bound_port = picked_port;
    return;
  case 3: { /* listen */
    /* Not again on a listener shut down for reading: Linux refuses it (EADDRINUSE) while the
     * connections it served live, which the runtime's socketpairs do not hold (`tsor syscalls`). */
    if ((i = used_slot()) < 0 || socks[slot_sock[i]].stopped) return;
    static const int backlogs[] = { 4, 5, 16 }; /* never full: see connect */
    int b = backlogs[rnd(3)];
    snprintf(label, sizeof label, "%d listen s%d %d", n, i, b);
    if (SHOW(label, listen(slot_fd[i], b)) == 0) socks[slot_sock[i]].listening = 1;
    return;
  }
  case 4: case 5: { /* connect, then settle: wait for the handshake as a poller would */
    /* Not again on a socket whose connect reported a reset: the runtime then hands the app a
     * fresh unconnected socket, where Linux's keeps its history (its port, and on AF_INET6 the
     * v4-mapped operations of an IPv4 connection) into the next connect (`tsor syscalls`). */
    if ((i = slot_where(FRESH)) < 0 || socks[slot_sock[i]].replaced) return;
    /* Nor on a socket with copies: a connect that replaces the app's fd (a connection made, or a
     * reset one disconnected) leaves the other copies naming the old file (`tsor syscalls`). */
    if (socks[slot_sock[i]].refs > 1) return;
    /* Nor on a listener shut down for reading: its connect moves its bind, and the connections it
     * served then hold their port on Linux, not under the runtime (`tsor syscalls`: listen). */
    if (socks[slot_sock[i]].stopped) return;
    /* Nor with TCP_DEFER_ACCEPT set: Linux's client then holds back its handshake's last ACK, so
     * its connection is not in the listener's queue yet; the runtime's is (`tsor syscalls`). */
    if (socks[slot_sock[i]].defer_accept) return;
    /* Nor past 4 connections waiting in queues: with a full queue, one from a socket that stays
     * the kernel's (shut down or refused before) counts in Linux's queue but not in the
     * runtime's virtual one (`tsor syscalls`: listen). */
    if (waiting >= 4) return;
    len = pick_addr(&ss, at, sizeof at, 0);
    int l = slot_where(LISTENING);
    if (l >= 0 && socks[slot_sock[l]].listening && socks[slot_sock[l]].bound_port >= 0 && socks[slot_sock[l]].bound_port < NPORT && rnd(3) != 0) {
      /* Mostly to a listener's own address (or its wildcard's loopback). */
      int bi = socks[slot_sock[l]].bound_ip, bp = socks[slot_sock[l]].bound_port;
      const char *ip = IPS[bi];
      if (!strcmp(ip, "0.0.0.0")) ip = "127.0.0.1";
      if (!strcmp(ip, "::")) ip = rnd(2) ? "::1" : "127.0.0.1";
      len = mkaddr(&ss, ip, ports[bp]);
      snprintf(at, sizeof at, "%s%s%s:P%d", strchr(ip, ':') ? "[" : "", ip, strchr(ip, ':') ? "]" : "", bp);
    }
    snprintf(label, sizeof label, "%d connect s%d %s", n, i, at);
    r = SHOW(label, connect(slot_fd[i], (struct sockaddr *)&ss, len));
    int connect_errno = errno;
    if (r < 0 && (connect_errno == ECONNRESET || connect_errno == ECONNABORTED)) socks[slot_sock[i]].replaced = 1;
    if (r < 0 && connect_errno == EINPROGRESS) {
      struct pollfd p = { slot_fd[i], POLLOUT, 0 };
      int pr = poll(&p, 1, 50);
      int e = -1;
      socklen_t el = sizeof e;
      getsockopt(slot_fd[i], SOL_SOCKET, SO_ERROR, &e, &el);
      SAY("%d   settled -> %s SO_ERROR %s\n", n, pr == 0 ? "pending" : "done", e ? errname(e) : "0");
    }
    struct sock *so = &socks[slot_sock[i]];
    /* The runtime rings a listener's doorbell for a new connection just after connect returns:
     * a moment for it, so that a kernel client connecting next queues behind it, as on Linux. */
    if (r == 0 || connect_errno == EINPROGRESS) sleep_ms(5);
    if (r == 0 || connect_errno == EINPROGRESS) {
      no_nagle(slot_fd[i]);
      so->may_have_peer = 0;
      link_peer(i);
      /* A connection to a listener of this sequence is linked once accepted; until then it
       * waits in a queue, where a listener's close resets it. */
      if (so->peer < 0) so->may_have_peer = 1, waiting++;
    }
    return;
  }
  case 6: case 7: { /* accept4 */
    if ((i = slot_where(LISTENING)) < 0) return;
    int j = free_slot();
    if (j < 0) return;
    int fl = rnd(3) == 0 ? 0 : SOCK_NONBLOCK;
    if (rnd(2)) fl |= SOCK_CLOEXEC;
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    errno = 0;
    r = accept4(slot_fd[i], (struct sockaddr *)&ss, &len, fl);
    if (r < 0) {
      SAY("%d accept4 s%d -> -1 %s\n", n, i, errname(errno));
      return;
    }
    int gfl = fcntl(r, F_GETFL), gfd = fcntl(r, F_GETFD);
    SAY("%d accept4 s%d -> s%d from %s nonblock=%d cloexec=%d\n", n, i, j, name(&ss, len), !!(gfl & O_NONBLOCK), !!(gfd & FD_CLOEXEC));
    if (!(gfl & O_NONBLOCK)) fcntl(r, F_SETFL, gfl | O_NONBLOCK);
    slot_fd[j] = r;
    no_nagle(r);
    slot_sock[j] = new_sock();
    if (waiting > 0) waiting--;
    link_peer(j);
    if (socks[slot_sock[j]].peer >= 0) socks[socks[slot_sock[j]].peer].may_have_peer = 0;
    else socks[slot_sock[j]].peer_gone = 1; /* no slot has its client: closed already */
    return;
  }
  case 8: { /* names */
    if ((i = used_slot()) < 0) return;
    int peer = rnd(2);
    /* Not the name of a socket a reset connect replaced: a fresh port under the runtime, the old
     * one on Linux (`tsor syscalls`: connect). */
    if (!peer && socks[slot_sock[i]].replaced) return;
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    errno = 0;
    r = peer ? getpeername(slot_fd[i], (struct sockaddr *)&ss, &len) : getsockname(slot_fd[i], (struct sockaddr *)&ss, &len);
    if (r < 0) SAY("%d %s s%d -> -1 %s\n", n, peer ? "getpeername" : "getsockname", i, errname(errno));
    else SAY("%d %s s%d -> %s\n", n, peer ? "getpeername" : "getsockname", i, name(&ss, len));
    return;
  }
  case 9: { /* setsockopt */
    if ((i = used_slot()) < 0) return;
    int o = rnd(NOPTS), v = VALUES[rnd(sizeof VALUES / sizeof VALUES[0])];
    /* SO_RCVLOWAT above 1 holds back a TCP socket's readiness, not a socketpair's (`tsor syscalls`). */
    if (OPTS[o].opt == SO_RCVLOWAT && OPTS[o].level == SOL_SOCKET) v = v > 0 ? 1 : 0;
    /* A receive buffer small enough to fill holds TCP's sender back (partial reads, SIOCOUTQ
     * counting what waits), not a socketpair's (`tsor syscalls`: setsockopt). */
    if (OPTS[o].opt == SO_RCVBUF && OPTS[o].level == SOL_SOCKET && v < 65536) v = 65536;
    if (OPTS[o].opt == TCP_NODELAY && OPTS[o].level == IPPROTO_TCP && v == 0) v = 1; /* see no_nagle */
    /* After a reset Linux lets a connection take IPV6_V6ONLY again (as bind: see there). */
    if (OPTS[o].opt == IPV6_V6ONLY && may_be_reset(i)) return;
    snprintf(label, sizeof label, "%d setsockopt s%d %s %d", n, i, OPTS[o].name, v);
    r = SHOW(label, setsockopt(slot_fd[i], OPTS[o].level, OPTS[o].opt, &v, sizeof v));
    if (r == 0 && OPTS[o].opt == TCP_DEFER_ACCEPT && OPTS[o].level == IPPROTO_TCP) socks[slot_sock[i]].defer_accept = v > 0;
    return;
  }
  case 10: { /* getsockopt */
    if ((i = used_slot()) < 0) return;
    int o = rnd(NOPTS), v = -7;
    /* Not what only TCP's history sets: a socket that replaced a reset connection is fresh
     * (buffer sizes, its MSS), and TCP_MAXSEG may change once our FIN is out (`tsor syscalls`). */
    if (socks[slot_sock[i]].replaced && (OPTS[o].opt == SO_SNDBUF || OPTS[o].opt == SO_RCVBUF) && OPTS[o].level == SOL_SOCKET) return;
    if (socks[slot_sock[i]].replaced && OPTS[o].opt == TCP_MAXSEG && OPTS[o].level == IPPROTO_TCP) return;
    if (socks[slot_sock[i]].sent_fin && OPTS[o].opt == TCP_MAXSEG && OPTS[o].level == IPPROTO_TCP) return;
    /* Nor TCP_QUICKACK: Linux reads 0 once the connection looks interactive (a send within the
     * delayed-ACK time after a receive) or got the peer's FIN, the runtime what was set. */
    if (OPTS[o].opt == TCP_QUICKACK && OPTS[o].level == IPPROTO_TCP) return;
    socklen_t vl = sizeof v;
    errno = 0;
    r = getsockopt(slot_fd[i], OPTS[o].level, OPTS[o].opt, &v, &vl);
    if (r < 0) SAY("%d getsockopt s%d %s -> -1 %s\n", n, i, OPTS[o].name, errname(errno));
    else SAY("%d getsockopt s%d %s -> %d\n", n, i, OPTS[o].name, v);
    return;
  }
  case 11: { /* send */
    if ((i = slot_where(LINKED)) < 0 || send_differs(i)) return;
    static const char data[] = "0123456789abcdef";
    size_t k = 1 + rnd(16);
    snprintf(label, sizeof label, "%d send s%d %zu", n, i, k);
    if (SHOW(label, send(slot_fd[i], data, k, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) socks[slot_sock[i]].sent_data = 1;
    return;
  }
  case 12: { /* recv: also after the peer went (EOF, or ECONNRESET when it left our bytes unread) */
    if ((i = slot_where(LINKED)) < 0) return;
    char buf[32];
    int peek = rnd(3) == 0;
    errno = 0;
    ssize_t got = recv(slot_fd[i], buf, 1 + rnd(sizeof buf), MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
    if (got < 0) SAY("%d recv%s s%d -> -1 %s\n", n, peek ? " peek" : "", i, errname(errno));
    else SAY("%d recv%s s%d -> %zd \"%.*s\"\n", n, peek ? " peek" : "", i, got, (int)got, buf);
    return;
  }
  case 13: { /* shutdown */
    if ((i = used_slot()) < 0) return;
    int how = rnd(3);
    snprintf(label, sizeof label, "%d shutdown s%d %s", n, i, how == SHUT_RD ? "RD" : how == SHUT_WR ? "WR" : "RDWR");
    long shut = SHOW(label, shutdown(slot_fd[i], how));
    if (shut == 0 && how != SHUT_RD) socks[slot_sock[i]].sent_fin = 1;
    if (shut == 0 && how != SHUT_WR) {
      if (socks[slot_sock[i]].listening) listener_gone(), socks[slot_sock[i]].stopped = 1;
      socks[slot_sock[i]].shut_rd = 1;
    }
    return;
  }
  case 14: { /* poll, or dup */
    if ((i = used_slot()) < 0) return;
    if (rnd(4) == 0) {
      /* Not an unconnected socket: a copy made before connect keeps naming the kernel socket
       * under the runtime (`tsor syscalls`: connect). */
      int j = free_slot();
      if (j < 0 || is_kind(i, FRESH)) return;
      slot_fd[j] = MUST(dup(slot_fd[i]));
      slot_sock[j] = slot_sock[i];
      socks[slot_sock[i]].refs++;
      SAY("%d dup s%d -> s%d\n", n, i, j);
      return;
    }
    if (poll_differs(i)) return;
    struct pollfd p = { slot_fd[i], POLLIN | POLLOUT | POLLPRI | POLLRDHUP, 0 };
    /* A listener gets a moment: the runtime may show a new connection there just after the
     * connect that made it returned (`tsor syscalls`: listen). */
    r = poll(&p, 1, socks[slot_sock[i]].listening ? 10 : 0);
    SAY("%d poll s%d -> %d%s%s%s%s%s%s\n", n, i, r, p.revents & POLLIN ? " IN" : "", p.revents & POLLOUT ? " OUT" : "",
        p.revents & POLLPRI ? " PRI" : "", p.revents & POLLRDHUP ? " RDHUP" : "", p.revents & POLLHUP ? " HUP" : "",
        p.revents & POLLERR ? " ERR" : "");
    return;
  }
  case 15: case 16: { /* a server: socket, bind, listen (most sequences need one to get far) */
    if ((i = free_slot()) < 0) return;
    int fam = rnd(2) ? AF_INET6 : AF_INET;
    snprintf(label, sizeof label, "%d socket(%s) s%d", n, fam == AF_INET ? "AF_INET" : "AF_INET6", i);
    if ((r = SHOWFD(label, socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0))) < 0) return;
    slot_fd[i] = r;
    slot_sock[i] = new_sock();
    len = pick_addr_of(fam, &ss, at, sizeof at, 1);
    snprintf(label, sizeof label, "%d   bind s%d %s", n, i, at);
    if (SHOW(label, bind(slot_fd[i], (struct sockaddr *)&ss, len)) != 0) return;
    socks[slot_sock[i]].bound_ip = picked_ip, socks[slot_sock[i]].bound_port = picked_port;
    snprintf(label, sizeof label, "%d   listen s%d 4", n, i);
    if (SHOW(label, listen(slot_fd[i], 4)) == 0) socks[slot_sock[i]].listening = 1;
    return;
  }
  case 18: { /* what a connection's state shows: FIONREAD, SIOCOUTQ, TCP_INFO's state, SO_LINGER */
    if ((i = slot_where(LINKED)) < 0 || may_be_reset(i)) return;
    int q = -1;
    switch (rnd(4)) {
    case 0:
      errno = 0;
      r = ioctl(slot_fd[i], FIONREAD, &q);
      if (r < 0) SAY("%d FIONREAD s%d -> -1 %s\n", n, i, errname(errno));
      else SAY("%d FIONREAD s%d -> %d\n", n, i, q);
      return;
    case 1:
      /* Not after our FIN or our bytes: Linux counts them until the peer's ACK, which a peer in
       * interactive mode delays (timing) (`tsor syscalls`: ioctl). */
      if (socks[slot_sock[i]].sent_fin || socks[slot_sock[i]].sent_data) return;
      errno = 0;
      r = ioctl(slot_fd[i], TIOCOUTQ, &q); /* SIOCOUTQ */
      if (r < 0) SAY("%d SIOCOUTQ s%d -> -1 %s\n", n, i, errname(errno));
      else SAY("%d SIOCOUTQ s%d -> %d\n", n, i, q);
      return;
    case 2: {
      /* Not after our FIN: Linux shows FIN_WAIT1 until the peer's delayed ACK (`tsor syscalls`). */
      if (socks[slot_sock[i]].sent_fin) return;
      struct tcp_info ti;
      socklen_t tl = sizeof ti;
      memset(&ti, 0, sizeof ti);
      errno = 0;
      r = getsockopt(slot_fd[i], IPPROTO_TCP, TCP_INFO, &ti, &tl);
      if (r < 0) SAY("%d TCP_INFO s%d -> -1 %s\n", n, i, errname(errno));
      else SAY("%d TCP_INFO s%d -> state %d\n", n, i, ti.tcpi_state);
      return;
    }
    default: {
      struct linger lg = { -1, -1 };
      socklen_t ll = sizeof lg;
      errno = 0;
      r = getsockopt(slot_fd[i], SOL_SOCKET, SO_LINGER, &lg, &ll);
      if (r < 0) SAY("%d SO_LINGER s%d -> -1 %s\n", n, i, errname(errno));
      else SAY("%d SO_LINGER s%d -> {%d, %d}\n", n, i, lg.l_onoff, lg.l_linger);
      return;
    }
    }
  }
  case 19: { /* receives with TCP's own flags: MSG_TRUNC discards, MSG_ERRQUEUE, MSG_WAITALL */
    if ((i = slot_where(LINKED)) < 0) return;
    static const struct { const char *name; int flags; } RF[] = {
      { "MSG_TRUNC", MSG_TRUNC }, { "MSG_TRUNC|MSG_PEEK", MSG_TRUNC | MSG_PEEK },
      { "MSG_ERRQUEUE", MSG_ERRQUEUE }, { "MSG_WAITALL", MSG_WAITALL },
    };
    int k = rnd(4);
    char buf[16];
    errno = 0;
    ssize_t got = recv(slot_fd[i], RF[k].flags & MSG_TRUNC ? NULL : buf, 1 + rnd(sizeof buf), MSG_DONTWAIT | RF[k].flags);
    if (got < 0) SAY("%d recv %s s%d -> -1 %s\n", n, RF[k].name, i, errname(errno));
    else SAY("%d recv %s s%d -> %zd\n", n, RF[k].name, i, got);
    return;
  }
  case 20: { /* epoll: register a socket (before or after it connects), or wait and show events */
    if (ep < 0) ep = MUST(epoll_create1(EPOLL_CLOEXEC));
    if (rnd(2)) {
      if ((i = used_slot()) < 0) return;
      struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)i };
      snprintf(label, sizeof label, "%d epoll_ctl ADD s%d", n, i);
      SHOW(label, epoll_ctl(ep, EPOLL_CTL_ADD, slot_fd[i], &ev));
      return;
    }
    struct epoll_event evs[NSLOT * 2];
    r = epoll_wait(ep, evs, NSLOT * 2, 0);
    if (r < 0) {
      SAY("%d epoll_wait -> -1 %s\n", n, errname(errno));
      return;
    }
    /* In slot order (the kernel's ready list order is not part of the contract), leaving out
     * sockets whose answer is a listed divergence (peer gone or reset: HUP) and registrations
     * whose slot was closed (a dup may keep the file registered under an old number). */
    SAY("%d epoll_wait ->", n);
    for (int k = 0; k < NSLOT; k++)
      for (int e = 0; e < r; e++)
        if (evs[e].data.u32 == (uint32_t)k && slot_fd[k] >= 0 && !poll_differs(k))
          SAY(" s%d:%s%s%s%s%s", k, evs[e].events & EPOLLIN ? "IN" : "", evs[e].events & EPOLLOUT ? "OUT" : "",
              evs[e].events & EPOLLRDHUP ? "RDHUP" : "", evs[e].events & EPOLLHUP ? "HUP" : "", evs[e].events & EPOLLERR ? "ERR" : "");
    SAY("\n");
    return;
  }
  default: /* close */
    if ((i = used_slot()) < 0) return;
    SAY("%d close s%d\n", n, i);
    close_slot(i);
    return;
  }
}

int main(int argc, char **argv) {
  int first = argc > 1 ? atoi(argv[1]) : 1, count = argc > 2 ? atoi(argv[2]) : 30, steps = argc > 3 ? atoi(argv[3]) : 48;
  signal(SIGPIPE, SIG_IGN);
  for (int seed = first; seed < first + count; seed++) {
    rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)seed * 0xD1B54A32D192ED03ULL;
    rnd(2);
    for (int i = 0; i < NPORT; i++) ports[i] = 21000 + (seed % 1000) * NPORT + i;
    for (int i = 0; i < NSLOT; i++) slot_fd[i] = -1;
    memset(socks, 0, sizeof socks);
    nseen = 0;
    if (ep >= 0) close(ep);
    ep = -1;
    waiting = 0;
    SAY("seed %d\n", seed);
    for (int n = 0; n < steps; n++) step(n);
    for (int i = 0; i < NSLOT; i++)
      if (slot_fd[i] >= 0) close_slot(i);
  }
  return 0;
}
