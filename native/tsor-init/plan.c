/*
 * plan.c: read the plan from fd 4 and parse it (PLAN.md "Plan format").
 *
 * The whole plan is read and checked before anything else happens, so a malformed plan fails
 * `create` with no side effects. The directive table below is the single list of what
 * tsor-init understands; the stages look lines up by name.
 */
#include "tsor-init.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const ns_names[NS_COUNT] = {
	[NS_USER] = "user", [NS_IPC] = "ipc", [NS_UTS] = "uts", [NS_NET] = "net",
	[NS_PID] = "pid", [NS_CGROUP] = "cgroup", [NS_TIME] = "time", [NS_MOUNT] = "mount",
};

/* Every directive with its field count (max -1: any number of trailing fields). */
static const struct {
	const char *name;
	int min, max;
} known[] = {
	{"version", 1, 1}, {"mode", 1, 1}, {"ns", 2, 2}, {"uidmap", 3, 3}, {"gidmap", 3, 3},
	{"rootfs", 1, 1}, {"rootfs_propagation", 1, 1}, {"mount", 7, 7}, {"device", 7, 7},
	{"symlink", 2, 2}, {"ptmx", 0, 0}, {"pivot", 1, 1}, {"mask", 1, 1}, {"readonly", 1, 1},
	{"readonly_root", 0, 0}, {"hostname", 1, 1}, {"domainname", 1, 1}, {"sysctl", 2, 2},
	{"rlimit", 3, 3}, {"oom_score_adj", 1, 1}, {"user", 3, 3}, {"groups", 1, 1}, {"cwd", 1, 1},
	{"env", 1, 1}, {"arg", 1, 1}, {"caps", 5, 5}, {"no_new_privs", 0, 0},
	{"seccomp_default", 2, 2}, {"seccomp_arch", 1, 1}, {"seccomp_flag", 1, 1},
	{"seccomp_rule", 4, -1}, {"trap", 4, 7}, {"terminal", 0, 0}, {"console_socket", 1, 1},
	{"preserve_fds", 1, 1}, {"session_keyring", 1, 1}, {"hook", 3, -1}, {"hook_env", 1, 1}, {"end", 0, 0},
};

static bool is_safe(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("._/:=,+@~-", c) != NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* Decode a field in place. %00 is refused: no path, argument or name can hold a NUL byte. */
bool percent_decode(char *field)
{
	if (strcmp(field, "%-") == 0) {
		field[0] = '\0';
		return true;
	}
	if (field[0] == '\0') return false;
	char *out = field;
	for (const char *in = field; *in; in++) {
		if (*in == '%') {
			int hi = hexval(in[1]), lo = hi < 0 ? -1 : hexval(in[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
			*out++ = (char)(hi * 16 + lo);
			in += 2;
		} else if (is_safe((unsigned char)*in)) {
			*out++ = *in;
		} else {
			return false;
		}
	}
	*out = '\0';
	return true;
}

bool directive_is(const struct directive *d, const char *name)
{
	return strcmp(d->name, name) == 0;
}

unsigned long long field_u64(const struct directive *d, int i)
{
	const char *s = d->argv[i];
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || *s == '+')
		fail("plan: line %d: %s: bad number \"%s\"", d->line, d->name, s);
	return v;
}

long long field_i64(const struct directive *d, int i)
{
	const char *s = d->argv[i];
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || *s == '+')
		fail("plan: line %d: %s: bad number \"%s\"", d->line, d->name, s);
	return v;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) die("calloc", "plan");
	return p;
}

/* Read fd to EOF into a NUL-terminated buffer. */
static char *read_all(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf) die("malloc", "plan");
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			if (!(buf = realloc(buf, cap))) die("realloc", "plan");
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) die("read", "plan");
		if (n == 0) break;
		len += (size_t)n;
	}
	if (memchr(buf, '\0', len)) fail("plan: NUL byte in plan");
	buf[len] = '\0';
	return buf;
}

