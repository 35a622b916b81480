/*
 * namespaces.c: the parent stage P (PLAN.md "Stages", P1-P4) and C's first step.
 *
 * P joins the namespaces that have a path, then makes the container process C:
 *   create: clone(CLONE_PARENT | CLONE_NEW*) so that C's parent is the sentry, which reaps it
 *           (runc's nsexec gets the same effect with its stage-1/stage-2 double clone);
 *   exec:   a plain fork; P stays as C's parent, forwards signals and reports the exit status.
 * C waits on a pipe until P has written its uid/gid maps and sent `pid`, so the two processes
 * never write on the sync socket at the same time.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const int ns_flags[NS_COUNT] = {
	[NS_USER] = CLONE_NEWUSER, [NS_IPC] = CLONE_NEWIPC, [NS_UTS] = CLONE_NEWUTS,
	[NS_NET] = CLONE_NEWNET, [NS_PID] = CLONE_NEWPID, [NS_CGROUP] = CLONE_NEWCGROUP,
	[NS_TIME] = CLONE_NEWTIME, [NS_MOUNT] = CLONE_NEWNS,
};

/* P3: setns(2) into every namespace that has a path. All paths are opened first: after the
 * mount namespace join a /proc/PID/ns path may name something else. */
static void join_namespaces(const struct plan *p)
{
	int fds[NS_COUNT];
	for (int t = 0; t < NS_COUNT; t++) {
		fds[t] = -1;
		if (!p->ns_present[t] || !p->ns_path[t][0]) continue;
		fds[t] = open(p->ns_path[t], O_RDONLY | O_CLOEXEC);
		if (fds[t] < 0) die("open", "ns %s %s", ns_names[t], p->ns_path[t]);
	}
	for (int t = 0; t < NS_COUNT; t++) {
		if (fds[t] < 0) continue;
		if (t == NS_USER) {
			/* setns(2): EINVAL when joining the user namespace we are already in (a
			 * container without its own userns, shared by path). Nothing to do then. */
			struct stat want, have;
			if (fstat(fds[t], &want) == 0 && stat("/proc/self/ns/user", &have) == 0 &&
			    want.st_dev == have.st_dev && want.st_ino == have.st_ino) {
				close(fds[t]);
				continue;
			}
		}
		if (setns(fds[t], ns_flags[t]) < 0) die("setns", "ns %s %s", ns_names[t], p->ns_path[t]);
		close(fds[t]);
	}
}

/* user_namespaces(7): the map must be written in one write(2), by a process with the
 * capabilities in the parent namespace; P is root there, so setgroups stays "allow". */
static void write_map(pid_t child, const char *file, const char *map)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", child, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) die("open", "%s", file);
	if (write(fd, map, strlen(map)) != (ssize_t)strlen(map)) die("write", "%s", file);
	close(fd);
}

/* exec mode: P forwards these to C, as runc's signal handler does for `runc exec`. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
static volatile pid_t forward_to;

static void forward_signal(int sig)
{
	if (forward_to > 0) kill(forward_to, sig);
}

/* exec mode: wait for C like a shell would and report how it ended (PLAN.md P4). */
static __attribute__((noreturn)) void wait_and_report(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) die("waitpid", "exec");
	if (WIFSIGNALED(status)) {
		sync_send("exit signal %d", WTERMSIG(status));
		_exit(128 + WTERMSIG(status));
	}
	sync_send("exit code %d", WEXITSTATUS(status));
	_exit(WEXITSTATUS(status));
}

