/*
 * mounts.c: hostname (C3), the rootfs before pivot (C4) and after it (C6).
 *
 * Order follows runc's libcontainer/rootfs_linux.go (prepareRoot, mountToRootfs,
 * pivotRoot/msMoveRoot) and standard_init_linux.go (sysctl, readonlyPaths, maskPaths, then
 * finalizeRootfs). The gofer already resolved every path inside the rootfs; creating mount
 * targets still goes through openat2(RESOLVE_IN_ROOT), so even a symlink swapped in after the
 * gofer looked cannot make us create or mount anything outside the rootfs.
 */
#define _GNU_SOURCE
#include "tsor-init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The rootfs bind mount; every path of the mount stage is resolved beneath it. */
static int root_fd = -1;

/* "/proc/self/fd/N": mount(2) follows it to exactly the file we opened (runc does the same
 * with its procfd paths), so no path is looked up twice. */
struct fdpath {
	char s[32];
};
static struct fdpath fdpath(int fd)
{
	struct fdpath p;
	snprintf(p.s, sizeof p.s, "/proc/self/fd/%d", fd);
	return p;
}

/* openat2(2) with RESOLVE_IN_ROOT: ".." and absolute symlinks stop at the rootfs, as if it were
 * already "/"; RESOLVE_NO_MAGICLINKS refuses /proc/self/root-style escapes. */
static int open_in_root(const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/') path++;
	return (int)syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof how);
}

/* Split "/a/b/c" into a malloc'd parent "/a/b" and a pointer to "c". */
static char *split_path(const char *path, const char **base)
{
	char *parent = strdup(path);
	if (!parent) die("strdup", "mount %s", path);
	size_t n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
	char *slash = strrchr(parent, '/');
	if (!slash) {
		*base = path;
		parent[0] = '\0';
		return parent;
	}
	*base = path + (slash - parent) + 1;
	if (slash == parent) slash[1] = '\0';
	else slash[0] = '\0';
	return parent;
}

/* How many dangling symlinks ensure_dir follows before giving up (path_resolution(7) uses 40). */
#define MAX_SYMLINKS 40

/*
 * mkdir -p PATH beneath the rootfs; returns an O_PATH fd of the directory. A component that is
 * a dangling symlink is followed and its target created, still beneath the rootfs (what
 * securejoin + MkdirAll do in runc); absolute and ".." targets are resolved inside the root.
 */
static int ensure_dir_depth(const char *path, const char *stage, int links)
{
	int fd = open_in_root(path, O_PATH | O_DIRECTORY);
	if (fd >= 0) return fd;
	if (errno != ENOENT) die("openat2", "%s", stage);
	const char *base;
	char *parent = split_path(path, &base);
	int pfd = ensure_dir_depth(parent, stage, links);
	/* mkdirat does not follow a symlink in its last component. */
	if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST) die("mkdirat", "%s", stage);
	fd = open_in_root(path, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ENOENT) {
		char target[4096];
		ssize_t n = readlinkat(pfd, base, target, sizeof target - 1);
		if (n < 0) die("readlinkat", "%s", stage);
		target[n] = '\0';
		if (links >= MAX_SYMLINKS) {
			errno = ELOOP;
			die("openat2", "%s", stage);
		}
		char *next;
		if (asprintf(&next, "%s/%s", target[0] == '/' ? "" : parent, target) < 0) die("asprintf", "%s", stage);
		close(ensure_dir_depth(next, stage, links + 1));
		free(next);
		fd = open_in_root(path, O_PATH | O_DIRECTORY);
	}
	if (fd < 0) die("openat2", "%s", stage);
	close(pfd);
	free(parent);
	return fd;
}

static int ensure_dir(const char *path, const char *stage)
{
	return ensure_dir_depth(path, stage, 0);
}

/* touch PATH beneath the rootfs (for a file bind mount); returns an O_PATH fd. */
static int ensure_file(const char *path, const char *stage)
{
	int fd = open_in_root(path, O_PATH);
	if (fd >= 0) return fd;
	if (errno != ENOENT) die("openat2", "%s", stage);
	const char *base;
	char *parent = split_path(path, &base);
	int pfd = ensure_dir(parent, stage);
	int f = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f < 0 && errno != EEXIST) die("openat", "%s", stage);
	if (f >= 0) close(f);
	close(pfd);
	free(parent);
	fd = open_in_root(path, O_PATH);
	if (fd < 0) die("openat2", "%s", stage);
	return fd;
}