/* Split the text into directives: names checked against `known`, fields decoded. */
static void split_lines(struct plan *p, char *text)
{
	size_t lines = 0;
	for (char *c = text; *c; c++) lines += *c == '\n';
	p->d = xcalloc(lines + 1, sizeof *p->d);

	int lineno = 0;
	char *save_line;
	/* strtok_r would merge empty lines; walk them by hand so an empty line is an error. */
	for (char *line = text; *line; line = save_line) {
		char *nl = strchr(line, '\n');
		save_line = nl ? nl + 1 : line + strlen(line);
		if (nl) *nl = '\0';
		lineno++;
		if (!*line) fail("plan: line %d: empty line", lineno);

		size_t nfields = 1;
		for (char *c = line; *c; c++) nfields += *c == ' ';
		struct directive *d = &p->d[p->nd++];
		d->line = lineno;
		d->argv = xcalloc(nfields + 1, sizeof(char *));
		char *tok = line;
		d->name = tok;
		for (char *c = line;; c++) {
			if (*c != ' ' && *c != '\0') continue;
			bool last = *c == '\0';
			*c = '\0';
			if (tok != d->name) d->argv[d->argc++] = tok;
			tok = c + 1;
			if (last) break;
		}
		size_t k;
		for (k = 0; k < sizeof known / sizeof known[0]; k++)
			if (strcmp(known[k].name, d->name) == 0) break;
		if (k == sizeof known / sizeof known[0]) fail("plan: unknown directive %s", d->name);
		if (d->argc < known[k].min || (known[k].max >= 0 && d->argc > known[k].max))
			fail("plan: line %d: %s: %d fields", lineno, d->name, d->argc);
		for (int i = 0; i < d->argc; i++)
			if (!percent_decode(d->argv[i]))
				fail("plan: line %d: %s: bad field %d", lineno, d->name, i + 1);
	}
}

/* Append "C H S\n" to a uid_map/gid_map text. */
static char *append_map(char *map, const struct directive *d)
{
	unsigned long long c = field_u64(d, 0), h = field_u64(d, 1), n = field_u64(d, 2);
	size_t old = map ? strlen(map) : 0;
	char *m = realloc(map, old + 80);
	if (!m) die("realloc", "plan");
	snprintf(m + old, 80, "%llu %llu %llu\n", c, h, n);
	return m;
}

static void parse_groups(struct plan *p, const struct directive *d)
{
	const char *s = d->argv[0];
	size_t n = *s ? 1 : 0;
	for (const char *c = s; *c; c++) n += *c == ',';
	p->groups = xcalloc(n, sizeof(gid_t));
	p->ngroups = 0;
	char *copy = strdup(s), *save = NULL;
	for (char *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(g, &end, 10);
		if (*end || errno || *g == '-') fail("plan: line %d: groups: bad gid \"%s\"", d->line, g);
		p->groups[p->ngroups++] = (gid_t)v;
	}
	free(copy);
}

/* A comma-separated list of at most `max` decimal 32-bit numbers (empty: none) into a new array
 * of *n entries; `what` names an entry in errors. */
static unsigned long *parse_u32_list(const struct directive *d, const char *s, size_t max, const char *what, size_t *n)
{
	size_t cap = *s ? 1 : 0;
	for (const char *c = s; *c; c++) cap += *c == ',';
	if (cap > max) fail("plan: line %d: trap: more than %zu %ss", d->line, max, what);
	unsigned long *out = xcalloc(cap ? cap : 1, sizeof(unsigned long));
	char *copy = strdup(s), *save = NULL;
	if (!copy) die("strdup", "plan");
	*n = 0;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(item, &end, 10);
		if (*end || errno || *item == '-' || *item == '+' || v > 0xffffffffu)
			fail("plan: line %d: trap: bad %s \"%s\"", d->line, what, item);
		out[(*n)++] = v;
	}
	free(copy);
	return out;
}

/* Whether the trap line's NRS holds `nr`. */
static bool in_trap_nrs(const struct plan *p, unsigned long nr)
{
	for (size_t i = 0; i < p->trap_nnrs; i++)
		if ((unsigned long)p->trap_nrs[i] == nr) return true;
	return false;
}

/* Each of the comma-separated `NR:A:B...` items of `text` (at most 8), as three decimal 32-bit
 * numbers and what follows the third (`rest`), to `take`. An item without three numbers fails
 * naming `what` (`whats`: more than one) and its `form`; `take` checks `rest` and the values. */
typedef void take_triple_fn(struct plan *p, const struct directive *d, const char *item, const unsigned long v[3],
			    const char *rest);