void stage_parent(struct plan *p)
{
	/* P1: if the sentry dies, so do we (and C, which sets its own below). In exec mode the
	 * parent is the `tsor exec` CLI, which may exit at once (--detach): like runc exec's
	 * process, P and the exec'd process outlive it (the container's pid namespace bounds them). */
	if (!p->exec_mode && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("prctl", "PR_SET_PDEATHSIG");
	pid_t sentry = getppid();

	/* P2: the sentry moves P into the container's cgroups before any container process
	 * exists, so every process of the container starts inside them. */
	sync_send("hello %d", getpid());
	sync_expect("cgroup");

	join_namespaces(p);

	int flags = 0;
	if (!p->exec_mode)
		for (int t = 0; t < NS_COUNT; t++)
			if (p->ns_present[t] && !p->ns_path[t][0]) flags |= ns_flags[t];
	/* clone(2) cannot take CLONE_NEWTIME (its bit is in CSIGNAL); unshare(2) makes the
	 * new time namespace the one our children are created in. */
	if (flags & CLONE_NEWTIME) {
		if (unshare(CLONE_NEWTIME) < 0) die("unshare", "ns time");
		flags &= ~CLONE_NEWTIME;
	}

	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0) die("pipe2", "clone");

	if (p->exec_mode) {
		struct sigaction sa = {.sa_handler = forward_signal};
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
			sigaction(forwarded[i], &sa, NULL);
	}

	/* P4. The raw syscall with a NULL stack behaves like fork(2) (the child runs on a copy
	 * of our stack); glibc's clone() wrapper would want a separate stack and a function. */
	pid_t child = p->exec_mode ? fork()
	                           : (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD | flags),
	                                            NULL, NULL, NULL, NULL);
	if (child < 0) die(p->exec_mode ? "fork" : "clone", "clone");

	if (child == 0) {
		/* C1: wait for P's go. EOF without a byte: P failed and reported it. */
		close(go[1]);
		char c;
		ssize_t n;
		while ((n = read(go[0], &c, 1)) < 0 && errno == EINTR) {}
		if (n != 1) _exit(1);
		close(go[0]);
		/* The parent-death signal is not inherited (prctl(2)). In create mode our parent
		 * is the sentry, in exec mode it is P. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("prctl", "PR_SET_PDEATHSIG");
		/* Only comparable when we share the sentry's pid namespace: in a new or a joined
		 * one (CRI joins a pod's by path) the sentry is outside it and getppid() is 0. */
		if (!p->exec_mode && !p->ns_present[NS_PID] && getppid() != sentry)
			fail("init: the sentry exited");
		return;
	}

	close(go[0]);
	/* The trap channel is C's to use: P (which outlives the fork in exec mode) lets go. */
	if (p->trap_mode == TRAP_MODE_NOTIFY) close(p->trap_fd);
	kill_on_error = p->exec_mode ? 0 : child;
	if (p->exec_mode) forward_to = child;
	if (p->uidmap) write_map(child, "uid_map", p->uidmap);
	if (p->gidmap) write_map(child, "gid_map", p->gidmap);
	sync_send("pid %d", child);
	if (write(go[1], "g", 1) != 1) die("write", "clone");
	close(go[1]);
	kill_on_error = 0;

	if (p->exec_mode) wait_and_report(child);
	_exit(0);
}

/* C1, second half: in a user namespace (new or joined) become its root, so that the mounts
 * and the later switch to the container user are done with full capabilities there. */
void become_ns_root(const struct plan *p)
{
	if (!p->ns_present[NS_USER]) return;
	if (setresgid(0, 0, 0) < 0) die("setresgid", "ns user");
	if (setresuid(0, 0, 0) < 0) die("setresuid", "ns user");
}

/* C1, last: a network namespace the container made starts with `lo` down; runc configures
 * its default "loopback" network there, so apps can use 127.0.0.1 at once. ioctl(2)
 * SIOCSIFFLAGS on a throwaway datagram socket is the whole of what `ip link set lo up` does. */
void bring_up_loopback(const struct plan *p)
{
	if (p->exec_mode || !p->ns_present[NS_NET] || p->ns_path[NS_NET][0]) return;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) die("socket", "loopback");
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) die("ioctl", "loopback SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) die("ioctl", "loopback SIOCSIFFLAGS");
	close(fd);
}
