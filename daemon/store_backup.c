/*
 * store_backup.c: a consistent copy of the database while crisisd runs
 * (crisisctl backup), through SQLite's online backup API.
 *
 * The copy is taken in one backup step.  In WAL mode that step is one read
 * transaction: it sees a single snapshot and never blocks the daemon's
 * writes.  A copy made in several steps would restart from the first page
 * whenever another process wrote in between, which a busy daemon does
 * every few milliseconds, so it might never finish.
 *
 * The copy goes to "FILE.tmp", created 0600 (it holds PHI) and exclusively,
 * and becomes FILE only once it is whole, checked and on disk: a failed or
 * interrupted backup never leaves a FILE that looks good.  It is switched
 * from WAL to a rollback journal so that it is one self-contained file;
 * crisisd switches a restored copy back to WAL when it opens it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* How long the backup step may keep meeting a lock before giving up. */
#define STORE_BACKUP_BUSY_MS 10000
/* The wait between two tries of a locked backup step. */
#define STORE_BACKUP_RETRY_MS 50
/* Longest integrity_check message kept for the error. */
#define STORE_BACKUP_CHECK_BYTES 256

/* Is path the database file st has open? */
static bool
store_backup_is_database(struct store *st, const char *path)
{
	const char *db = sqlite3_db_filename(db_sqlite_handle(st->db), "main");
	struct stat a, b;

	if (db == NULL || *db == '\0' || stat(db, &a) == -1 ||
	    stat(path, &b) == -1)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Refuse a path that is the database, or that exists when not replacing. */
static int
store_backup_target_ok(struct store *st, const char *path, bool replace)
{
	struct stat sb;

	if (store_backup_is_database(st, path)) {
		store_set_error(st, "%s is the database itself", path);
		return STORE_CONFLICT;
	}
	if (lstat(path, &sb) == 0) {
		if (replace)
			return STORE_OK;
		store_set_error(st, "%s exists; use --force to replace it",
		    path);
		return STORE_CONFLICT;
	}
	if (errno != ENOENT) {
		store_set_error(st, "%s: %s", path, strerror(errno));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Create tmp empty and mode 0600, removing a stale one if replacing. */
static int
store_backup_create(struct store *st, const char *tmp, bool replace)
{
	int fd;

	if (replace && unlink(tmp) == -1 && errno != ENOENT) {
		store_set_error(st, "%s: %s", tmp, strerror(errno));
		return STORE_ERROR;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    S_IRUSR | S_IWUSR);
	if (fd == -1 && errno == EEXIST) {
		store_set_error(st,
		    "%s exists: another backup is running, or "
		    "one failed; remove it or use --force",
		    tmp);
		return STORE_CONFLICT;
	}
	if (fd == -1) {
		store_set_error(st, "%s: %s", tmp, strerror(errno));
		return STORE_ERROR;
	}
	close(fd);
	return STORE_OK;
}

/* Copy every page of st's database into dst in one step. */
static int
store_backup_copy(struct store *st, sqlite3 *dst, const char *tmp)
{
	sqlite3_backup *b;
	int rc, waited_ms = 0;

	if ((b = sqlite3_backup_init(dst, "main", db_sqlite_handle(st->db),
	         "main")) == NULL) {
		store_set_error(st, "%s: backup: %s", tmp, sqlite3_errmsg(dst));
		return STORE_ERROR;
	}
	while (((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	           rc == SQLITE_LOCKED) &&
	    waited_ms < STORE_BACKUP_BUSY_MS) {
		sqlite3_sleep(STORE_BACKUP_RETRY_MS);
		waited_ms += STORE_BACKUP_RETRY_MS;
	}
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		store_set_error(st, "%s: backup: %s", tmp,
		    rc != SQLITE_DONE ? sqlite3_errstr(rc)
		                      : sqlite3_errmsg(dst));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * Run a PRAGMA on the copy; its first row's first column goes to out and
 * the number of rows to *nrows.
 */
static int
store_backup_pragma(struct store *st, sqlite3 *dst, const char *sql, char *out,
    size_t size, int *nrows)
{
	sqlite3_stmt *s;
	const char *text;
	int rc;

	if (sqlite3_prepare_v2(dst, sql, -1, &s, NULL) != SQLITE_OK) {
		store_set_error(st, "copy: %s: %s", sql, sqlite3_errmsg(dst));
		return STORE_ERROR;
	}
	out[0] = '\0';
	*nrows = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(s, 0);
		if ((*nrows)++ == 0 && text != NULL)
			strlcpy_(out, text, size);
	}
	if (rc != SQLITE_DONE) {
		store_set_error(st, "copy: %s: %s", sql, sqlite3_errmsg(dst));
		sqlite3_finalize(s);
		return STORE_ERROR;
	}
	sqlite3_finalize(s);
	return STORE_OK;
}

/* Make the copy one self-contained file and check every page of it. */
static int
store_backup_check(struct store *st, sqlite3 *dst)
{
	char got[STORE_BACKUP_CHECK_BYTES];
	int nrows;

	if (store_backup_pragma(st, dst, "PRAGMA journal_mode = DELETE", got,
	        sizeof got, &nrows) != STORE_OK)
		return STORE_ERROR;
	if (strcmp(got, "delete") != 0) {
		store_set_error(st,
		    "copy: journal_mode is \"%s\", not "
		    "\"delete\"",
		    got);
		return STORE_ERROR;
	}
	if (store_backup_pragma(st, dst, "PRAGMA integrity_check", got,
	        sizeof got, &nrows) != STORE_OK)
		return STORE_ERROR;
	if (nrows != 1 || strcmp(got, "ok") != 0) {
		store_set_error(st, "copy: integrity_check: %s", got);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Copy into tmp (already created) and check the copy. */
static int
store_backup_write(struct store *st, const char *tmp)
{
	sqlite3 *dst = NULL;
	int rc;

	rc = sqlite3_open_v2(tmp, &dst,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		store_set_error(st, "%s: %s", tmp,
		    dst != NULL ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		sqlite3_close(dst);
		return STORE_ERROR;
	}
	if (store_backup_copy(st, dst, tmp) != STORE_OK ||
	    store_backup_check(st, dst) != STORE_OK) {
		sqlite3_close(dst);
		return STORE_ERROR;
	}
	if (sqlite3_close(dst) != SQLITE_OK) {
		store_set_error(st, "%s: close: %s", tmp, sqlite3_errmsg(dst));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* fsync path (a file or a directory); its size into *bytes if not NULL. */
static int
store_backup_sync(struct store *st, const char *path, int flags, int64_t *bytes)
{
	struct stat sb;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | flags)) == -1 ||
	    fsync(fd) == -1 || fstat(fd, &sb) == -1) {
		store_set_error(st, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return STORE_ERROR;
	}
	close(fd);
	if (bytes != NULL)
		*bytes = (int64_t)sb.st_size;
	return STORE_OK;
}

/*
 * Give tmp its final name: rename over path when replacing, else a link,
 * which fails if path appeared meanwhile.  Then sync the directory.
 */
static int
store_backup_publish(struct store *st, const char *tmp, const char *path,
    bool replace)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int rc = STORE_OK;

	if (replace ? rename(tmp, path) == -1 : link(tmp, path) == -1) {
		if (errno == EEXIST) {
			store_set_error(st,
			    "%s exists; use --force to replace "
			    "it",
			    path);
			rc = STORE_CONFLICT;
		} else {
			store_set_error(st, "%s: %s", path, strerror(errno));
			rc = STORE_ERROR;
		}
	} else if (!replace && unlink(tmp) == -1) {
		store_set_error(st, "%s: %s", tmp, strerror(errno));
		rc = STORE_ERROR;
	}
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	if (rc == STORE_OK)
		rc = store_backup_sync(st, slash != NULL ? dir : ".",
		    O_DIRECTORY, NULL);
	free(dir);
	return rc;
}

/* A checked copy of the database at path, made while the daemon runs. */
int
store_backup(struct store *st, const char *path, bool replace, int64_t *bytes)
{
	char *tmp;
	int rc;

	if (store_shared(st)) {
		store_set_error(st,
		    "the database is PostgreSQL: back it up with the "
		    "server's tools (pg_dump, pg_basebackup)");
		return STORE_ERROR;
	}
	if (st->batch) {
		store_set_error(st, "backup: commit the open batch first");
		return STORE_ERROR;
	}
	if ((rc = store_backup_target_ok(st, path, replace)) != STORE_OK)
		return rc;
	xasprintf(&tmp, "%s.tmp", path);
	if ((rc = store_backup_create(st, tmp, replace)) != STORE_OK) {
		free(tmp);
		return rc;
	}
	if ((rc = store_backup_write(st, tmp)) == STORE_OK &&
	    (rc = store_backup_sync(st, tmp, 0, bytes)) == STORE_OK)
		rc = store_backup_publish(st, tmp, path, replace);
	if (rc != STORE_OK)
		unlink(tmp);
	free(tmp);
	return rc;
}
