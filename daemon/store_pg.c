/*
 * store_pg.c: the store's PostgreSQL-only parts: session settings, the
 * baseline schema, and the lease and fence of high availability
 * (CONTRACT §10).
 *
 * The fence.  The active node takes the lease row in a new epoch and
 * begins every write transaction by locking that row FOR KEY SHARE where
 * the epoch is still its own.  A node taking over first locks the row FOR
 * UPDATE, which waits for every such transaction in flight; so once the
 * epoch has moved, no write of the old epoch can commit, and the old
 * active's next transaction finds no row and steps down.  Renewals update
 * the row's other columns, which FOR KEY SHARE does not block.
 *
 * Durability.  The daemon commits asynchronously; each write transaction
 * records its batch's sync ticket in crisisd_commits.  The sync thread's
 * renewal commits synchronously, which flushes the WAL up to it and with
 * it every commit before it, and reads the ticket recorded: those batches
 * are durable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "db_pg.h"
#include "store.h"
#include "store_pg.h"
#include "store_pg_schema.h"
#include "util.h"

_Static_assert(STORE_PG_BASELINE_VERSION == STORE_SCHEMA_VERSION,
    "store_pg_schema.h lags this build's schema version");

/* pg_advisory_xact_lock's key for creating the schema ("cris"). */
#define STORE_PG_INIT_LOCK 0x63726973

/* A server time column in ms since the epoch. */
#define STORE_PG_MS(col)                                                       \
	"CAST(floor(extract(epoch FROM " col ") * 1000) AS BIGINT)"

static const char store_pg_daemon_session[] =
    /* Durable by the sync thread's synchronous commit, not each commit. */
    "SET synchronous_commit = off;"
    /* The event loop waits on no lock longer than this (CONTRACT §5). */
    "SET lock_timeout = '100ms';"
    /*
     * A node cut off inside a transaction holds the lease row's lock,
     * which a taker waits for: the server ends such a session soon.
     */
    "SET idle_in_transaction_session_timeout = '1s';";

static const char store_pg_ctl_session[] = "SET lock_timeout = '5s';";

static const char
    store_pg_lease_columns[] = "SELECT coalesce(node, ''), epoch, " STORE_PG_MS("acquired_at") ", " STORE_PG_MS(
        "expires_at") ", " STORE_PG_MS("renewed_at") ", " STORE_PG_MS("clock_"
                                                                      "timestam"
                                                                      "p()") " "
                                                                             "F"
                                                                             "R"
                                                                             "O"
                                                                             "M"
                                                                             " "
                                                                             "c"
                                                                             "r"
                                                                             "i"
                                                                             "s"
                                                                             "i"
                                                                             "s"
                                                                             "d"
                                                                             "_"
                                                                             "l"
                                                                             "e"
                                                                             "a"
                                                                             "s"
                                                                             "e"
                                                                             " "
                                                                             "W"
                                                                             "H"
                                                                             "E"
                                                                             "R"
                                                                             "E"
                                                                             " "
                                                                             "i"
                                                                             "d"
                                                                             " "
                                                                             "="
                                                                             " "
                                                                             "1";

/* Apply a connection's session settings (after every connect). */
static int
store_pg_session(struct db *db, void *arg)
{
	const char *sql = arg;

	return db_exec(db, sql) == DB_OK ? 0 : -1;
}

/* Connect with the daemon's or crisisctl's settings. */
struct db *
store_pg_connect(const char *uri, bool daemon, char **cause)
{
	struct db *db = db_pg_open(uri, cause);

	if (db == NULL)
		return NULL;
	if (!daemon)
		db_pg_set_timeout(db, STORE_PG_CTL_TIMEOUT_MS);
	db_pg_on_connect(db, store_pg_session,
	    (void *)(daemon ? store_pg_daemon_session : store_pg_ctl_session));
	if (db_fault(db) != DB_FAULT_NONE) {
		xasprintf(cause, "session settings: %s", db_errmsg(db));
		db_close(db);
		return NULL;
	}
	return db;
}

