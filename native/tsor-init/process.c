/*
 * process.c: the app's process attributes (C8, C10-C12): rlimits, oom_score_adj, argv[0]
 * lookup, preserved fds, user and groups, capabilities, no_new_privs, seccomp, execve.
 *
 * Capabilities use the raw capset(2)/prctl(2) interface (no libcap): version 3 headers, two
 * 32-bit words per set.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* C8: rlimits and oom_score_adj, while we are still root (raising a hard limit needs
 * CAP_SYS_RESOURCE, and so does lowering oom_score_adj). */
void setup_rlimits(const struct plan *p)
{
	for (size_t i = 0; i < p->nd; i++) {
		const struct directive *d = &p->d[i];
		if (!directive_is(d, "rlimit")) continue;
		/* 18446744073709551615 is RLIM_INFINITY on every Linux ABI we build for. */
		struct rlimit rl = {.rlim_cur = field_u64(d, 1), .rlim_max = field_u64(d, 2)};
		if (setrlimit((int)field_u64(d, 0), &rl) < 0) die("setrlimit", "rlimit %s", d->argv[0]);
	}
	if (p->has_oom_score_adj) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0) die("open", "oom_score_adj");
		if (dprintf(fd, "%d", p->oom_score_adj) < 0) die("write", "oom_score_adj");
		close(fd);
	}
}

/* keyctl(2) operations (linux/keyctl.h), called raw: no libkeyutils dependency. */
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SETPERM 5
#define KEYCTL_DESCRIBE 6
/* What runc adds to the new keyring's permissions (libcontainer's ModKeyringPerm call):
 * possessor and user can view/read/link/search/setattr it whatever uid the app runs as. */
#define SESSION_KEYRING_PERM_BITS 0x080b0100u

/* A fresh session keyring named after the container, so containers do not share the host's
 * (runc does the same unless --no-new-keyring). A kernel without keyctl is no error (runc). */
void join_session_keyring(const struct plan *p)
{
	if (!p->session_keyring) return;
	long key = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p->session_keyring);
	if (key < 0) {
		if (errno == ENOSYS) return;
		die("keyctl", "session keyring %s", p->session_keyring);
	}
	/* The description is "type;uid;gid;perm;name", perm in hex. */
	char desc[512];
	if (syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, desc, sizeof desc) < 0) die("keyctl", "describe keyring");
	desc[sizeof desc - 1] = '\0';
	char *perm = desc;
	for (int i = 0; i < 3 && perm; i++) perm = strchr(perm, ';') ? strchr(perm, ';') + 1 : NULL;
	if (!perm) fail("keyctl: describe keyring: unexpected description");
	unsigned long bits = strtoul(perm, NULL, 16) | SESSION_KEYRING_PERM_BITS;
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, key, bits) < 0) die("keyctl", "setperm keyring");
}

static bool is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111);
}

/* C8: argv[0] as Go's exec.LookPath finds it with the container's PATH, which is what runc
 * does; a missing binary fails `create`, not `start`. The messages are Go's. */
const char *lookup_argv0(const struct plan *p)
{
	const char *name = p->argv[0];
	if (strchr(name, '/')) {
		struct stat st;
		if (stat(name, &st) < 0) fail("exec: \"%s\": stat %s: %s", name, name, strerror(errno));
		if (!is_executable(name)) fail("exec: \"%s\": permission denied", name);
		return name;
	}
	const char *path = "";
	for (size_t i = 0; i < p->nenv; i++)
		if (!strncmp(p->env[i], "PATH=", 5)) path = p->env[i] + 5;
	if (*path) {
		char *dirs = strdup(path);
		if (!dirs) die("strdup", "exec");
		/* strtok would drop empty entries, which mean "." in $PATH. */
		for (char *dir = dirs, *next; dir; dir = next) {
			next = strchr(dir, ':');
			if (next) *next++ = '\0';
			char *candidate;
			if (asprintf(&candidate, "%s/%s", *dir ? dir : ".", name) < 0) die("asprintf", "exec");
			if (is_executable(candidate)) return candidate;
			free(candidate);
		}
	}
	fail("exec: \"%s\": executable file not found in $PATH", name);
}

/* C10: preserved fds 5.. become 3.. (PLAN.md "Invocation"); everything else above them is
 * CLOEXEC, so no fd of the sentry leaks into the app. The sync socket was moved above the
 * preserved range at startup and 3, 4 hold CLOEXEC placeholders, so nothing is clobbered. */