/*
 * A bind mount's flags (ro, nosuid...) only take effect on a remount (mount(2): "MS_BIND ...
 * other flags are ignored"). In a user namespace the kernel refuses to clear flags that the
 * source mount had ("locked" flags, mount_namespaces(7)), so on EPERM, or always when
 * keep_existing, the target's current flags are kept, as runc's readonlyPath does.
 */
static void remount(const char *target, unsigned long flags, bool keep_existing, const char *stage)
{
	const unsigned long lockable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
	                               MS_NODIRATIME | MS_RELATIME;
	flags |= MS_REMOUNT | MS_BIND;
	if (!keep_existing && mount(NULL, target, NULL, flags, NULL) == 0) return;
	if (!keep_existing && errno != EPERM) die("mount", "%s", stage);
	struct statvfs st;
	if (statvfs(target, &st) < 0) die("statvfs", "%s", stage);
	/* ST_* flags have the MS_* values (statvfs(3)). */
	if (mount(NULL, target, NULL, flags | (st.f_flag & lockable), NULL) < 0) die("mount", "%s", stage);
}

/* C3. */
void setup_hostname(const struct plan *p)
{
	if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) die("sethostname", "hostname");
	if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0)
		die("setdomainname", "domainname");
}

/* `mount SOURCE DEST FSTYPE FLAGS PGFLAGS DATA KIND` */
static void do_mount(const struct directive *d)
{
	const char *src = d->argv[0], *dest = d->argv[1], *fstype = d->argv[2], *data = d->argv[5];
	unsigned long flags = (unsigned long)field_u64(d, 3), pgflags = (unsigned long)field_u64(d, 4);
	char stage[4200];
	snprintf(stage, sizeof stage, "mount %s", dest);

	int fd = strcmp(d->argv[6], "file") == 0 ? ensure_file(dest, stage) : ensure_dir(dest, stage);
	if (flags & MS_BIND) {
		if (mount(src, fdpath(fd).s, NULL, MS_BIND | (flags & MS_REC), NULL) < 0) die("mount", "%s", stage);
		/* Reopen: the fd still names the directory underneath the new mount. */
		close(fd);
		if ((fd = open_in_root(dest, O_PATH)) < 0) die("openat2", "%s", stage);
		if (flags & ~(MS_BIND | MS_REC | MS_REMOUNT)) remount(fdpath(fd).s, flags & ~MS_REC, false, stage);
	} else {
		if (mount(src, fdpath(fd).s, fstype, flags, *data ? data : NULL) < 0) die("mount", "%s", stage);
	}
	if (pgflags) {
		close(fd);
		if ((fd = open_in_root(dest, O_PATH)) < 0) die("openat2", "%s", stage);
		if (mount(NULL, fdpath(fd).s, NULL, pgflags, NULL) < 0) die("mount", "%s propagation", stage);
	}
	close(fd);
}

/* `device PATH TYPE MAJOR MINOR MODE UID GID`, as runc's createDeviceNode: mknod, or in a user
 * namespace (where mknod is EPERM) a bind mount of the host's node. An existing node is kept. */
static void do_device(const struct plan *p, const struct directive *d)
{
	const char *path = d->argv[0];
	char stage[4200];
	snprintf(stage, sizeof stage, "device %s", path);
	if (p->ns_present[NS_USER]) {
		int fd = ensure_file(path, stage);
		if (mount(path, fdpath(fd).s, NULL, MS_BIND, NULL) < 0) die("mount", "%s", stage);
		close(fd);
		return;
	}
	mode_t type;
	switch (d->argv[1][0]) {
	case 'c': case 'u': type = S_IFCHR; break;
	case 'b': type = S_IFBLK; break;
	case 'p': type = S_IFIFO; break;
	default: fail("plan: line %d: device: unknown type %s", d->line, d->argv[1]);
	}
	dev_t dev = makedev((unsigned)field_u64(d, 2), (unsigned)field_u64(d, 3));
	mode_t mode = (mode_t)field_u64(d, 4) & 07777;
	const char *base;
	char *parent = split_path(path, &base);
	int pfd = ensure_dir(parent, stage);
	free(parent);
	if (mknodat(pfd, base, type | mode, dev) < 0) {
		if (errno != EEXIST) die("mknodat", "%s", stage);
	} else {
		/* mknod applies the umask; set the mode exactly, as runc does with umask(0). */
		if (fchmodat(pfd, base, mode, 0) < 0) die("fchmodat", "%s", stage);
		if (fchownat(pfd, base, (uid_t)field_u64(d, 5), (gid_t)field_u64(d, 6), AT_SYMLINK_NOFOLLOW) < 0)
			die("fchownat", "%s", stage);
	}
	close(pfd);
}

