/*
 * trap.c: the platform's own filter, the `trap` directive (C8 builds it, C11 installs it).
 *
 * This filter is how the app's socket *control* syscalls reach the sentry (DESIGN.md,
 * "Platforms"): it returns SECCOMP_RET_USER_NOTIF (the seccomp platform: the listener fd goes
 * to the sentry over the trap channel) or SECCOMP_RET_TRACE (the ptrace platform) for them, and
 * SECCOMP_RET_ALLOW for everything else, so data syscalls (read, write, sendmsg, epoll...) never
 * leave the kernel. It is classic BPF written by hand, not libseccomp: it is a dozen
 * instructions, its argument checks look at the low 32 bits exactly as the kernel's int
 * parameters do, and its shape is the reviewable contract between tsor-init and the sentry.
 *
 * Filters stack: the config's profile (seccomp.c) and this one both run on every syscall and
 * the most restrictive action wins (KILL > TRAP > ERRNO > USER_NOTIF > TRACE > ALLOW), so a
 * syscall the profile denies is denied before the sentry ever sees it.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* x32 syscalls are x86_64 syscalls with this bit set in nr (asm/unistd.h). */
#define X32_SYSCALL_BIT 0x40000000u
/* Jump offsets are 8 bits: the list stays far below what they can reach. */
#define MAX_TRAP_NRS 64
/* SECCOMP_RET_DATA of the `trace` action, so the ptrace platform can tell a stop of this filter
 * from one of the config's SCMP_ACT_TRACE rules (whose data is an errno, 1 = EPERM by default).
 * ASCII "Ts". */
#define TRAP_TRACE_DATA 0x5473u

/* Offsets into struct seccomp_data; an argument's low 32 bits come first (x86_64 is little
 * endian), and the kernel reads socket()'s int parameters from exactly those bits. */
#define OFF_NR offsetof(struct seccomp_data, nr)
#define OFF_ARCH offsetof(struct seccomp_data, arch)
#define OFF_ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

/* Jump targets, resolved once the program is laid out; a value >= 0 is a literal offset. */
enum label { NEXT = 0, L_ALLOW = -1, L_TRAP = -2, L_SOCKET = -3, L_IOCTL = -4, L_ZERO = -5 };

/* 6 instructions per pass and 3 per flagged call, at most 8 of each. */
#define MAX_INSNS (MAX_TRAP_NRS + 32 + 6 * 8 + 3 * 8)

struct prog {
	struct sock_filter insn[MAX_INSNS];
	int jt[MAX_INSNS], jf[MAX_INSNS];  /* a label or a literal offset */
	int n;
	int at[6];  /* index of each label, by -label */
};

static void emit(struct prog *g, uint16_t code, uint32_t k, int jt, int jf)
{
	g->insn[g->n] = (struct sock_filter){.code = code, .k = k};
	g->jt[g->n] = jt;
	g->jf[g->n] = jf;
	g->n++;
}

static void place(struct prog *g, enum label l)
{
	g->at[-l] = g->n;
}

/* Relative jumps: a label's index minus the next instruction's. */
static void resolve(struct prog *g)
{
	for (int i = 0; i < g->n; i++) {
		if (BPF_CLASS(g->insn[i].code) != BPF_JMP) continue;
		int jt = g->jt[i] >= 0 ? g->jt[i] : g->at[-g->jt[i]] - (i + 1);
		int jf = g->jf[i] >= 0 ? g->jf[i] : g->at[-g->jf[i]] - (i + 1);
		if (jt < 0 || jt > 255 || jf < 0 || jf > 255) fail("trap: filter jump out of range");
		g->insn[i].jt = (uint8_t)jt;
		g->insn[i].jf = (uint8_t)jf;
	}
}

struct trap_filter {
	struct sock_fprog fprog;
	struct prog prog;
};

