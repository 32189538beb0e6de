/*
 * ctl_backup.c: crisisctl backup FILE [--force]: a consistent, checked
 * copy of the database, taken while crisisd runs (store_backup).
 *
 * A backup reads every record, so it is audited like a read: the row
 * (action "backup", target the file's absolute path) is committed before
 * the copy is made, and a backup that cannot be recorded is refused.  The
 * checks a person can act on (the file exists, its directory is missing)
 * come first, so a refused backup leaves no audit row behind.
 *
 * The copy holds every record, so no "FILE.tmp" may outlive the backup:
 * SIGINT, SIGTERM and SIGHUP remove it before crisisctl dies, and a
 * backup killed with SIGKILL leaves one that the next backup to the same
 * file removes.  Backups into one directory take turns (an flock on the
 * directory), so a "FILE.tmp" found there with the lock held is stale.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include "ctl.h"

/* The files of a backup in progress, "" if none: FILE.tmp and its journals. */
static const char *const ctl_backup_suffixes[] = { ".tmp", ".tmp-journal",
	".tmp-wal", ".tmp-shm" };
#define CTL_BACKUP_TMPS (sizeof(ctl_backup_suffixes) / sizeof(char *))
static char ctl_backup_tmp[CTL_BACKUP_TMPS][PATH_MAX + 16];
static volatile sig_atomic_t ctl_backup_tmp_set;
static const int ctl_backup_signals[] = { SIGINT, SIGTERM, SIGHUP };

/*
 * SIGINT, SIGTERM, SIGHUP during a backup: remove its files, then die of
 * the signal (SA_RESETHAND put the default action back; the raised signal
 * is delivered when this returns).  Only unlink() and raise(): both are
 * async-signal-safe.
 */
static void
ctl_backup_signal(int sig)
{
	int saved = errno;

	if (ctl_backup_tmp_set)
		for (size_t i = 0; i < CTL_BACKUP_TMPS; i++)
			(void)unlink(ctl_backup_tmp[i]);
	(void)raise(sig);
	errno = saved;
}

/*
 * Catch (on) the signals that end a backup, leaving alone those ignored
 * (nohup's SIGHUP), or put back (off) what was there before.
 */
static void
ctl_backup_catch(bool on)
{
	static struct sigaction old[nitems(ctl_backup_signals)];
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < nitems(ctl_backup_signals); i++)
		sigaddset(&sa.sa_mask, ctl_backup_signals[i]);
	sa.sa_handler = ctl_backup_signal;
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < nitems(ctl_backup_signals); i++) {
		if (!on)
			(void)sigaction(ctl_backup_signals[i], &old[i], NULL);
		else if (sigaction(ctl_backup_signals[i], NULL, &old[i]) == 0 &&
		    old[i].sa_handler != SIG_IGN)
			(void)sigaction(ctl_backup_signals[i], &sa, NULL);
	}
}

/*
 * Take the directory of path for this backup (an exclusive flock, held
 * until exit): the fd, or -1 and logged if another backup holds it.
 */
static int
ctl_backup_lock(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd;

	slash[slash == dir ? 1 : 0] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		log_error("%s: %s", dir, strerror(errno));
	else if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			log_error("%s: another crisisctl backup into this "
			          "directory is running",
			    dir);
		else
			log_error("%s: flock: %s", dir, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(dir);
	return fd;
}

/*
 * Name the backup's files for the signal handler, and remove those a
 * killed backup left (the directory's lock is ours, so no backup is
 * writing them): regular files of ours, as store_backup() creates them.
 * CTL_FAIL and logged if one is there that is not ours to remove.
 */
static int
ctl_backup_stale(const char *path)
{
	struct stat sb;
	int n;

	for (size_t i = 0; i < CTL_BACKUP_TMPS; i++) {
		n = snprintf(ctl_backup_tmp[i], sizeof(ctl_backup_tmp[i]),
		    "%s%s", path, ctl_backup_suffixes[i]);
		if (n < 0 || (size_t)n >= sizeof(ctl_backup_tmp[i])) {
			log_error("%s: path too long", path);
			return CTL_FAIL;
		}
	}
	for (size_t i = 0; i < CTL_BACKUP_TMPS; i++) {
		if (lstat(ctl_backup_tmp[i], &sb) == -1) {
			if (errno == ENOENT)
				continue;
			log_error("%s: %s", ctl_backup_tmp[i], strerror(errno));
			return CTL_FAIL;
		}
		if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
		    (sb.st_mode & 07077) != 0) {
			log_error("%s is in the way and not a backup's "
			          "leftover; remove it",
			    ctl_backup_tmp[i]);
			return CTL_FAIL;
		}
		if (unlink(ctl_backup_tmp[i]) == -1 && errno != ENOENT) {
			log_error("%s: %s", ctl_backup_tmp[i], strerror(errno));
			return CTL_FAIL;
		}
		log_info("removed %s, left by a backup that was killed",
		    ctl_backup_tmp[i]);
	}
	return CTL_OK;
}