/* `symlink TARGET LINKPATH`; an existing LINKPATH is kept (runc ignores EEXIST). */
static void do_symlink(const char *target, const char *link)
{
	char stage[4200];
	snprintf(stage, sizeof stage, "symlink %s", link);
	const char *base;
	char *parent = split_path(link, &base);
	int pfd = ensure_dir(parent, stage);
	free(parent);
	if (symlinkat(target, pfd, base) < 0 && errno != EEXIST) die("symlinkat", "%s", stage);
	close(pfd);
}

/* `ptmx`: /dev/ptmx -> pts/ptmx, so the devpts instance mounted for the container is the one
 * used (devpts(5), "newinstance"); replaces whatever the image had. */
static void do_ptmx(void)
{
	int pfd = ensure_dir("/dev", "ptmx");
	if (unlinkat(pfd, "ptmx", 0) < 0 && errno != ENOENT) die("unlinkat", "ptmx");
	if (symlinkat("pts/ptmx", pfd, "ptmx") < 0) die("symlinkat", "ptmx");
	close(pfd);
}

/* The mount that holds the rootfs must not be shared: pivot_root(2) fails with EINVAL if the
 * new root's parent mount is shared, and our mounts must not propagate back to the host.
 * MS_PRIVATE on a path that is not a mount point is EINVAL, so walk up until one takes it
 * (runc's rootfsParentMountPrivate reads mountinfo for the same answer). */
static void make_parent_private(const char *rootfs)
{
	char *path = strdup(rootfs);
	if (!path) die("strdup", "rootfs");
	for (;;) {
		if (mount(NULL, path, NULL, MS_PRIVATE, NULL) == 0) break;
		if (errno != EINVAL) die("mount", "rootfs parent %s", path);
		char *slash = strrchr(path, '/');
		if (!slash) fail("rootfs: no mount point above %s", rootfs);
		if (slash == path) {
			if (path[1] == '\0') fail("rootfs: cannot make / private");
			path[1] = '\0';
		} else {
			*slash = '\0';
		}
	}
	free(path);
}

/* C4. */
void setup_rootfs(const struct plan *p)
{
	/* Our mounts must not leak to the host: rslave unless the config says otherwise. */
	unsigned long prop = p->has_propagation ? p->propagation : MS_REC | MS_SLAVE;
	if (mount(NULL, "/", NULL, prop, NULL) < 0) die("mount", "rootfs_propagation");
	make_parent_private(p->rootfs);
	/* pivot_root(2) needs new_root to be a mount point. */
	if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) die("mount", "rootfs %s", p->rootfs);
	root_fd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) die("open", "rootfs %s", p->rootfs);

	for (size_t i = 0; i < p->nd; i++) {
		const struct directive *d = &p->d[i];
		if (directive_is(d, "mount")) do_mount(d);
		else if (directive_is(d, "device")) do_device(p, d);
		else if (directive_is(d, "symlink")) do_symlink(d->argv[0], d->argv[1]);
		else if (directive_is(d, "ptmx")) do_ptmx();
	}
}

/* runc's pivotRoot: pivot_root(".", ".") stacks the old root on top of the new one at "/",
 * and unmounting "." (after fchdir to the old root) removes it, with no temporary directory
 * inside the rootfs. The old root is made rslave first so the detach does not propagate to
 * the host's mounts. */