void *trap_prepare(const struct plan *p)
{
	if (p->trap_mode == TRAP_MODE_NONE) return NULL;
	struct trap_filter *t = calloc(1, sizeof *t);
	if (!t) die("calloc", "trap");
	struct prog *g = &t->prog;

	/* Another architecture's numbers mean other syscalls (an i386 `int 0x80` from a 64-bit
	 * app has arch AUDIT_ARCH_I386): not ours, let it run. */
	emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARCH, 0, 0);
	emit(g, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, NEXT, L_ALLOW);
	emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_NR, 0, 0);
	/* x32 shares AUDIT_ARCH_X86_64 but numbers its calls differently (41 is not socket). */
	emit(g, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, L_ALLOW, NEXT);
	if (p->trap_socket_nr >= 0) emit(g, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)p->trap_socket_nr, L_SOCKET, NEXT);
	/* Passes first: a trapped call with these arguments is the kernel's for every fd, or answered
	 * 0 here (A holds the number again after each). */
	for (size_t i = 0; i < p->trap_npasses; i++) {
		const struct trap_pass *ps = &p->trap_passes[i];
		emit(g, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ps->nr, NEXT, 4);  /* not this call: to the reload */
		emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARG_LO(1), 0, 0);
		emit(g, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ps->arg1, NEXT, 2);
		emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARG_LO(2), 0, 0);
		emit(g, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ps->arg2, ps->zero ? L_ZERO : L_ALLOW, NEXT);
		emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_NR, 0, 0);
	}
	/* Flagged calls trap only when their flags argument has a bit of the mask (recv with
	 * MSG_TRUNC or MSG_ERRQUEUE): every other receive stays in the kernel, at no cost. */
	for (size_t i = 0; i < p->trap_nflagged; i++) {
		const struct trap_flagged *f = &p->trap_flagged[i];
		emit(g, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)f->nr, NEXT, 2);  /* not this call: on */
		emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARG_LO(f->arg), 0, 0);
		emit(g, BPF_JMP | BPF_JSET | BPF_K, (uint32_t)f->mask, L_TRAP, L_ALLOW);
	}
	/* The other socket control calls trap whatever their fd: only the sentry can tell a
	 * virtual socket's fd from a kernel one, and CONTINUE hands the others back. */
	for (size_t i = 0; i < p->trap_nnrs; i++)
		emit(g, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)p->trap_nrs[i], L_TRAP, NEXT);
	if (p->trap_nioctls > 0) emit(g, BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, L_IOCTL, NEXT);
	emit(g, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);

	/* ioctl(fd, request, ...) traps only for the listed requests (TIOCOUTQ: a connection's
	 * unsent bytes, which only the sentry can answer as TCP would); every other ioctl, and the
	 * terminal's, never leaves the kernel or goes straight back to it. */
	if (p->trap_nioctls > 0) {
		place(g, L_IOCTL);
		emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARG_LO(1), 0, 0);
		for (size_t i = 0; i < p->trap_nioctls; i++)
			emit(g, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)p->trap_ioctls[i], L_TRAP, NEXT);
		emit(g, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	}

	/* socket(domain, type, protocol) traps only for what becomes a virtual socket: TCP over
	 * IPv4/IPv6. UDP, AF_UNIX, netlink, raw sockets never notify, so they cost nothing. (Not
	 * emitted without SOCKET_NR: nothing jumps there.) */
	if (p->trap_socket_nr < 0) goto tail;
	place(g, L_SOCKET);
	emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARG_LO(0), 0, 0);
	emit(g, BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 1, NEXT);  /* skip the AF_INET6 test */
	emit(g, BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, NEXT, L_ALLOW);
	/* type carries SOCK_NONBLOCK | SOCK_CLOEXEC above the kernel's SOCK_TYPE_MASK (0xf). */
	emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARG_LO(1), 0, 0);
	emit(g, BPF_ALU | BPF_AND | BPF_K, 0xf, 0, 0);
	emit(g, BPF_JMP | BPF_JEQ | BPF_K, SOCK_STREAM, NEXT, L_ALLOW);
	/* protocol 0 means TCP for a stream socket; MPTCP, SCTP stay kernel sockets. */
	emit(g, BPF_LD | BPF_W | BPF_ABS, OFF_ARG_LO(2), 0, 0);
	emit(g, BPF_JMP | BPF_JEQ | BPF_K, 0, L_TRAP, NEXT);
	emit(g, BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, L_TRAP, L_ALLOW);

tail:
	place(g, L_ALLOW);
	emit(g, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	/* A pass with `zero`: the call returns 0 without running (SECCOMP_RET_ERRNO with errno 0). */
	place(g, L_ZERO);
	emit(g, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0, 0, 0);
	place(g, L_TRAP);
	emit(g, BPF_RET | BPF_K, p->trap_mode == TRAP_MODE_NOTIFY ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_TRACE | TRAP_TRACE_DATA,
	     0, 0);

	resolve(g);
	t->fprog = (struct sock_fprog){.len = (unsigned short)g->n, .filter = g->insn};
	return t;
}

/* Load the filter (same rights as the profile: CAP_SYS_ADMIN or no_new_privs, which is why it
 * is installed right after it). `notify`: send the new listener fd on the trap channel (the
 * sentry's SeccompPlatform waits for it), then close both, so neither reaches the app. */
void trap_install(const struct plan *p, void *filter)
{
	struct trap_filter *t = filter;
	if (!t) return;
	unsigned flags = p->trap_mode == TRAP_MODE_NOTIFY ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
	long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &t->fprog);
	if (listener < 0) die("seccomp", "trap %s", p->trap_mode == TRAP_MODE_NOTIFY ? "notify" : "trace");
	if (p->trap_mode == TRAP_MODE_NOTIFY) {
		send_fd(p->trap_fd, (int)listener, "seccomp", "trap");
		close((int)listener);
		close(p->trap_fd);
	}
	free(t);
}
