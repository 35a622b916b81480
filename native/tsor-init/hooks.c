/*
 * hooks.c: the OCI hooks that run inside the container's namespaces (C5 createContainer,
 * C10 startContainer). prestart/createRuntime/poststart/poststop run in the sentry.
 *
 * As the runtime spec asks: the container state JSON on the hook's stdin, the hook's own env,
 * a timeout in seconds; a hook that fails or times out fails the container. Its output is
 * captured and quoted in the error, as runc does.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define HOOK_OUTPUT_MAX 1024

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_hook(const struct hook *h, const char *state)
{
	char stage[4200];
	snprintf(stage, sizeof stage, "hook %s %s", h->kind, h->path);

	/* stdin is a memfd, not a pipe: a hook that never reads stdin cannot block us on a full
	 * pipe buffer. */
	int in = memfd_create("tsor-hook-state", MFD_CLOEXEC);
	if (in < 0) die("memfd_create", "%s", stage);
	size_t len = strlen(state);
	if (write(in, state, len) != (ssize_t)len) die("write", "%s", stage);
	if (lseek(in, 0, SEEK_SET) < 0) die("lseek", "%s", stage);
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0) die("pipe2", "%s", stage);

	pid_t pid = fork();
	if (pid < 0) die("fork", "%s", stage);
	if (pid == 0) {
		dup2(in, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		/* Preserved fds are not CLOEXEC yet; a hook must not inherit them. */
		syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(h->path, h->argv, h->env);
		dprintf(2, "execve %s: %s", h->path, strerror(errno));
		_exit(127);
	}
	close(in);
	close(out[1]);

	char output[HOOK_OUTPUT_MAX + 1];
	size_t got = 0;
	long long deadline = h->timeout ? now_ms() + (long long)h->timeout * 1000 : 0;
	bool timed_out = false;
	/* Read the output until EOF, then reap; both bounded by the timeout. */
	for (bool eof = false; !eof;) {
		int wait_ms = -1;
		if (deadline && (wait_ms = (int)(deadline - now_ms())) <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = {.fd = out[0], .events = POLLIN};
		int r = poll(&pfd, 1, wait_ms);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) die("poll", "%s", stage);
		if (r == 0) continue;
		char buf[512];
		ssize_t n = read(out[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) {
			eof = true;
			break;
		}
		size_t keep = (size_t)n < HOOK_OUTPUT_MAX - got ? (size_t)n : HOOK_OUTPUT_MAX - got;
		memcpy(output + got, buf, keep);
		got += keep;
	}
	close(out[0]);
	output[got] = '\0';

	int status = 0;
	if (timed_out) kill(pid, SIGKILL);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) break;
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) die("waitpid", "%s", stage);
		if (!timed_out && deadline && now_ms() >= deadline) {
			timed_out = true;
			kill(pid, SIGKILL);
		}
		usleep(10000);
	}
	if (timed_out) fail("%s: timeout after %u seconds", stage, h->timeout);
	if (WIFSIGNALED(status)) fail("%s: killed by signal %d, output: %s", stage, WTERMSIG(status), output);
	if (WEXITSTATUS(status) != 0) fail("%s: exit status %d, output: %s", stage, WEXITSTATUS(status), output);
}

void run_hooks(const struct plan *p, const char *kind, const char *state)
{
	for (size_t i = 0; i < p->nhooks; i++)
		if (strcmp(p->hooks[i].kind, kind) == 0) run_hook(&p->hooks[i], state);
}
