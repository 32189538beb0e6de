/*
 * faultfs.c: an LD_PRELOAD shim that makes the database's disk fail on
 * demand, for the e2e tests of CONTRACT.md section 5 (store failures).
 *
 * Three faults, each on while its control file exists:
 *   - $CRISISD_FAULT_FILE: every write of a file that is the database named
 *     by $CRISISD_FAULT_DB, or its -wal or -journal, fails with
 *     $CRISISD_FAULT_ERRNO (ENOSPC unless set to EIO, EDQUOT or a number):
 *     the disk is full.  A sync of what was written before still works, as
 *     on a full disk: crisisd takes a failed sync as fatal, a full disk not.
 *   - $CRISISD_FAULT_SYNC_FILE: every fsync or fdatasync of the database's
 *     -wal fails with $CRISISD_FAULT_SYNC_ERRNO (EIO unless set as above):
 *     the disk lost what it was given.
 *   - $CRISISD_FAULT_SYNC_DELAY_FILE: every fsync or fdatasync of the
 *     -wal first sleeps for the milliseconds written in the file: a slow
 *     disk.
 * Everything else (the sockets, the log, the -shm index, the lock file)
 * passes through, and so does every call while no control file exists.
 * Without $CRISISD_FAULT_DB, any file whose name ends in .db, .db-wal or
 * .db-journal counts as the database.
 *
 * What SQLite's unix VFS writes with (nm -D libsqlite3.so: pwrite64,
 * write, fdatasync; ftruncate64 only shrinks the WAL and journal) is
 * intercepted, and so are the other calls of the same family, so a build
 * of SQLite configured otherwise (pwrite, fsync, writev) fails the same
 * way.  The real calls are found with dlsym(RTLD_NEXT): under ASan that is
 * its interceptor (run with ASAN_OPTIONS=verify_asan_link_order=0), under
 * valgrind the libc call.
 *
 * Built by the Makefile into $(BUILD)/tests/faultfs.so, without sanitizer
 * flags: a preloaded library cannot carry them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int (*sync_fn)(int);

/* The real call name, found once (a race only finds it twice). */
#define REAL(type, name)                                                       \
	static type real_##name;                                               \
	if (real_##name == NULL)                                               \
		real_##name = (type)dlsym(RTLD_NEXT, #name);                   \
	if (real_##name == NULL) {                                             \
		errno = ENOSYS;                                                \
		return -1;                                                     \
	}

/* The error named by the environment variable env, or fallback. */
static int
faultfs_errno(const char *env, int fallback)
{
	const char *e = getenv(env);

	if (e == NULL || *e == '\0')
		return fallback;
	if (strcmp(e, "ENOSPC") == 0)
		return ENOSPC;
	if (strcmp(e, "EIO") == 0)
		return EIO;
	if (strcmp(e, "EDQUOT") == 0)
		return EDQUOT;
	return atoi(e) > 0 ? atoi(e) : fallback;
}

/* Does s end with suffix? */
static bool
faultfs_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Is path the database, its -wal or its -journal (only the -wal if
 * wal_only)? */
static bool
faultfs_is_database(const char *path, bool wal_only)
{
	const char *db = getenv("CRISISD_FAULT_DB");
	char real[PATH_MAX];
	size_t n;

	if (db == NULL || *db == '\0')
		return faultfs_ends_with(path, ".db-wal") ||
		    (!wal_only &&
		        (faultfs_ends_with(path, ".db") ||
		            faultfs_ends_with(path, ".db-journal")));
	/* /proc/self/fd names the file by its real path. */
	if (realpath(db, real) != NULL)
		db = real;
	n = strlen(db);
	if (strncmp(path, db, n) != 0)
		return false;
	if (strcmp(path + n, "-wal") == 0)
		return true;
	return !wal_only &&
	    (path[n] == '\0' || strcmp(path + n, "-journal") == 0);
}

/* The path of the control file named by env, if it exists now. */
static const char *
faultfs_armed(const char *env)
{
	const char *control = getenv(env);

	if (control == NULL || *control == '\0' || access(control, F_OK) != 0)
		return NULL;
	return control;
}

/* Is fd the database (the -wal only if wal_only)? */
static bool
faultfs_is_database_fd(int fd, bool wal_only)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (fd < 0)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return false;
	path[n] = '\0';
	return faultfs_is_database(path, wal_only);
}

/* Should a write of fd fail now?  Sets errno when it should. */
static bool
faultfs_fails(int fd)
{
	int saved = errno;

	if (faultfs_armed("CRISISD_FAULT_FILE") == NULL ||
	    !faultfs_is_database_fd(fd, false)) {
		errno = saved;
		return false;
	}
	errno = faultfs_errno("CRISISD_FAULT_ERRNO", ENOSPC);
	return true;
}

/* Wait as long as the delay control file says, if fd is the WAL. */
static void
faultfs_sync_delay(int fd)
{
	const char *control = faultfs_armed("CRISISD_FAULT_SYNC_DELAY_FILE");
	int saved = errno;
	long ms = 0;
	struct timespec pause;
	FILE *f;

	if (control != NULL && faultfs_is_database_fd(fd, true) &&
	    (f = fopen(control, "r")) != NULL) {
		if (fscanf(f, "%ld", &ms) != 1)
			ms = 0;
		fclose(f);
	}
	if (ms > 0) {
		pause.tv_sec = ms / 1000;
		pause.tv_nsec = (ms % 1000) * 1000000L;
		while (nanosleep(&pause, &pause) == -1 && errno == EINTR)
			;
	}
	errno = saved;
}

/* Should a sync of fd fail now (after its delay)?  Sets errno if so. */
static bool
faultfs_sync_fails(int fd)
{
	int saved = errno;

	faultfs_sync_delay(fd);
	if (faultfs_armed("CRISISD_FAULT_SYNC_FILE") == NULL ||
	    !faultfs_is_database_fd(fd, true)) {
		errno = saved;
		return false;
	}
	errno = faultfs_errno("CRISISD_FAULT_SYNC_ERRNO", EIO);
	return true;
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	REAL(write_fn, write);
	if (faultfs_fails(fd))
		return -1;
	return real_write(fd, buf, count);
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	REAL(pwrite_fn, pwrite);
	if (faultfs_fails(fd))
		return -1;
	return real_pwrite(fd, buf, count, offset);
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
	REAL(pwrite_fn, pwrite64);
	if (faultfs_fails(fd))
		return -1;
	return real_pwrite64(fd, buf, count, offset);
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	REAL(writev_fn, writev);
	if (faultfs_fails(fd))
		return -1;
	return real_writev(fd, iov, iovcnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	REAL(pwritev_fn, pwritev);
	if (faultfs_fails(fd))
		return -1;
	return real_pwritev(fd, iov, iovcnt, offset);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	REAL(pwritev_fn, pwritev64);
	if (faultfs_fails(fd))
		return -1;
	return real_pwritev64(fd, iov, iovcnt, offset);
}

int
fsync(int fd)
{
	REAL(sync_fn, fsync);
	if (faultfs_sync_fails(fd))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(sync_fn, fdatasync);
	if (faultfs_sync_fails(fd))
		return -1;
	return real_fdatasync(fd);
}