/* Run a query of one integer, or -1 with err filled. */
static int
store_pg_int(struct db *db, const char *sql, int64_t *v, char *err,
    size_t errsize)
{
	struct db_stmt *s;
	int rc;

	if (db_prepare(db, sql, false, &s) != DB_OK) {
		snprintf(err, errsize, "%s", db_errmsg(db));
		return -1;
	}
	rc = db_step(s);
	*v = rc == DB_ROW ? db_column_int64(s, 0) : 0;
	if (rc != DB_ROW && rc != DB_DONE)
		snprintf(err, errsize, "%s", db_errmsg(db));
	db_finalize(s);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* The schema version in the database, 0 if it has none. */
static int
store_pg_version(struct db *db, int *version, char *err, size_t errsize)
{
	int64_t v;

	if (store_pg_int(db, "SELECT to_regclass('crisisd_schema') IS NOT NULL",
	        &v, err, errsize) != 0)
		return -1;
	if (v != 0 &&
	    store_pg_int(db,
	        "SELECT coalesce(max(version), 0) FROM crisisd_schema", &v, err,
	        errsize) != 0)
		return -1;
	*version = (int)v;
	return 0;
}

/* Say what is wrong with a version this build cannot serve; 0 if none. */
static int
store_pg_version_ok(int version, bool migrate, char *err, size_t errsize)
{
	if (version > STORE_SCHEMA_VERSION)
		snprintf(err, errsize,
		    "schema version %d is newer than this build's %d; run a "
		    "newer crisisd",
		    version, STORE_SCHEMA_VERSION);
	else if (version == 0 && !migrate)
		snprintf(err, errsize,
		    "database is not initialised; run crisisctl init");
	else if (version != 0 && version < STORE_SCHEMA_VERSION)
		/* No released PostgreSQL schema predates the baseline. */
		snprintf(err, errsize,
		    "schema version %d is older than this build's %d", version,
		    STORE_SCHEMA_VERSION);
	else
		return 0;
	return -1;
}

/* Create the baseline, inside the transaction the caller began. */
static int
store_pg_create(struct db *db, char *err, size_t errsize)
{
	if (db_exec(db, store_pg_baseline) != DB_OK) {
		snprintf(err, errsize, "create schema version %d: %s",
		    STORE_SCHEMA_VERSION, db_errmsg(db));
		return -1;
	}
	return 0;
}

/* Check the schema version, creating the baseline if asked (store_pg.h). */
int
store_pg_schema(struct db *db, bool migrate, int *version_found, char *err,
    size_t errsize)
{
	char lock[96];
	int version = 0;

	*version_found = 0;
	if (!migrate) {
		if (store_pg_version(db, &version, err, errsize) != 0)
			return -1;
		*version_found = version;
		return store_pg_version_ok(version, false, err, errsize);
	}
	/* Two crisisctl init at once: the second waits, then finds it. */
	snprintf(lock, sizeof lock, "BEGIN; SELECT pg_advisory_xact_lock(%d)",
	    STORE_PG_INIT_LOCK);
	if (db_exec(db, lock) != DB_OK) {
		snprintf(err, errsize, "begin: %s", db_errmsg(db));
		goto fail;
	}
	if (store_pg_version(db, &version, err, errsize) != 0)
		goto fail;
	*version_found = version;
	if (store_pg_version_ok(version, true, err, errsize) != 0)
		goto fail;
	if (version == 0 && store_pg_create(db, err, errsize) != 0)
		goto fail;
	if (db_exec(db, "COMMIT") != DB_OK) {
		snprintf(err, errsize, "commit schema: %s", db_errmsg(db));
		goto fail;
	}
	return 0;
fail:
	db_rollback_open(db);
	return -1;
}

/* Read the lease's row from a statement of store_pg_lease_columns. */
static void
store_pg_lease_row(struct db_stmt *s, struct store_lease *out)
{
	const char *node = db_column_text(s, 0);

	snprintf(out->node, sizeof out->node, "%s", node != NULL ? node : "");
	out->epoch = db_column_int64(s, 1);
	out->acquired_at = db_column_int64(s, 2);
	out->expires_at = db_column_int64(s, 3);
	out->renewed_at = db_column_int64(s, 4);
	out->now = db_column_int64(s, 5);
}

/* Read the lease (store_pg.h). */
int
store_pg_lease_read(struct db *db, struct store_lease *out)
{
	struct db_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	if (db_prepare(db, store_pg_lease_columns, false, &s) != DB_OK)
		return -1;
	rc = db_step(s);
	if (rc == DB_ROW)
		store_pg_lease_row(s, out);
	db_finalize(s);
	return rc == DB_ROW ? 0 : -1;
}

/*
 * Move the lease to node in a new epoch if it has expired, or if node
 * itself holds it (this node restarted: its old process is gone, or is
 * fenced by the new epoch all the same), in the transaction that holds the
 * row FOR UPDATE; one clock reading for all.  Node names must be unique.
 * DB_ROW with *epoch, DB_DONE if it is held, DB_ERROR.
 */
static int
store_pg_lease_take(struct db *db, const char *node, int lease_ms,
    int64_t *epoch)
{
	struct db_stmt *s;
	int rc;

	if (db_prepare(db,
	        "WITH t AS (SELECT clock_timestamp() AS now)"
	        " UPDATE crisisd_lease SET epoch = epoch + 1, node = ?1,"
	        " acquired_at = t.now, renewed_at = t.now,"
	        " expires_at = t.now + CAST(?2 AS BIGINT) * interval '1 ms'"
	        " FROM t WHERE id = 1"
	        " AND (expires_at IS NULL OR expires_at < t.now OR node = ?1)"
	        " RETURNING epoch",
	        false, &s) != DB_OK)
		return DB_ERROR;
	db_bind_text(s, 1, node);
	db_bind_int64(s, 2, lease_ms);
	rc = db_step(s);
	if (rc == DB_ROW)
		*epoch = db_column_int64(s, 0);
	db_finalize(s);
	return rc;
}

/* Open the epoch's count of committed batches at 0. */
static int
store_pg_commits_open(struct db *db, int64_t epoch)
{
	struct db_stmt *s;
	int rc;

	if (db_prepare(db,
	        "INSERT INTO crisisd_commits(epoch, n) VALUES (?1, 0)", false,
	        &s) != DB_OK)
		return -1;
	db_bind_int64(s, 1, epoch);
	rc = db_step(s);
	db_finalize(s);
	return rc == DB_DONE ? 0 : -1;
}

/* Take the lease if it has expired (store_pg.h). */
int
store_pg_lease_try(struct db *db, const char *node, int lease_ms,
    int64_t *epoch_out, struct store_lease *holder)
{
	int64_t epoch = 0, one;
	char err[8];
	int rc;

	/*
	 * The lock first, in a statement of its own: the clock is read after
	 * the wait for the old active's transactions, not before.
	 */
	if (db_exec(db, "BEGIN; SET LOCAL synchronous_commit = on") != DB_OK ||
	    store_pg_int(db,
	        "SELECT 1 FROM crisisd_lease WHERE id = 1 FOR UPDATE", &one,
	        err, sizeof err) != 0)
		goto fail;
	rc = store_pg_lease_take(db, node, lease_ms, &epoch);
	if (rc == DB_DONE) {
		if (store_pg_lease_read(db, holder) != 0)
			goto fail;
		db_exec(db, "ROLLBACK");
		return 1;
	}
	if (rc != DB_ROW || store_pg_commits_open(db, epoch) != 0 ||
	    db_exec(db, "COMMIT") != DB_OK)
		goto fail;
	*epoch_out = epoch;
	return 0;
fail:
	db_rollback_open(db);
	return -1;
}

/* Let the lease of epoch expire now (store_pg.h). */
int
store_pg_lease_release(struct db *db, int64_t epoch)
{
	struct db_stmt *s;
	int rc;

	if (db_prepare(db,
	        "UPDATE crisisd_lease SET expires_at = clock_timestamp()"
	        " WHERE id = 1 AND epoch = CAST(?1 AS BIGINT)",
	        false, &s) != DB_OK)
		return -1;
	db_bind_int64(s, 1, epoch);
	rc = db_step(s);
	db_finalize(s);
	if (rc != DB_DONE)
		return -1;
	return db_changes(db) == 1 ? 0 : 1;
}

/* Begin a write transaction under the fence (store_pg.h). */
int
store_pg_begin_fenced(struct db *db, int64_t epoch, uint64_t next_ticket)
{
	char sql[512];

	/*
	 * The UPDATE checks the epoch again: it changes no row when the
	 * SELECT found none, and the row's lock keeps the epoch in between.
	 */
	snprintf(sql, sizeof sql,
	    "BEGIN;"
	    " SELECT 1 FROM crisisd_lease WHERE id = 1 AND epoch = %" PRId64
	    " FOR KEY SHARE;"
	    " UPDATE crisisd_commits c SET n = %" PRIu64
	    " FROM crisisd_lease l WHERE c.epoch = %" PRId64
	    " AND l.id = 1 AND l.epoch = %" PRId64,
	    epoch, next_ticket, epoch, epoch);
	if (db_exec(db, sql) != DB_OK)
		return -1;
	if (db_changes(db) == 1)
		return 0;
	db_exec(db, "ROLLBACK");
	return 1;
}

/* Renew the lease and read what is durable (store_pg.h). */
int
store_pg_sync_renew(struct db *db, int64_t epoch, const char *node,
    int lease_ms, uint64_t *durable)
{
	struct db_stmt *s;
	int rc;

	if (db_prepare(db,
	        "WITH t AS (SELECT clock_timestamp() AS now)"
	        " UPDATE crisisd_lease SET renewed_at = t.now,"
	        " expires_at = t.now + CAST(?3 AS BIGINT) * interval '1 ms'"
	        " FROM t WHERE id = 1 AND epoch = CAST(?1 AS BIGINT)"
	        " AND node = ?2"
	        " RETURNING (SELECT n FROM crisisd_commits"
	        " WHERE epoch = CAST(?1 AS BIGINT))",
	        true, &s) != DB_OK)
		return -1;
	db_bind_int64(s, 1, epoch);
	db_bind_text(s, 2, node);
	db_bind_int64(s, 3, lease_ms);
	rc = db_step(s);
	if (rc == DB_ROW)
		*durable = (uint64_t)db_column_int64(s, 0);
	db_finalize(s);
	if (rc == DB_ROW)
		return 0;
	return rc == DB_DONE ? 1 : -1;
}
