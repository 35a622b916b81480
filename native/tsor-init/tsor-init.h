/*
 * tsor-init: everything between clone() and execve() (native/PLAN.md is the contract).
 *
 * One header for the whole program: the parsed plan, the error/sync helpers every stage uses,
 * and one entry point per stage. Each .c file is one stage, written top to bottom in the order
 * it runs.
 */
#ifndef TSOR_INIT_H
#define TSOR_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The fixed fds of the invocation (PLAN.md "Invocation"). */
#define SYNC_FD 3
#define PLAN_FD 4
#define FIRST_PRESERVED_FD 5

/* ---- plan.c: the plan, parsed ------------------------------------------------------------- */

/* One plan line: its name and its decoded fields. */
struct directive {
	int line;          /* 1-based, for error messages */
	const char *name;
	int argc;
	char **argv;
};

/* Namespace types in the order they are joined: user first (it grants the capabilities the
 * other setns calls need), mount last (after it the /proc/PID/ns paths may no longer resolve;
 * they are all opened before the first setns anyway). As runc's orderNamespacePaths. */
enum ns_type { NS_USER, NS_IPC, NS_UTS, NS_NET, NS_PID, NS_CGROUP, NS_TIME, NS_MOUNT, NS_COUNT };

/* The platform's trap filter (trap.c): none, SECCOMP_RET_USER_NOTIF or SECCOMP_RET_TRACE. */
enum trap_mode { TRAP_MODE_NONE, TRAP_MODE_NOTIFY, TRAP_MODE_TRACE };

struct hook {
	const char *kind;  /* createContainer | startContainer (others are ignored) */
	const char *path;
	unsigned timeout;  /* seconds, 0 = none */
	char **argv;       /* NULL-terminated; argv[0] is PATH when the hook gave no args */
	char **env;        /* NULL-terminated, from the following hook_env lines */
	size_t nenv;
};

/* A call of the trapped list that the filter does not trap when the low 32 bits of its second and
 * third arguments are arg1 and arg2: the kernel runs it (getsockopt(fd, SOL_SOCKET, SO_ERROR,
 * ...): its answer is right for every kind of fd), or, with `zero`, it returns 0 without running
 * (setsockopt(fd, IPPROTO_TCP, TCP_CORK, ...): a hint the sentry does not apply). */
struct trap_pass {
	unsigned long nr, arg1, arg2;
	bool zero;
};

/* A call trapped only when the low 32 bits of its argument `arg` have a bit of `mask` set (BPF
 * JSET), else run by the kernel: recvfrom/recvmsg with the flags TCP gives a meaning of its own
 * (MSG_TRUNC, MSG_ERRQUEUE), so that the data path's plain receives never leave the kernel. */
struct trap_flagged {
	unsigned long nr, arg, mask;
};

struct plan {
	struct directive *d;  /* every directive, in plan order (the rootfs stage walks it) */
	size_t nd;

	bool exec_mode;
	bool ns_present[NS_COUNT];
	const char *ns_path[NS_COUNT];  /* "" = create new */
	char *uidmap, *gidmap;          /* "C H S\n..." ready for /proc/PID/uid_map, or NULL */

	const char *rootfs;
	bool has_propagation;
	unsigned long propagation;
	bool pivot;
	bool readonly_root;
	const char *hostname, *domainname;
	const char *session_keyring; /* name of a new session keyring to join, or NULL */

	uid_t uid;
	gid_t gid;
	long umask_value;  /* -1: leave as is */
	gid_t *groups;
	size_t ngroups;
	const char *cwd;
	char **env;        /* NULL-terminated; room for two more (LISTEN_FDS, LISTEN_PID) */
	size_t nenv;
	char **argv;       /* NULL-terminated */
	size_t nargv;

	bool has_caps;
	uint64_t caps[5];  /* bounding effective permitted inheritable ambient */
	bool no_new_privs;
	bool has_oom_score_adj;
	int oom_score_adj;

	bool has_seccomp;  /* a seccomp_default line was given */
	enum trap_mode trap_mode;
	int trap_fd;       /* notify: the trap channel (moved above the preserved fds at startup) */
	long trap_socket_nr;
	long *trap_nrs;    /* the other trapped syscall numbers */
	size_t trap_nnrs;
	unsigned long *trap_ioctls;  /* ioctl requests trapped (by the low 32 bits of arg 1) */
	size_t trap_nioctls;
	struct trap_pass *trap_passes;  /* calls of NRS let through for some arguments */
	size_t trap_npasses;
	struct trap_flagged *trap_flagged;  /* calls trapped only for some flags (not in NRS) */
	size_t trap_nflagged;
	bool terminal;
	const char *console_socket;
	int preserve_fds;

	struct hook *hooks;
	size_t nhooks;
};

extern const char *const ns_names[NS_COUNT];

void plan_read(struct plan *p, int fd);
bool percent_decode(char *field);  /* in place; false on a malformed field */
bool directive_is(const struct directive *d, const char *name);
unsigned long long field_u64(const struct directive *d, int i);
long long field_i64(const struct directive *d, int i);

/* ---- sync.c: errors and the sync socket --------------------------------------------------- */

extern int sync_fd;
extern pid_t kill_on_error;  /* P: a cloned child to SIGKILL if P fails before releasing it */

/* `error STAGE: SYSCALL: strerror(errno)` on the sync socket and stderr, then exit 1. */
__attribute__((noreturn, format(printf, 2, 3))) void die(const char *syscall, const char *stage_fmt, ...);
/* `error MESSAGE` (MESSAGE starts with the stage), then exit 1. */
__attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void sync_send(const char *fmt, ...);
char *sync_expect(const char *verb);  /* the rest of the line, decoded; fails otherwise */
void send_fd(int sock, int fd, const char *text, const char *stage);

/* ---- the stages, in the order main() runs them -------------------------------------------- */

void stage_parent(struct plan *p);                   /* namespaces.c; returns only in C */
void become_ns_root(const struct plan *p);            /* namespaces.c */
void bring_up_loopback(const struct plan *p);          /* namespaces.c */
int console_connect(const struct plan *p);            /* terminal.c; -1 when none */
void setup_hostname(const struct plan *p);            /* mounts.c */
void setup_rootfs(const struct plan *p);              /* mounts.c: before pivot */
void run_hooks(const struct plan *p, const char *kind, const char *state);  /* hooks.c */
void enter_rootfs(const struct plan *p);              /* mounts.c: pivot and after */
void enter_cwd(const struct plan *p, bool retry_later);  /* mounts.c */
void setup_terminal(const struct plan *p, int console_fd);  /* terminal.c */
void setup_rlimits(const struct plan *p);             /* process.c: and oom_score_adj */
void join_session_keyring(const struct plan *p);      /* process.c */
const char *lookup_argv0(const struct plan *p);       /* process.c */
void renumber_fds(struct plan *p);                    /* process.c */
void setup_credentials(const struct plan *p, const char *resolved_argv0, void *seccomp, void *trap,
                       pid_t expected_ppid);  /* process.c; execve, never returns */
void *seccomp_prepare(const struct plan *p);          /* seccomp.c */
void seccomp_install(void *ctx);                      /* seccomp.c */
void *trap_prepare(const struct plan *p);             /* trap.c */
void trap_install(const struct plan *p, void *filter);  /* trap.c: sends the listener (notify) */

#endif
