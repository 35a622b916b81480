/*
 * seccomp.c: the config's own linux.seccomp profile, with libseccomp (C11).
 *
 * Semantics follow runc's libcontainer/seccomp/seccomp_linux.go: unknown syscall names are
 * skipped (profiles list syscalls of newer kernels), a rule whose action is the default action
 * is skipped (libseccomp refuses it), several conditions on the same argument become one rule
 * per condition (libseccomp cannot AND two comparisons of one argument), and libseccomp must not
 * set no_new_privs by itself (SCMP_FLTATR_CTL_NNP = 0): whether NNP is set is the config's
 * choice. The filter is built early (parsing, allocation) and loaded later, at the point runc
 * loads it.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <ctype.h>
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 6

static void check(int rc, const char *what, const char *name)
{
	if (rc < 0) {
		errno = -rc;
		die(what, "seccomp %s", name);
	}
}

/* `ACTION ERRNO` -> a libseccomp action; ERRNO empty = EPERM (runc's default errnoRet). */
static uint32_t parse_action(const struct directive *d, int i)
{
	const char *name = d->argv[i];
	uint32_t ret = EPERM;
	if (d->argv[i + 1][0]) ret = (uint32_t)field_u64(d, i + 1);
	if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD")) return SCMP_ACT_KILL_THREAD;
	if (!strcmp(name, "SCMP_ACT_KILL_PROCESS")) return SCMP_ACT_KILL_PROCESS;
	if (!strcmp(name, "SCMP_ACT_TRAP")) return SCMP_ACT_TRAP;
	if (!strcmp(name, "SCMP_ACT_ERRNO")) return SCMP_ACT_ERRNO(ret);
	if (!strcmp(name, "SCMP_ACT_TRACE")) return SCMP_ACT_TRACE(ret);
	if (!strcmp(name, "SCMP_ACT_ALLOW")) return SCMP_ACT_ALLOW;
	if (!strcmp(name, "SCMP_ACT_LOG")) return SCMP_ACT_LOG;
	/* SCMP_ACT_NOTIFY needs a listener agent (runc's listenerPath); the sentry owns the only
	 * notify filter of a TSoR container. */
	fail("plan: line %d: %s: unsupported seccomp action %s", d->line, d->name, name);
}

static enum scmp_compare parse_op(const struct directive *d, const char *op)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
		{"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
		{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (!strcmp(ops[i].name, op)) return ops[i].op;
	fail("plan: line %d: seccomp_rule: unknown operator %s", d->line, op);
}

/* SCMP_ARCH_X86_64 -> libseccomp's "x86_64". */
static void add_arch(scmp_filter_ctx ctx, const struct directive *d)
{
	const char *name = d->argv[0];
	if (strncmp(name, "SCMP_ARCH_", 10) != 0) fail("plan: line %d: unknown seccomp arch %s", d->line, name);
	char lower[32];
	size_t n = 0;
	for (const char *c = name + 10; *c && n < sizeof lower - 1; c++) lower[n++] = (char)tolower((unsigned char)*c);
	lower[n] = '\0';
	uint32_t arch = seccomp_arch_resolve_name(lower);
	if (!arch) fail("plan: line %d: unknown seccomp arch %s", d->line, name);
	int rc = seccomp_arch_add(ctx, arch);
	if (rc != -EEXIST) check(rc, "seccomp_arch_add", name);
}

static void add_flag(scmp_filter_ctx ctx, const struct directive *d)
{
	const char *name = d->argv[0];
	enum scmp_filter_attr attr;
	if (!strcmp(name, "SECCOMP_FILTER_FLAG_LOG")) attr = SCMP_FLTATR_CTL_LOG;
	else if (!strcmp(name, "SECCOMP_FILTER_FLAG_SPEC_ALLOW")) attr = SCMP_FLTATR_CTL_SSB;
	else if (!strcmp(name, "SECCOMP_FILTER_FLAG_TSYNC")) attr = SCMP_FLTATR_CTL_TSYNC;
	else fail("plan: line %d: unknown seccomp flag %s", d->line, name);
	check(seccomp_attr_set(ctx, attr, 1), "seccomp_attr_set", name);
}

/* `seccomp_rule ACTION ERRNO SYSCALL NARGS [INDEX VALUE VALUETWO OP]*` */
static void add_rule(scmp_filter_ctx ctx, uint32_t default_action, const struct directive *d)
{
	const char *name = d->argv[2];
	int nargs = (int)field_u64(d, 3);
	if (nargs > MAX_ARGS || d->argc != 4 + 4 * nargs)
		fail("plan: line %d: seccomp_rule: %d fields for %d args", d->line, d->argc, nargs);
	uint32_t action = parse_action(d, 0);
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR) return; /* unknown to libseccomp: skipped, as runc */
	if (action == default_action) return;

	struct scmp_arg_cmp cmp[MAX_ARGS];
	int per_index[MAX_ARGS] = {0};
	bool same_arg_twice = false;
	for (int i = 0; i < nargs; i++) {
		unsigned long long index = field_u64(d, 4 + 4 * i);
		if (index >= MAX_ARGS) fail("plan: line %d: seccomp_rule: arg index %llu", d->line, index);
		cmp[i] = (struct scmp_arg_cmp){
			.arg = (unsigned)index,
			.op = parse_op(d, d->argv[7 + 4 * i]),
			.datum_a = field_u64(d, 5 + 4 * i),
			.datum_b = field_u64(d, 6 + 4 * i),
		};
		same_arg_twice |= ++per_index[index] > 1;
	}
	if (same_arg_twice) {
		for (int i = 0; i < nargs; i++)
			check(seccomp_rule_add_array(ctx, action, nr, 1, &cmp[i]), "seccomp_rule_add", name);
	} else {
		check(seccomp_rule_add_array(ctx, action, nr, (unsigned)nargs, cmp), "seccomp_rule_add", name);
	}
}

void *seccomp_prepare(const struct plan *p)
{
	if (!p->has_seccomp) return NULL;
	scmp_filter_ctx ctx = NULL;
	uint32_t default_action = 0;
	for (size_t i = 0; i < p->nd; i++) {
		const struct directive *d = &p->d[i];
		if (directive_is(d, "seccomp_default")) {
			default_action = parse_action(d, 0);
			if (!(ctx = seccomp_init(default_action))) fail("seccomp: seccomp_init failed");
			check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set", "NNP");
		} else if (!strncmp(d->name, "seccomp_", 8) && !ctx) {
			fail("plan: line %d: %s before seccomp_default", d->line, d->name);
		} else if (directive_is(d, "seccomp_arch")) {
			add_arch(ctx, d);
		} else if (directive_is(d, "seccomp_flag")) {
			add_flag(ctx, d);
		} else if (directive_is(d, "seccomp_rule")) {
			add_rule(ctx, default_action, d);
		}
	}
	return ctx;
}

void seccomp_install(void *ctx)
{
	if (!ctx) return;
	check(seccomp_load(ctx), "seccomp_load", "load");
	seccomp_release(ctx);
}
