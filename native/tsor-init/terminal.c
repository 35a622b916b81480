/*
 * terminal.c: the console socket and the container's pty (C2, C7).
 *
 * As runc's setupConsole: the pty is allocated *inside* the container, from the devpts instance
 * mounted for it, so the slave's /dev/pts/N path is valid in the container; the master goes to
 * whoever listens on --console-socket (SCM_RIGHTS), and the slave becomes stdio and the
 * controlling terminal of a new session.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* The console socket is a host path, so it is connected before any namespace join or pivot
 * (main() calls this in P; C inherits the fd). */
int console_connect(const struct plan *p)
{
	if (!p->console_socket) return -1;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(p->console_socket) >= sizeof addr.sun_path)
		fail("console_socket: path too long: %s", p->console_socket);
	strcpy(addr.sun_path, p->console_socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) die("socket", "console_socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect", "console_socket %s", p->console_socket);
	return fd;
}

void setup_terminal(const struct plan *p, int console_fd)
{
	if (!p->terminal) {
		if (console_fd >= 0) close(console_fd);
		return;
	}
	/* /dev/ptmx is the `ptmx` symlink to pts/ptmx: the container's devpts instance. */
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0) die("open", "terminal /dev/ptmx");
	if (grantpt(master) < 0) die("grantpt", "terminal");
	if (unlockpt(master) < 0) die("unlockpt", "terminal");
	char name[64];
	if ((errno = ptsname_r(master, name, sizeof name)) != 0) die("ptsname", "terminal");
	int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) die("open", "terminal %s", name);

	send_fd(console_fd, master, "tsor-console", "terminal console_socket");
	close(master);
	close(console_fd);

	/* A new session whose controlling terminal is the slave (credentials(7)): job control
	 * and ^C reach the app. C is not a process group leader, so setsid cannot fail with
	 * EPERM. */
	if (setsid() < 0) die("setsid", "terminal");
	if (ioctl(slave, TIOCSCTTY, 0) < 0) die("ioctl", "terminal TIOCSCTTY");
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(slave, fd) < 0) die("dup2", "terminal");
	if (slave > 2) close(slave);
}
