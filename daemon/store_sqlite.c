/*
 * store_sqlite.c: the embedded SQLite store's own part: opening the file,
 * its connection settings (WAL, synchronous, foreign keys, the busy
 * handler), its schema migrations (user_version) and its integrity check.
 * Everything else runs through db.h and is the same on PostgreSQL.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "store_schema.h"
#include "util.h"

_Static_assert(nitems(store_migrations) == STORE_SCHEMA_VERSION,
    "one migration per schema version");

/*
 * How long a write waits for another process's write lock: crisisctl
 * waits out the daemon's short batches; the daemon's event loop never
 * waits long (CONTRACT §5), as every timer and connection waits with it.
 * A batch that cannot get the lock in time fails, and is retried.
 */
#define STORE_BUSY_TIMEOUT_MS 5000

/*
 * Without the checkpointer thread (crisisctl, or an SQLite built without
 * threads), checkpoints run on the committing connection, inside
 * store_commit(), once the WAL holds this many pages: copying them into the
 * database file and syncing it costs far more than a commit, so an unlucky
 * commit pays for it.  4000 pages (16 MB at 4 KiB pages) makes that rare;
 * SQLite's default of 1000 would do it four times as often.  crisisd
 * (STORE_OPEN_DAEMON) turns this off and checkpoints from a thread of its
 * own: see store_checkpoint.c.
 */
#define STORE_WAL_AUTOCHECKPOINT_PAGES 4000
/* After a checkpoint, truncate a WAL that grew past this (64 MiB). */
#define STORE_WAL_LIMIT_BYTES 67108864

#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)

/* A connection setting: the PRAGMA that sets it and how to read it back. */
struct store_setting {
	const char *set;
	const char *get; /* NULL: the set statement's own result, if any */
	const char *expect; /* NULL: not checked */
};

static const struct store_setting store_settings[] = {
	{ "PRAGMA journal_mode = WAL", NULL, "wal" },
	{ "PRAGMA synchronous = FULL", "PRAGMA synchronous", "2" },
	{ "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys", "1" },
	{ "PRAGMA wal_autocheckpoint = " STORE_STR(
	      STORE_WAL_AUTOCHECKPOINT_PAGES),
	    NULL, NULL },
	{ "PRAGMA journal_size_limit = " STORE_STR(STORE_WAL_LIMIT_BYTES), NULL,
	    NULL },
};

/* Run sql once and copy its first column of its first row (or ""). */
static int
store_pragma(struct store *st, const char *sql, char *out, size_t size)
{
	struct db_stmt *s;
	const char *text;
	int rc;

	if (db_prepare(st->db, sql, false, &s) != DB_OK)
		return store_fail(st, sql);
	out[0] = '\0';
	while ((rc = db_step(s)) == DB_ROW) {
		text = (const char *)db_column_text(s, 0);
		if (out[0] == '\0' && text != NULL)
			strlcpy_(out, text, size);
	}
	if (rc != DB_DONE) {
		store_fail(st, sql);
		db_finalize(s);
		return STORE_ERROR;
	}
	db_finalize(s);
	return STORE_OK;
}

/* The schema version written in the file. */
static int
store_user_version(struct store *st, int *version)
{
	char buf[32];

	if (store_pragma(st, "PRAGMA user_version", buf, sizeof buf) != 0)
		return STORE_ERROR;
	*version = atoi(buf);
	return STORE_OK;
}

/*
 * The daemon's busy handler: look for the lock every millisecond, for at
 * most STORE_DAEMON_BUSY_TIMEOUT_MS.  SQLite's own handler backs off to
 * 25 ms and more between looks, and so can miss every short gap between
 * another writer's transactions (crisisctl's chunked import leaves 25 ms
 * gaps); a fine poll finds the first.
 */
static int
store_busy_poll(void *arg, int count)
{
	struct store *st = arg;
	int64_t now = util_monotonic_ms();
	struct timespec pause = { 0, 1000000 };

	if (count == 0)
		st->busy_since = now;
	if (now - st->busy_since >= st->busy_wait_ms)
		return 0;
	nanosleep(&pause, NULL);
	return 1;
}

/* Apply and verify the connection settings of store_settings[]. */
static int
store_configure(struct store *st, enum store_open_mode mode)
{
	const struct store_setting *set;
	char got[32];
	size_t i;

	sqlite3_extended_result_codes(db_sqlite_handle(st->db), 1);
	if ((mode == STORE_OPEN_DAEMON
	            ? sqlite3_busy_handler(db_sqlite_handle(st->db),
	                  store_busy_poll, st)
	            : sqlite3_busy_timeout(db_sqlite_handle(st->db),
	                  STORE_BUSY_TIMEOUT_MS)) != DB_OK)
		return store_fail(st, "busy timeout");
	for (i = 0; i < nitems(store_settings); i++) {
		set = &store_settings[i];
		if (store_pragma(st, set->set, got, sizeof got) != 0)
			return STORE_ERROR;
		if (set->get != NULL &&
		    store_pragma(st, set->get, got, sizeof got) != 0)
			return STORE_ERROR;
		if (set->expect != NULL && strcmp(got, set->expect) != 0) {
			store_set_error(st, "%s: got \"%s\", not \"%s\"",
			    set->set, got, set->expect);
			return STORE_ERROR;
		}
	}
	return STORE_OK;
}

