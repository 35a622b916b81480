/*
 * sync.c: the sync socket (PLAN.md "Sync messages") and fatal errors.
 *
 * Messages are single lines. They are read one byte at a time: P and C share the socket, and a
 * buffered reader in one process could swallow a line meant for the other. The traffic is a
 * handful of short lines, so the cost does not matter.
 */
#include "tsor-init.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int sync_fd = SYNC_FD;
pid_t kill_on_error;

#define MAX_ERROR_LINE 4096

/* Write all of buf. MSG_NOSIGNAL: a sentry that went away must not kill us with SIGPIPE
 * before we exit on our own. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK) n = write(fd, buf, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

void sync_send(const char *fmt, ...)
{
	char line[MAX_ERROR_LINE];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0) n = 0;
	if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
	line[n++] = '\n';
	write_all(sync_fd, line, (size_t)n);
}

void fail(const char *fmt, ...)
{
	char line[MAX_ERROR_LINE] = "error ";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + 6, sizeof line - 8, fmt, ap);
	va_end(ap);
	/* One message, one line: a path with a newline in it must not split the error. */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r') *c = ' ';
	strcat(line, "\n");
	/* The sentry relays the error to the user (one line, like runc); stderr is the
	 * container's and gets it only when nobody is listening on the sync socket. */
	if (!write_all(sync_fd, line, strlen(line))) write_all(STDERR_FILENO, line, strlen(line));
	if (kill_on_error > 0) kill(kill_on_error, SIGKILL);
	_exit(1);
}

void die(const char *syscall, const char *stage_fmt, ...)
{
	int err = errno;
	char stage[MAX_ERROR_LINE / 2];
	va_list ap;
	va_start(ap, stage_fmt);
	vsnprintf(stage, sizeof stage, stage_fmt, ap);
	va_end(ap);
	fail("%s: %s: %s", stage, syscall, strerror(err));
}

/* One line from the sentry, without the newline; NULL at EOF. */
static char *sync_recv(void)
{
	size_t cap = 256, len = 0;
	char *line = malloc(cap);
	if (!line) die("malloc", "sync");
	for (;;) {
		char c;
		ssize_t n = read(sync_fd, &c, 1);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) die("read", "sync");
		if (n == 0) {
			free(line);
			return NULL;
		}
		if (c == '\n') break;
		if (len + 2 >= cap && !(line = realloc(line, cap *= 2))) die("realloc", "sync");
		line[len++] = c;
	}
	line[len] = '\0';
	return line;
}

/* Wait for `VERB [FIELD]`; the field is percent-decoded (state JSON). EOF means the sentry gave
 * up on this container (or died): exit quietly, there is nobody to report to. */
char *sync_expect(const char *verb)
{
	char *line = sync_recv();
	if (!line) _exit(1);
	size_t vlen = strlen(verb);
	if (strncmp(line, verb, vlen) != 0 || (line[vlen] != '\0' && line[vlen] != ' '))
		fail("sync: expected \"%s\", got \"%.100s\"", verb, line);
	char *rest = line + vlen + (line[vlen] == ' ');
	if (*rest && !percent_decode(rest)) fail("sync: %s: bad field", verb);
	return rest;
}

/* Send fd with SCM_RIGHTS and a short text (the console socket protocol, as runc's
 * utils.SendFd, which sends the pty name as the message). */
void send_fd(int sock, int fd, const char *text, const char *stage)
{
	char control[CMSG_SPACE(sizeof(int))];
	memset(control, 0, sizeof control);
	struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof control,
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR) die("sendmsg", "%s", stage);
}