/* path made absolute against the working directory; NULL and logged if not. */
static char *
ctl_backup_absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *abs;

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof cwd) == NULL) {
		log_error("working directory: %s", strerror(errno));
		return NULL;
	}
	xasprintf(&abs, "%s/%s", cwd, path);
	return abs;
}

/* Is path an existing directory, or the directory of a bare name? */
static bool
ctl_backup_dir_ok(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat sb;
	bool ok;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	ok = stat(slash != NULL ? dir : ".", &sb) == 0 && S_ISDIR(sb.st_mode);
	free(dir);
	return ok;
}

/*
 * Refuse at once what store_backup() would refuse for a plain reason:
 * FILE exists (without --force), is not a regular file, is the database,
 * or its directory is missing.
 */
static int
ctl_backup_precheck(const char *path, const char *db, bool force)
{
	struct stat sb, dbsb;

	if (lstat(path, &sb) == 0) {
		if (!force) {
			log_error("%s exists; use --force to replace it", path);
			return CTL_FAIL;
		}
		if (!S_ISREG(sb.st_mode)) {
			log_error("%s is not a regular file", path);
			return CTL_FAIL;
		}
		if (stat(db, &dbsb) == 0 && sb.st_dev == dbsb.st_dev &&
		    sb.st_ino == dbsb.st_ino) {
			log_error("%s is the database itself", path);
			return CTL_FAIL;
		}
	} else if (errno != ENOENT) {
		log_error("%s: %s", path, strerror(errno));
		return CTL_FAIL;
	}
	if (!ctl_backup_dir_ok(path)) {
		log_error("%s: no such directory", path);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* crisisctl backup FILE [--force]. */
int
ctl_backup(struct ctl *ctl)
{
	bool force = ctl_opt(ctl, "force") != NULL;
	const char *db = ctl->conf->database;
	char *path;
	int64_t bytes = 0;
	json_t *detail;
	int rc, lock;

	if (*ctl->pos[0] == '\0')
		return ctl_usage_error(ctl, "FILE must not be empty");
	if (store_shared(ctl->store)) {
		log_error("backup: the database is PostgreSQL; back it up with "
		          "the server's tools (pg_dump, pg_basebackup)");
		return CTL_FAIL;
	}
	if ((path = ctl_backup_absolute(ctl->pos[0])) == NULL)
		return CTL_FAIL;
	if ((rc = ctl_backup_precheck(path, db, force)) != CTL_OK) {
		free(path);
		return rc;
	}
	if ((lock = ctl_backup_lock(path)) == -1) {
		free(path);
		return CTL_FAIL;
	}
	if (ctl_backup_stale(path) != CTL_OK) {
		close(lock);
		free(path);
		return CTL_FAIL;
	}
	detail = json_pack("{s:s, s:b}", "database", db, "force", force);
	if ((rc = ctl_audit_read(ctl, "backup", path, detail)) != CTL_OK) {
		close(lock);
		free(path);
		return rc;
	}
	ctl_backup_tmp_set = 1;
	ctl_backup_catch(true);
	rc = store_backup(ctl->store, path, force, &bytes);
	ctl_backup_catch(false);
	ctl_backup_tmp_set = 0;
	close(lock);
	if (rc != STORE_OK) {
		log_error("backup: %s", store_error(ctl->store));
		free(path);
		return CTL_FAIL;
	}
	printf("backed up %s to %s: %lld bytes, integrity_check ok\n", db, path,
	    (long long)bytes);
	free(path);
	return CTL_OK;
}