void renumber_fds(struct plan *p)
{
	int n = p->preserve_fds;
	for (int i = 0; i < n; i++)
		if (dup2(FIRST_PRESERVED_FD + i, 3 + i) < 0) die("dup2", "preserve_fds %d", FIRST_PRESERVED_FD + i);
	for (int fd = 3 + n; fd < FIRST_PRESERVED_FD + n; fd++)
		if (fd != sync_fd) close(fd);
	if (syscall(SYS_close_range, 3U + (unsigned)n, ~0U, CLOSE_RANGE_CLOEXEC) < 0) die("close_range", "preserve_fds");

	/* sd_listen_fds(3) protocol, unless the config set it itself. */
	if (n > 0) {
		bool has_fds = false, has_pid = false;
		for (size_t i = 0; i < p->nenv; i++) {
			has_fds |= !strncmp(p->env[i], "LISTEN_FDS=", 11);
			has_pid |= !strncmp(p->env[i], "LISTEN_PID=", 11);
		}
		if (!has_fds && asprintf(&p->env[p->nenv++], "LISTEN_FDS=%d", n) < 0) die("asprintf", "preserve_fds");
		if (!has_pid && asprintf(&p->env[p->nenv++], "LISTEN_PID=%d", getpid()) < 0) die("asprintf", "preserve_fds");
	}
}

/* Capabilities the running kernel knows: PR_CAPBSET_READ is EINVAL past the last one. */
static uint64_t known_caps(void)
{
	uint64_t mask = 0;
	for (int cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) mask |= 1ULL << cap;
	return mask;
}

/* setgroups(2) is EPERM in a user namespace whose /proc/PID/setgroups is "deny" (a rootless
 * mapping); then only an empty list can be honoured, by leaving the groups alone. */
static bool setgroups_allowed(void)
{
	char buf[8] = "";
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return true;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n <= 0 || strncmp(buf, "deny", 4) != 0;
}

static void set_user(const struct plan *p)
{
	if (setgroups_allowed()) {
		if (setgroups(p->ngroups, p->groups) < 0) die("setgroups", "user");
	} else if (p->ngroups > 0) {
		fail("user: setgroups: denied in this user namespace (/proc/self/setgroups)");
	}
	if (setresgid(p->gid, p->gid, p->gid) < 0) die("setresgid", "user %u:%u", p->uid, p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0) die("setresuid", "user %u:%u", p->uid, p->gid);
}

static void set_capabilities(const struct plan *p, uint64_t valid)
{
	uint64_t eff = p->caps[1] & valid, perm = p->caps[2] & valid, inh = p->caps[3] & valid;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {
		{.effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh},
		{.effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32),
		 .inheritable = (uint32_t)(inh >> 32)},
	};
	if (syscall(SYS_capset, &hdr, data) < 0) die("capset", "caps");
	/* Ambient caps must be in permitted and inheritable (prctl(2) PR_CAP_AMBIENT_RAISE). */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) die("prctl", "caps ambient clear");
	for (int cap = 0; cap < 64; cap++)
		if ((p->caps[4] & valid) & (1ULL << cap))
			/* Best effort, as runc: raising needs the cap in permitted AND inheritable
			 * (capabilities(7)), and runc's own default spec lists ambient caps without
			 * inheritable ones, so EPERM here is expected and must not fail the start. */
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM)
				die("prctl", "caps ambient %d", cap);
}

/*
 * C11-C12, in runc's order (standard_init_linux.go, finalizeNamespace):
 * seccomp first when no_new_privs is off (loading a filter without NNP needs CAP_SYS_ADMIN,
 * which the user switch may drop); the bounding set while we still have CAP_SETPCAP; the user
 * with PR_SET_KEEPCAPS so the permitted set survives the uid change (capabilities(7)); capset;
 * no_new_privs; seccomp last when NNP is on, so as few syscalls as possible run under it.
 * The trap filter (trap.c) follows the profile in both cases.
 */
void setup_credentials(const struct plan *p, const char *resolved_argv0, void *seccomp, void *trap,
                       pid_t expected_ppid)
{
	/* The platform's trap filter goes right after the profile, under the same rule. */
	if (!p->no_new_privs) {
		seccomp_install(seccomp);
		trap_install(p, trap);
	}

	uint64_t valid = known_caps();
	if (p->has_caps) {
		for (int cap = 0; cap < 64; cap++)
			if ((valid & (1ULL << cap)) && !(p->caps[0] & (1ULL << cap)))
				if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) die("prctl", "caps bounding %d", cap);
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("prctl", "PR_SET_KEEPCAPS");
	}
	set_user(p);
	if (p->has_caps) {
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die("prctl", "PR_SET_KEEPCAPS");
		set_capabilities(p, valid);
	}
	if (p->umask_value >= 0) umask((mode_t)p->umask_value);
	enter_cwd(p, true);
	if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl", "no_new_privs");

	/* The uid change cleared the parent-death signal (prctl(2)); set it again, then make
	 * sure the parent did not die in between (getppid() would have changed). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("prctl", "PR_SET_PDEATHSIG");
	if (getppid() != expected_ppid) fail("init: parent exited");

	if (p->no_new_privs) {
		seccomp_install(seccomp);
		trap_install(p, trap);
	}
	execve(resolved_argv0, p->argv, p->env);
	die("execve", "exec %s", p->argv[0]);
}
