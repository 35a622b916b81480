/*
 * tsor-init: everything between clone() and execve() of a container process.
 *
 * Node cannot fork safely, and namespace joins and seccomp installs must happen single
 * threaded, so this stage is a small C program, as runc's nsexec is. It executes the plan the
 * gofer wrote (native/PLAN.md) and speaks the sync protocol with the sentry on fd 3. This file
 * is the whole sequence; each step lives in the file named next to it.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

/* The sync socket and the trap channel move above the preserved fds (which become 3..3+N-1 at
 * the end), CLOEXEC, and 3 and 4 are held by CLOEXEC placeholders so that no fd opened later
 * lands where a preserved fd goes. */
static void arrange_fds(struct plan *p)
{
	int fd;
	if (p->trap_mode == TRAP_MODE_NOTIFY) {
		/* Moved even though the sentry put it above the preserved range: the copy is
		 * CLOEXEC, so it cannot reach the app even if trap_install never runs. First, so
		 * that the sync socket's new number cannot be taken for a trap fd that is missing. */
		fd = fcntl(p->trap_fd, F_DUPFD_CLOEXEC, FIRST_PRESERVED_FD + p->preserve_fds);
		if (fd < 0) die("fcntl", "trap fd %d", p->trap_fd);
		close(p->trap_fd);
		p->trap_fd = fd;
	}
	fd = fcntl(SYNC_FD, F_DUPFD_CLOEXEC, FIRST_PRESERVED_FD + p->preserve_fds);
	if (fd < 0) die("fcntl", "sync");
	close(SYNC_FD);
	sync_fd = fd;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0) die("open", "/dev/null");
	if (null != SYNC_FD && dup3(null, SYNC_FD, O_CLOEXEC) < 0) die("dup3", "placeholder");
	if (null != PLAN_FD && dup3(null, PLAN_FD, O_CLOEXEC) < 0) die("dup3", "placeholder");
	if (null > PLAN_FD) close(null);
}

/* The app starts with default signal dispositions and an empty mask, whatever the sentry (or
 * P's forwarding handlers) left: ignored signals would survive execve(2). */
static void reset_signals(void)
{
	for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int main(void)
{
	static struct plan plan;

	/* P1: the whole plan first; a bad plan fails with no side effect. */
	plan_read(&plan, PLAN_FD);
	close(PLAN_FD);
	arrange_fds(&plan);
	int console = console_connect(&plan);   /* a host path: before any setns */

	stage_parent(&plan);                    /* P2-P4; from here on we are C */
	pid_t parent = getppid();
	reset_signals();
	become_ns_root(&plan);                  /* C1 */
	bring_up_loopback(&plan);

	if (!plan.exec_mode) {
		setup_hostname(&plan);              /* C3 */
		setup_rootfs(&plan);                /* C4 */
		sync_send("createRuntime");         /* C5 */
		char *state = sync_expect("ok");
		run_hooks(&plan, "createContainer", state);
		enter_rootfs(&plan);                /* C6 */
	}
	enter_cwd(&plan, false);
	setup_terminal(&plan, console);         /* C7 */
	setup_rlimits(&plan);                   /* C8 */
	join_session_keyring(&plan);
	const char *path = lookup_argv0(&plan);
	void *filter = seccomp_prepare(&plan);  /* profile errors fail create, too */
	void *trap = trap_prepare(&plan);       /* the platform's filter (trap.c) */

	sync_send("ready");                     /* C9: the start barrier */
	char *state = sync_expect("start");

	run_hooks(&plan, "startContainer", state);  /* C10 */
	renumber_fds(&plan);
	setup_credentials(&plan, path, filter, trap, parent);  /* C11-C12, execve */
}