static void each_triple(struct plan *p, const struct directive *d, const char *text, const char *what, const char *whats,
			const char *form, take_triple_fn *take)
{
	char *copy = strdup(text), *save = NULL;
	if (!copy) die("strdup", "plan");
	int n = 0;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (n++ == 8) fail("plan: line %d: trap: more than 8 %s", d->line, whats);
		unsigned long v[3];
		char *s = item, *end = item;
		for (int k = 0; k < 3; k++) {
			errno = 0;
			v[k] = strtoul(s, &end, 10);
			if (end == s || errno || *s == '-' || *s == '+' || v[k] > 0xffffffffu || (k < 2 && *end != ':'))
				fail("plan: line %d: trap: bad %s \"%s\" (%s)", d->line, what, item, form);
			s = end + 1;
		}
		take(p, d, item, v, end);
	}
	free(copy);
}

/* PASS: NR:ARG1:ARG2, NR one of NRS, optionally followed by `:0` (the call returns 0 without
 * running). */
static void take_pass(struct plan *p, const struct directive *d, const char *item, const unsigned long v[3], const char *rest)
{
	if (*rest && strcmp(rest, ":0")) fail("plan: line %d: trap: bad pass \"%s\" (NR:ARG1:ARG2[:0])", d->line, item);
	if (!in_trap_nrs(p, v[0])) fail("plan: line %d: trap: pass for %lu, which NRS does not trap", d->line, v[0]);
	p->trap_passes[p->trap_npasses++] = (struct trap_pass){v[0], v[1], v[2], *rest == ':'};
}

/* FLAGGED: NR:ARG:MASK, NR neither SOCKET_NR nor one of NRS (those trap already), ARG 0..5,
 * MASK not 0. */
static void take_flagged(struct plan *p, const struct directive *d, const char *item, const unsigned long v[3], const char *rest)
{
	if (*rest) fail("plan: line %d: trap: bad flagged call \"%s\" (NR:ARG:MASK)", d->line, item);
	if (v[1] > 5 || v[2] == 0) fail("plan: line %d: trap: bad flagged call \"%s\" (ARG 0..5, MASK not 0)", d->line, item);
	if ((long)v[0] == p->trap_socket_nr || in_trap_nrs(p, v[0]))
		fail("plan: line %d: trap: flagged call %lu is trapped already", d->line, v[0]);
	p->trap_flagged[p->trap_nflagged++] = (struct trap_flagged){v[0], v[1], v[2]};
}

/* `trap MODE FD SOCKET_NR NRS [IOCTLS [PASS [FLAGGED]]]`: NRS and IOCTLS comma-separated decimal
 * numbers (IOCTLS and PASS `-` for none), PASS as take_pass reads each item, FLAGGED as
 * take_flagged does. */
static void parse_trap(struct plan *p, const struct directive *d)
{
	if (p->trap_mode != TRAP_MODE_NONE) fail("plan: line %d: trap given twice", d->line);
	const char *mode = d->argv[0];
	if (!strcmp(mode, "notify")) p->trap_mode = TRAP_MODE_NOTIFY;
	else if (!strcmp(mode, "trace")) p->trap_mode = TRAP_MODE_TRACE;
	else fail("plan: line %d: trap: unknown mode %s", d->line, mode);
	if (p->trap_mode == TRAP_MODE_NOTIFY) {
		unsigned long long fd = field_u64(d, 1);
		if (fd > 1u << 20) fail("plan: line %d: trap: bad fd %llu", d->line, fd);
		p->trap_fd = (int)fd;
	} else if (d->argv[1][0]) {
		fail("plan: line %d: trap: mode trace takes no fd", d->line);
	}
	/* `-`: no call traps by its arguments (the sentry lets socket(2) be the kernel's). */
	if (!strcmp(d->argv[2], "-")) {
		p->trap_socket_nr = -1;
	} else {
		unsigned long long socket_nr = field_u64(d, 2);
		if (socket_nr > 0xffffffffu) fail("plan: line %d: trap: bad syscall number", d->line);
		p->trap_socket_nr = (long)socket_nr;
	}

	unsigned long *nrs = parse_u32_list(d, d->argv[3], 64, "syscall number", &p->trap_nnrs);
	p->trap_nrs = xcalloc(p->trap_nnrs ? p->trap_nnrs : 1, sizeof(long));
	for (size_t i = 0; i < p->trap_nnrs; i++) {
		/* socket is checked first, with its arguments: listed again it could never match. */
		if ((long)nrs[i] == p->trap_socket_nr) fail("plan: line %d: trap: SOCKET_NR %lu in NRS", d->line, nrs[i]);
		p->trap_nrs[i] = (long)nrs[i];
	}
	free(nrs);

	/* IOCTLS (optional): ioctl(2) requests trapped by their number, whatever the fd. */
	if (d->argc >= 5 && strcmp(d->argv[4], "-")) p->trap_ioctls = parse_u32_list(d, d->argv[4], 8, "ioctl request", &p->trap_nioctls);
	/* PASS (optional): calls of NRS let through for some arguments. */
	p->trap_passes = xcalloc(8, sizeof *p->trap_passes);
	if (d->argc >= 6 && strcmp(d->argv[5], "-")) each_triple(p, d, d->argv[5], "pass", "passes", "NR:ARG1:ARG2[:0]", take_pass);
	/* FLAGGED (optional): calls trapped only when their flags ask for something. */
	p->trap_flagged = xcalloc(8, sizeof *p->trap_flagged);
	if (d->argc >= 7) each_triple(p, d, d->argv[6], "flagged call", "flagged calls", "NR:ARG:MASK", take_flagged);
}