/* Run the next migration the file lacks, in its own transaction. */
static int
store_migrate_one(struct store *st, int *version)
{
	char sql[64];
	int v;

	if (db_exec(st->db, "BEGIN IMMEDIATE") != DB_OK)
		return store_fail(st, "begin migration");
	/* Another process may have migrated while this one waited. */
	if (store_user_version(st, &v) != 0)
		goto fail;
	if (v >= STORE_SCHEMA_VERSION) {
		*version = v;
		db_exec(st->db, "ROLLBACK");
		return STORE_OK;
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
	if (db_exec(st->db, store_migrations[v]) != DB_OK ||
	    db_exec(st->db, sql) != DB_OK ||
	    db_exec(st->db, "COMMIT") != DB_OK) {
		store_set_error(st, "migration to schema version %d: %s", v + 1,
		    db_errmsg(st->db));
		goto fail;
	}
	*version = v + 1;
	return STORE_OK;
fail:
	db_rollback_open(st->db);
	return STORE_ERROR;
}

/* Check the file's schema version against this build, migrating if asked. */
static int
store_prepare_schema(struct store *st, enum store_open_mode mode)
{
	int version;

	if (store_user_version(st, &version) != 0)
		return STORE_ERROR;
	st->version_found = version;
	if (version > STORE_SCHEMA_VERSION) {
		store_set_error(st,
		    "schema version %d is newer than this "
		    "build's %d; run a newer crisisd",
		    version, STORE_SCHEMA_VERSION);
		return STORE_ERROR;
	}
	if (mode == STORE_OPEN_EXISTING) {
		if (version == STORE_SCHEMA_VERSION)
			return STORE_OK;
		if (version == 0)
			store_set_error(st,
			    "database is not initialised; run "
			    "crisisctl init");
		else
			store_set_error(st,
			    "schema version %d is older than "
			    "this build's %d; run crisisctl init to migrate",
			    version, STORE_SCHEMA_VERSION);
		return STORE_ERROR;
	}
	while (version < STORE_SCHEMA_VERSION)
		if (store_migrate_one(st, &version) != STORE_OK)
			return STORE_ERROR;
	return STORE_OK;
}

/*
 * Make sure the file exists: create it 0600 (migrate) or refuse (existing).
 *
 * An existing database is only looked at (access), never opened here: a
 * close() of any descriptor of the file drops every POSIX lock this
 * process holds on it, SQLite's included, and a daemon that opens a second
 * connection beside its first (the console's review) would lose its locks;
 * another process could then take itself for the last connection and
 * delete the WAL under the daemon.
 */
static int
store_create_file(const char *path, enum store_open_mode mode, char **cause)
{
	int fd;

	if (mode == STORE_OPEN_EXISTING) {
		if (access(path, R_OK | W_OK) == 0)
			return 0;
		if (errno == ENOENT)
			xasprintf(cause, "%s: no database; run crisisctl init",
			    path);
		else
			xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_CREAT,
	         S_IRUSR | S_IWUSR)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* PRAGMA quick_check and the schema version; -1 and *cause if not good. */
int
store_sqlite_check(struct store *st, char **cause)
{
	char result[STORE_ERROR_BYTES];
	int version;

	if (store_pragma(st, "PRAGMA quick_check", result, sizeof result) !=
	        0 ||
	    store_user_version(st, &version) != 0) {
		xasprintf(cause, "%s", st->error);
		return -1;
	}
	if (strcmp(result, "ok") != 0) {
		xasprintf(cause, "quick_check: %s", result);
		return -1;
	}
	if (version != STORE_SCHEMA_VERSION) {
		xasprintf(cause, "schema version %d, this build needs %d",
		    version, STORE_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/*
 * Open the SQLite file at path into st: 0, or -1 and *cause.  crisisd's
 * connection (STORE_OPEN_DAEMON) gets the checkpointer and the WAL's sync
 * thread.
 */
int
store_sqlite_open(struct store *st, const char *path, enum store_open_mode mode,
    char **cause)
{
	mode_t mask;
	int rc;

	if (store_create_file(path, mode, cause) != 0)
		return -1;
	/*
	 * SQLite creates the -wal and -shm files on first access; nobody but
	 * the owner may read them either.
	 */
	mask = umask(S_IRWXG | S_IRWXO);
	/*
	 * One thread uses this connection (the checkpoint thread has its
	 * own): SQLite's per-call mutex would only cost time.
	 */
	st->db = db_sqlite_open(path,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, &rc);
	if (rc != SQLITE_OK) {
		if (st->db != NULL)
			store_fail(st, "open");
		else
			store_set_error(st, "open: %s", sqlite3_errstr(rc));
	} else if (store_configure(st, mode) == STORE_OK &&
	    store_prepare_schema(st, mode) == STORE_OK &&
	    (mode != STORE_OPEN_DAEMON ||
	        (store_checkpoint_start(st, path) == STORE_OK &&
	            store_sync_start(st, path) == STORE_OK))) {
		umask(mask);
		return 0;
	}
	umask(mask);
	xasprintf(cause, "%s: %s", path, st->error);
	return -1;
}