static void pivot(const char *rootfs)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0) die("open", "pivot_root /");
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0) die("open", "pivot_root %s", rootfs);
	if (fchdir(newroot) < 0) die("fchdir", "pivot_root");
	if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root", "pivot_root");
	if (fchdir(oldroot) < 0) die("fchdir", "pivot_root");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) die("mount", "pivot_root old root");
	if (umount2(".", MNT_DETACH) < 0) die("umount2", "pivot_root old root");
	if (chdir("/") < 0) die("chdir", "pivot_root");
	close(oldroot);
	close(newroot);
}

/* `pivot 0` (--no-pivot), runc's msMoveRoot: move the rootfs mount over "/" and chroot into
 * it. setns(2) into this mount namespace then lands on the moved mount, so `exec` works. Host
 * mounts stay reachable underneath; that is why pivot_root is the default. */
static void move_root(const char *rootfs)
{
	if (chdir(rootfs) < 0) die("chdir", "chroot %s", rootfs);
	if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0) die("mount", "chroot move");
	if (chroot(".") < 0) die("chroot", "chroot");
	if (chdir("/") < 0) die("chdir", "chroot");
}

static void do_sysctl(const char *key, const char *value)
{
	char path[4200];
	snprintf(path, sizeof path, "/proc/sys/%s", key);
	for (char *c = path + 10; *c; c++)
		if (*c == '.') *c = '/';
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) die("open", "sysctl %s", key);
	if (write(fd, value, strlen(value)) < 0) die("write", "sysctl %s", key);
	close(fd);
}

/* readonlyPaths: bind the path on itself, then remount it read-only keeping its flags. */
static void do_readonly(const char *path)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT) return;
		die("mount", "readonly %s", path);
	}
	char stage[4200];
	snprintf(stage, sizeof stage, "readonly %s", path);
	remount(path, MS_RDONLY, true, stage);
}

/* maskedPaths: a read-only empty tmpfs over a directory, /dev/null over anything else. */
static void do_mask(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT) return;
		die("stat", "mask %s", path);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0) die("mount", "mask %s", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		die("mount", "mask %s", path);
	}
}

/* mkdir -p inside the container (after pivot, so symlinks resolve inside it). */
static void mkdir_p(const char *path)
{
	char *copy = strdup(path);
	if (!copy) die("strdup", "cwd");
	for (char *c = copy + 1;; c++) {
		if (*c != '/' && *c != '\0') continue;
		char saved = *c;
		*c = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST) die("mkdir", "cwd %s", path);
		*c = saved;
		if (!saved) break;
	}
	free(copy);
}

/*
 * C6. Order as runc: root propagation again (it applies to the new "/"), sysctl before
 * readonlyPaths (/proc/sys is usually one of them), readonly then masked paths, the cwd
 * (created if missing, as runc does, so before the root goes read-only), the read-only root.
 */
void enter_rootfs(const struct plan *p)
{
	if (p->pivot) pivot(p->rootfs);
	else move_root(p->rootfs);
	close(root_fd);
	root_fd = -1;
	if (p->has_propagation && mount(NULL, "/", NULL, p->propagation, NULL) < 0)
		die("mount", "rootfs_propagation /");

	for (size_t i = 0; i < p->nd; i++)
		if (directive_is(&p->d[i], "sysctl")) do_sysctl(p->d[i].argv[0], p->d[i].argv[1]);
	for (size_t i = 0; i < p->nd; i++)
		if (directive_is(&p->d[i], "readonly")) do_readonly(p->d[i].argv[0]);
	for (size_t i = 0; i < p->nd; i++)
		if (directive_is(&p->d[i], "mask")) do_mask(p->d[i].argv[0]);

	if (p->cwd && p->cwd[0]) mkdir_p(p->cwd);
	if (p->readonly_root) remount("/", MS_RDONLY, true, "readonly_root");
}

/* chdir to the cwd. As runc's finalizeNamespace: try as root first (root may reach a directory
 * the user cannot), and on EACCES try again once the user is set (a volume chowned to the
 * user but not readable by root in a user namespace). */
void enter_cwd(const struct plan *p, bool after_user)
{
	static bool pending;
	if (!p->cwd || !p->cwd[0]) return;
	if (after_user && !pending) return;
	if (chdir(p->cwd) == 0) {
		pending = false;
		return;
	}
	if (!after_user && (errno == EACCES || errno == EPERM)) {
		pending = true;
		return;
	}
	die("chdir", "cwd %s", p->cwd);
}
