/*
 * lockfile.c: the lock that keeps a second crisisd off a database.
 *
 * flock(2) on a sidecar file rather than on the database itself: SQLite
 * takes and drops POSIX locks on the database and its -shm file, and a POSIX
 * lock is dropped when any descriptor of the file in the process closes, so
 * ours must not share a file with SQLite.  flock locks belong to the open
 * file, live exactly as long as our descriptor, and vanish with the process,
 * so a SIGKILLed daemon never leaves a stale lock behind: only a stale pid
 * in the file, which the next holder overwrites.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockfile.h"
#include "util.h"

/* Room for a pid and its newline. */
#define LOCKFILE_PID_MAX_BYTES 32
/*
 * A daemon that finds the lock taken tries again this many times, this far
 * apart: crisisctl's probe (lockfile_held) holds it for microseconds.
 */
#define LOCKFILE_TRIES 5
#define LOCKFILE_RETRY_US 20000

struct lockfile {
	int fd;
	char *path;
};

/* The pid written in the lock file, or 0 if it cannot be read. */
static long
lockfile_holder(int fd)
{
	char buf[LOCKFILE_PID_MAX_BYTES];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Write our pid into the lock file we hold. */
static int
lockfile_write_pid(int fd)
{
	char buf[LOCKFILE_PID_MAX_BYTES];
	int len;

	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len)
		return -1;
	return 0;
}

/* flock op without blocking, tried again a few times while it is taken. */
static int
lockfile_flock(int fd, int op)
{
	for (int i = 1;; i++) {
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || i == LOCKFILE_TRIES)
			return -1;
		usleep(LOCKFILE_RETRY_US);
	}
}

/* Take the database's lock, or say who holds it. */
struct lockfile *
lockfile_take(const char *database, char **cause)
{
	struct lockfile *lf;
	char *path;
	long pid;
	int fd;

	xasprintf(&path, "%s.lock", database);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
	if (fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	if (lockfile_flock(fd, LOCK_EX) == -1) {
		if (errno == EWOULDBLOCK && (pid = lockfile_holder(fd)) > 0)
			xasprintf(cause,
			    "database %s is in use by another crisisd "
			    "(pid %ld, lock %s); one daemon serves a database",
			    database, pid, path);
		else if (errno == EWOULDBLOCK)
			xasprintf(cause,
			    "database %s is in use by another crisisd "
			    "(lock %s); one daemon serves a database",
			    database, path);
		else
			xasprintf(cause, "%s: lock: %s", path, strerror(errno));
		close(fd);
		free(path);
		return NULL;
	}
	if (lockfile_write_pid(fd) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		close(fd);
		free(path);
		return NULL;
	}
	lf = xcalloc(1, sizeof(*lf));
	lf->fd = fd;
	lf->path = path;
	return lf;
}

int
lockfile_held(const char *database)
{
	char *path;
	int fd, held;

	xasprintf(&path, "%s.lock", database);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		held = 0;
	else
		held = errno == EWOULDBLOCK ? 1 : -1;
	close(fd); /* drops the shared lock with the descriptor */
	return held;
}

/* Release the lock; the file stays, with no pid in it. */
void
lockfile_release(struct lockfile *lf)
{
	if (lf == NULL)
		return;
	(void)ftruncate(lf->fd, 0);
	close(lf->fd);
	free(lf->path);
	free(lf);
}