/* `hook KIND PATH TIMEOUT ARG...`: ARG... is the whole argv, as in config.json. */
static struct hook *add_hook(struct plan *p, const struct directive *d)
{
	struct hook *h = &p->hooks[p->nhooks++];
	h->kind = d->argv[0];
	h->path = d->argv[1];
	h->timeout = (unsigned)field_u64(d, 2);
	int nargs = d->argc - 3;
	h->argv = xcalloc((size_t)(nargs > 0 ? nargs : 1) + 1, sizeof(char *));
	if (nargs == 0) h->argv[0] = (char *)h->path;
	for (int i = 0; i < nargs; i++) h->argv[i] = d->argv[3 + i];
	h->env = xcalloc(p->nd + 1, sizeof(char *));
	return h;
}

void plan_read(struct plan *p, int fd)
{
	memset(p, 0, sizeof *p);
	char *text = read_all(fd);
	split_lines(p, text);
	if (p->nd == 0 || !directive_is(&p->d[0], "version") || strcmp(p->d[0].argv[0], "1") != 0)
		fail("plan: first line must be `version 1`");
	if (!directive_is(&p->d[p->nd - 1], "end")) fail("plan: last line must be `end`");

	p->pivot = true;
	p->umask_value = -1;
	p->env = xcalloc(p->nd + 3, sizeof(char *));
	p->argv = xcalloc(p->nd + 1, sizeof(char *));
	p->hooks = xcalloc(p->nd, sizeof(struct hook));
	bool have_mode = false;
	struct hook *last_hook = NULL;

	for (size_t i = 0; i < p->nd; i++) {
		struct directive *d = &p->d[i];
		char **a = d->argv;
		if (directive_is(d, "mode")) {
			if (strcmp(a[0], "create") != 0 && strcmp(a[0], "exec") != 0)
				fail("plan: line %d: mode: unknown mode %s", d->line, a[0]);
			p->exec_mode = strcmp(a[0], "exec") == 0;
			have_mode = true;
		} else if (directive_is(d, "ns")) {
			int t;
			for (t = 0; t < NS_COUNT; t++)
				if (strcmp(ns_names[t], a[0]) == 0) break;
			if (t == NS_COUNT) fail("plan: line %d: ns: unknown namespace type %s", d->line, a[0]);
			if (p->ns_present[t]) fail("plan: line %d: ns: %s given twice", d->line, a[0]);
			p->ns_present[t] = true;
			p->ns_path[t] = a[1];
		} else if (directive_is(d, "uidmap")) {
			p->uidmap = append_map(p->uidmap, d);
		} else if (directive_is(d, "gidmap")) {
			p->gidmap = append_map(p->gidmap, d);
		} else if (directive_is(d, "rootfs")) {
			p->rootfs = a[0];
		} else if (directive_is(d, "rootfs_propagation")) {
			p->has_propagation = true;
			p->propagation = (unsigned long)field_u64(d, 0);
		} else if (directive_is(d, "pivot")) {
			p->pivot = field_u64(d, 0) != 0;
		} else if (directive_is(d, "readonly_root")) {
			p->readonly_root = true;
		} else if (directive_is(d, "hostname")) {
			p->hostname = a[0];
		} else if (directive_is(d, "domainname")) {
			p->domainname = a[0];
		} else if (directive_is(d, "session_keyring")) {
			p->session_keyring = a[0];
		} else if (directive_is(d, "oom_score_adj")) {
			p->has_oom_score_adj = true;
			p->oom_score_adj = (int)field_i64(d, 0);
		} else if (directive_is(d, "user")) {
			p->uid = (uid_t)field_u64(d, 0);
			p->gid = (gid_t)field_u64(d, 1);
			p->umask_value = (long)field_i64(d, 2);
		} else if (directive_is(d, "groups")) {
			parse_groups(p, d);
		} else if (directive_is(d, "cwd")) {
			p->cwd = a[0];
		} else if (directive_is(d, "env")) {
			if (!strchr(a[0], '=')) fail("plan: line %d: env: no '=' in %s", d->line, a[0]);
			p->env[p->nenv++] = a[0];
		} else if (directive_is(d, "arg")) {
			p->argv[p->nargv++] = a[0];
		} else if (directive_is(d, "caps")) {
			p->has_caps = true;
			for (int k = 0; k < 5; k++) p->caps[k] = field_u64(d, k);
		} else if (directive_is(d, "no_new_privs")) {
			p->no_new_privs = true;
		} else if (directive_is(d, "seccomp_default")) {
			p->has_seccomp = true;
		} else if (directive_is(d, "trap")) {
			parse_trap(p, d);
		} else if (directive_is(d, "terminal")) {
			p->terminal = true;
		} else if (directive_is(d, "console_socket")) {
			p->console_socket = a[0];
		} else if (directive_is(d, "preserve_fds")) {
			unsigned long long n = field_u64(d, 0);
			if (n > 65536) fail("plan: line %d: preserve_fds: too many (%llu)", d->line, n);
			p->preserve_fds = (int)n;
		} else if (directive_is(d, "hook")) {
			last_hook = add_hook(p, d);
		} else if (directive_is(d, "hook_env")) {
			if (!last_hook) fail("plan: line %d: hook_env without a hook", d->line);
			last_hook->env[last_hook->nenv++] = a[0];
		}
		if (!directive_is(d, "hook") && !directive_is(d, "hook_env")) last_hook = NULL;
	}

	/* Consistency checks that would otherwise surface as confusing syscall errors later. */
	if (!have_mode) fail("plan: no mode");
	if (p->nargv == 0) fail("plan: no arg (process.args is empty)");
	if (p->terminal && !p->console_socket) fail("plan: terminal without console_socket");
	/* The trap channel comes after the preserved fds, which are renumbered over 3.. */
	if (p->trap_mode == TRAP_MODE_NOTIFY && p->trap_fd < FIRST_PRESERVED_FD + p->preserve_fds)
		fail("plan: trap: fd %d is not above the preserved fds (%d..)", p->trap_fd,
		     FIRST_PRESERVED_FD + p->preserve_fds);
	if (p->exec_mode) {
		for (int t = 0; t < NS_COUNT; t++)
			if (p->ns_present[t] && !p->ns_path[t][0])
				fail("plan: mode exec cannot create a %s namespace", ns_names[t]);
	} else {
		if (!p->rootfs) fail("plan: mode create needs rootfs");
		/* Mounting without a new mount namespace would change the host's (or another
		 * container's) mount table; runc refuses the same config. */
		if (!p->ns_present[NS_MOUNT] || p->ns_path[NS_MOUNT][0])
			fail("plan: mode create needs a new mount namespace");
		if ((p->hostname || p->domainname) && (!p->ns_present[NS_UTS] || p->ns_path[NS_UTS][0]))
			fail("plan: hostname needs a new uts namespace");
		if ((p->uidmap || p->gidmap) && (!p->ns_present[NS_USER] || p->ns_path[NS_USER][0]))
			fail("plan: uidmap/gidmap need a new user namespace");
	}
}
