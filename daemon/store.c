/*
 * store.c: the SQLite connection, its schema migrations, the cache of
 * prepared statements and batches (group commit).
 *
 * A batch is one SQLite transaction.  The first write of a batch opens it
 * with BEGIN IMMEDIATE, so the write lock is taken up front and no write in
 * the batch can fail later with SQLITE_BUSY; store_commit() ends it.  The
 * daemon commits once per event-loop turn rather than per write.
 *
 * crisisctl's connection commits with synchronous=FULL in WAL mode: each
 * commit fsyncs the WAL before it returns.  crisisd's (STORE_OPEN_DAEMON)
 * commits with synchronous=NORMAL, which writes the WAL without syncing
 * it, and takes a ticket for each commit that wrote; a thread of its own
 * (store_sync.c) fdatasyncs the WAL, and nothing that depends on the
 * commit is sent until its ticket is done (outbox.c).  NORMAL plus that
 * sync before any dependent line leaves is the same promise as FULL, with
 * the fsync off the event loop.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_pg.h"
#include "util.h"

/* The SQL of every cached statement, indexed by enum store_stmt_id. */
static const char *const store_sql[STORE_STMT_COUNT] = {
	[STORE_STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STORE_STMT_COMMIT] = "COMMIT",
	[STORE_STMT_ROLLBACK] = "ROLLBACK",
	[STORE_STMT_SAVEPOINT] = "SAVEPOINT store_sp",
	[STORE_STMT_RELEASE] = "RELEASE store_sp",
	[STORE_STMT_ROLLBACK_TO] = "ROLLBACK TO store_sp",
	[STORE_STMT_READ_BEGIN] = "BEGIN",

	[STORE_STMT_PRINCIPAL_INSERT] =
	    "INSERT INTO principals(id, role, token_hash, created_at)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[STORE_STMT_PRINCIPAL_GET] =
	    "SELECT role, token_hash, disabled_at IS NOT NULL FROM principals"
	    " WHERE id = ?1",
	[STORE_STMT_PRINCIPAL_DISABLE] =
	    "UPDATE principals SET disabled_at = CASE WHEN ?2"
	    " THEN coalesce(disabled_at, ?3) ELSE NULL END WHERE id = ?1",
	[STORE_STMT_TOKEN_SET] =
	    "UPDATE principals SET token_hash = ?2 WHERE id = ?1",
	[STORE_STMT_CLINICIAN_INSERT] =
	    "INSERT INTO clinicians(id, name, languages, skills, endpoint)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[STORE_STMT_PATIENT_UPSERT] =
	    "INSERT INTO patients(id, primary_clinician, program)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET"
	    " primary_clinician = excluded.primary_clinician,"
	    " program = excluded.program",
	[STORE_STMT_PATIENT_PRIMARY] =
	    "SELECT primary_clinician FROM patients WHERE id = ?1",
	[STORE_STMT_SHIFT_INSERT] =
	    "INSERT INTO shifts(clinician, tier, start_at, end_at, import)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[STORE_STMT_ROSTER_VERSION] =
	    "SELECT value FROM meta WHERE key = 'roster_version'",
	[STORE_STMT_ROSTER_CLINICIANS] =
	    "SELECT id, name, languages, skills, endpoint FROM clinicians"
	    " ORDER BY id",
	[STORE_STMT_ROSTER_SHIFTS] =
	    "SELECT clinician, tier, start_at, end_at FROM shifts"
	    " WHERE " STORE_SHIFT_VISIBLE " AND end_at > ?1 AND start_at < ?2"
	    " ORDER BY clinician, start_at, id",
	[STORE_STMT_SHIFT_CLINICIAN] = "SELECT 1 FROM clinicians WHERE id = ?1",
	[STORE_STMT_SHIFT_IMPORT_BEGIN] =
	    "INSERT INTO roster_imports(source, pid, shift_count, started_at)"
	    " VALUES (?1, ?2, ?3, ?4) RETURNING id",
	[STORE_STMT_SHIFT_IMPORT_DONE] =
	    "UPDATE roster_imports SET done_at = ?2"
	    " WHERE id = ?1 AND done_at IS NULL AND dropped_at IS NULL",
	[STORE_STMT_SHIFT_IMPORT_CLAIM] =
	    "UPDATE roster_imports SET dropped_at = ?2"
	    " WHERE id = ?1 AND done_at IS NULL AND dropped_at IS NULL",
	/* Only a dropped import, which can never be done, loses shifts. */
	[STORE_STMT_SHIFT_IMPORT_REMOVE] =
	    "DELETE FROM shifts WHERE id IN"
	    " (SELECT id FROM shifts WHERE import = ?1 LIMIT ?2)"
	    " AND EXISTS (SELECT 1 FROM roster_imports"
	    " WHERE id = ?1 AND dropped_at IS NOT NULL)",
	[STORE_STMT_SHIFT_IMPORT_FORGET] =
	    "DELETE FROM roster_imports WHERE id = ?1"
	    " AND dropped_at IS NOT NULL"
	    " AND NOT EXISTS (SELECT 1 FROM shifts WHERE import = ?1)",
	[STORE_STMT_SHIFT_IMPORT_UNFINISHED] =
	    "SELECT id, pid, started_at, dropped_at IS NOT NULL"
	    " FROM roster_imports WHERE done_at IS NULL ORDER BY id",

	[STORE_STMT_CONTACT_INSERT] =
	    "INSERT INTO contacts(id, intake, ref, channel, risk, caller,"
	    " patient, program, language, needs, state, clinician, route,"
	    " queued_at, deadline_at, assigned_at, closed_at, policy_version)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18)",
	/* The third column: are the contact fields the same as ?3..?9? */
	[STORE_STMT_CONTACT_BY_REF] =
	    "SELECT id, channel IS NOT DISTINCT FROM ?3"
	    " AND risk IS NOT DISTINCT FROM ?4"
	    " AND caller IS NOT DISTINCT FROM ?5"
	    " AND patient IS NOT DISTINCT FROM ?6"
	    " AND program IS NOT DISTINCT FROM ?7"
	    " AND language IS NOT DISTINCT FROM ?8"
	    " AND needs IS NOT DISTINCT FROM ?9"
	    " FROM contacts WHERE intake = ?1 AND ref = ?2",
	[STORE_STMT_CONTACT_STATE] =
	    "SELECT state, intake FROM contacts WHERE id = ?1",
	[STORE_STMT_CONTACT_SET_STATE] =
	    "UPDATE contacts SET state = ?2,"
	    " clinician = coalesce(?3, clinician),"
	    " assigned_at = coalesce(?4, assigned_at),"
	    " closed_at = coalesce(?5, closed_at),"
	    " answered_tier = coalesce(?6, answered_tier),"
	    " accept_ms = coalesce(?7, accept_ms) WHERE id = ?1",
	[STORE_STMT_CONTACT_SET_ROUTE] =
	    "UPDATE contacts SET tier = ?2, route = ?3 WHERE id = ?1",
	[STORE_STMT_CONTACT_COMPLETE] =
	    "UPDATE contacts SET state = 'completed', disposition = ?2,"
	    " notes = ?3, closed_at = ?4 WHERE id = ?1",
	/* Routed, but the caller could not be connected: routed again. */
	[STORE_STMT_CONTACT_REOPEN] =
	    "UPDATE contacts SET state = 'open', clinician = NULL,"
	    " assigned_at = NULL, answered_tier = NULL, accept_ms = NULL,"
	    " ended_at = NULL WHERE id = ?1 AND state = 'assigned'",
	/* The first "ended" counts: a gateway may say it again. */
	[STORE_STMT_CONTACT_ENDED] =
	    "UPDATE contacts SET ended_at = coalesce(ended_at, ?2)"
	    " WHERE id = ?1",
	[STORE_STMT_EVENT_EXISTS] =
	    "SELECT 1 FROM contact_events WHERE contact = ?1 AND event = ?2"
	    " LIMIT 1",
	[STORE_STMT_CONTACT_OFFERS_DROP] =
	    "DELETE FROM offers WHERE contact = ?1",
	[STORE_STMT_EVENT_INSERT] =
	    "INSERT INTO contact_events(contact, at, event, tier, clinician,"
	    " detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STORE_STMT_OFFER_UPSERT] =
	    "INSERT INTO offers(contact, clinician, tier, offered_at,"
	    " expires_at) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT(contact, clinician) DO UPDATE SET"
	    " tier = excluded.tier, offered_at = excluded.offered_at,"
	    " expires_at = excluded.expires_at",
	[STORE_STMT_OFFER_DELETE] =
	    "DELETE FROM offers WHERE contact = ?1 AND clinician = ?2",
	[STORE_STMT_PUSH_INSERT] =
	    "INSERT INTO pushes(intake, contact, message) VALUES (?1, ?2, ?3)"
	    " RETURNING seq",
	[STORE_STMT_PUSH_ACK] =
	    "UPDATE pushes SET acked_at = ?3"
	    " WHERE contact = ?2 AND intake = ?1 AND acked_at IS NULL",
	[STORE_STMT_PUSH_PENDING] =
	    "SELECT seq, message FROM pushes"
	    " WHERE intake = ?1 AND acked_at IS NULL AND seq > ?2"
	    " ORDER BY seq LIMIT ?3",
	[STORE_STMT_PUSH_UNACKED] =
	    "SELECT seq, message FROM pushes"
	    " WHERE contact = ?1 AND intake = ?2 AND acked_at IS NULL"
	    " ORDER BY seq",
	[STORE_STMT_ALIVE] =
	    "INSERT INTO meta(key, value) VALUES ('daemon_alive_at', ?1)"
	    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[STORE_STMT_RESUME_CONTACTS] =
	    "SELECT id, intake, ref, channel, risk, caller, patient, program,"
	    " language, needs, state, clinician, route, queued_at,"
	    " deadline_at, assigned_at, closed_at, policy_version,"
	    " answered_tier"
	    /*
	     * Named: with statistics from an ANALYZE the planner would rather
	     * scan contacts_stats, all of history, at every start.
	     */
	    " FROM contacts INDEXED BY contacts_state_queued"
	    " WHERE state IN ('open', 'assigned')"
	    " ORDER BY queued_at, rowid",
	[STORE_STMT_RESUME_OFFERS] =
	    "SELECT clinician, tier, offered_at, expires_at FROM offers"
	    " WHERE contact = ?1 ORDER BY offered_at, clinician",
	/*
	 * A contact is assigned before its overflow deadline, at most
	 * max_wait_ms (a day) after it was queued; the bound allows a second
	 * day for an accept handled as the deadline passes or a clock step,
	 * loses none, and makes the count a range of contacts_stats.
	 */
	[STORE_STMT_ASSIGNED_COUNTS] =
	    "SELECT clinician, count(*) FROM contacts INDEXED BY contacts_stats"
	    " WHERE queued_at >= CAST(?1 AS BIGINT) - 2 * 86400000 AND "
	    "assigned_at >= ?1"
	    " AND clinician IS NOT NULL"
	    " GROUP BY clinician ORDER BY clinician",

	[STORE_STMT_AUDIT_INSERT] =
	    "INSERT INTO audit (at, actor, actor_kind, action, target, detail)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STORE_STMT_DISCLOSURE_INSERT] =
	    "INSERT INTO disclosures (contact, clinician, at, recipient,"
	    " affiliation, nature) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STORE_STMT_FOLLOWUP_OPEN] =
	    "INSERT INTO followups (contact, reason, opened_at)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (contact) DO NOTHING",
	[STORE_STMT_CLOSE_FILE] =
	    "INSERT INTO contact_closes (contact, supervisor, reason, actor,"
	    " requested_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
	[STORE_STMT_CLOSE_PENDING] =
	    "SELECT id, contact, supervisor, reason FROM contact_closes"
	    " WHERE done_at IS NULL ORDER BY id LIMIT ?1",
	[STORE_STMT_CLOSE_DONE] =
	    "UPDATE contact_closes SET done_at = ?2, result = ?3"
	    " WHERE id = ?1 AND done_at IS NULL",
	[STORE_STMT_CLOSE_RESULT] =
	    "SELECT done_at IS NOT NULL, coalesce(result, '')"
	    " FROM contact_closes WHERE id = ?1",

	/* Intake principals cannot log in: they never get a password. */
	[STORE_STMT_PASSWORD_SET] = "UPDATE principals SET password_hash = ?2"
	                            " WHERE id = ?1 AND role <> 'intake'",
	[STORE_STMT_PASSWORD_GET] =
	    "SELECT password_hash FROM principals WHERE id = ?1",
};

/* Record the message store_error() returns. */
void
store_set_error(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->error, sizeof st->error, fmt, ap);
	va_end(ap);
}

/* The batch is lost: keep the first reason for the failed commit to give. */
static void
store_lose_batch(struct store *st)
{
	if (!st->batch_lost) {
		memcpy(st->lost_why, st->error, sizeof st->lost_why);
		st->lost_busy = db_fault(st->db) == DB_FAULT_BUSY;
	}
	st->batch = true;
	st->batch_lost = true;
}

/* Record "what: <sqlite's message>" and return STORE_ERROR. */
int
store_fail(struct store *st, const char *what)
{
	/*
	 * A full disk, an I/O error or a lost lock can make SQLite roll the
	 * whole transaction back, not just the statement: the batch is gone.
	 */
	if (st->batch && db_autocommit(st->db)) {
		store_set_error(st, "%s: %s (batch rolled back)", what,
		    db_errmsg(st->db));
		store_lose_batch(st);
	} else
		store_set_error(st, "%s: %s", what, db_errmsg(st->db));
	return STORE_ERROR;
}

/*
 * Where PostgreSQL needs other SQL: a read snapshot must be asked for (its
 * default isolation gives each statement a snapshot of its own).
 */
static const char *const store_sql_pg[STORE_STMT_COUNT] = {
	[STORE_STMT_READ_BEGIN] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
};

/* The cached statement id, prepared if need be; NULL (error set) on failure. */
struct db_stmt *
store_stmt(struct store *st, enum store_stmt_id id)
{
	const char *sql = store_shared(st) && store_sql_pg[id] != NULL
	    ? store_sql_pg[id]
	    : store_sql[id];

	if (st->stmts[id] == NULL &&
	    db_prepare(st->db, sql, true, &st->stmts[id]) != DB_OK) {
		store_fail(st, "prepare");
		return NULL;
	}
	return st->stmts[id];
}

/* The cached statement id with the batch open, ready for a write. */
struct db_stmt *
store_write_stmt(struct store *st, enum store_stmt_id id)
{
	st->writes++;
	if (store_batch_begin(st) != STORE_OK)
		return NULL;
	return store_stmt(st, id);
}

/* A write statement failed: reset it and map its error. */
static int
store_write_failed(struct store *st, struct db_stmt *s, const char *what)
{
	int result;

	switch (db_fault(st->db)) {
	case DB_FAULT_UNIQUE:
		result = STORE_CONFLICT;
		break;
	case DB_FAULT_FOREIGN_KEY:
		result = STORE_NOTFOUND;
		break;
	default:
		result = STORE_ERROR;
		break;
	}
	if (result == STORE_ERROR)
		store_fail(st, what);
	else
		store_set_error(st, "%s: %s", what, db_errmsg(st->db));
	db_reset(s);
	return result;
}

/* Step a write statement to completion, reset it and map its error. */
int
store_step_write(struct store *st, struct db_stmt *s, const char *what)
{
	if (db_step(s) != DB_DONE)
		return store_write_failed(st, s, what);
	db_reset(s);
	return STORE_OK;
}

/* Step an INSERT ... RETURNING one id: as store_step_write, and *id. */
int
store_step_insert(struct store *st, struct db_stmt *s, const char *what,
    int64_t *id)
{
	int rc = db_step(s);

	if (rc == DB_ROW) {
		*id = db_column_int64(s, 0);
		rc = db_step(s);
	}
	if (rc != DB_DONE)
		return store_write_failed(st, s, what);
	db_reset(s);
	return STORE_OK;
}

/* Step a statement that reads one row: STORE_OK, STORE_NOTFOUND or STORE_ERROR.
 */
int
store_step_read(struct store *st, struct db_stmt *s, const char *what)
{
	int rc;

	rc = db_step(s);
	if (rc == DB_ROW)
		return STORE_OK;
	if (rc == DB_DONE) {
		db_reset(s);
		return STORE_NOTFOUND;
	}
	store_fail(st, what);
	db_reset(s);
	return STORE_ERROR;
}

/* Bind text, or NULL for a NULL pointer (SQLITE_STATIC: step before return). */
int
store_bind_text(struct db_stmt *s, int i, const char *v)
{
	return db_bind_text(s, i, v);
}

/* Rows changed by the last write of this connection. */
int
store_changes(struct store *st)
{
	return db_changes(st->db);
}

/* Run one cached statement that returns no rows. */
static int
store_run(struct store *st, enum store_stmt_id id, const char *what)
{
	struct db_stmt *s;

	if ((s = store_stmt(st, id)) == NULL)
		return STORE_ERROR;
	return store_step_write(st, s, what) == STORE_OK ? STORE_OK
	                                                 : STORE_ERROR;
}

/* Make sure the batch's transaction is open (BEGIN IMMEDIATE on first write).
 */
int
store_batch_begin(struct store *st)
{
	if (st->batch && !st->batch_lost && !db_autocommit(st->db))
		return STORE_OK;
	if (st->batch) {
		if (!st->batch_lost)
			store_set_error(st,
			    "the batch was rolled back after an "
			    "earlier error; commit or roll back first");
		store_lose_batch(st);
		store_set_error(st, "batch lost: %s", st->lost_why);
		return STORE_ERROR;
	}
	st->writes++;
	if ((st->epoch > 0
	            ? store_lease_begin(st)
	            : store_run(st, STORE_STMT_BEGIN, "begin")) != STORE_OK) {
		/*
		 * The batch is open, and lost: the rest of the turn's writes
		 * fail at once instead of each waiting out the busy timeout,
		 * and the commit fails.
		 */
		store_lose_batch(st);
		/*
		 * PostgreSQL's begin under the fence is several statements:
		 * one that failed leaves a transaction open and aborted, where
		 * every read of the turn would fail too.  End it: reads go on
		 * outside a transaction, as after SQLite's refused BEGIN.
		 */
		db_rollback_open(st->db);
		return STORE_ERROR;
	}
	st->batch = true;
	return STORE_OK;
}

/* Open a savepoint inside the batch, opening the batch if need be. */
int
store_savepoint(struct store *st)
{
	if (store_batch_begin(st) != STORE_OK)
		return STORE_ERROR;
	return store_run(st, STORE_STMT_SAVEPOINT, "savepoint");
}

/* End the savepoint, keeping its writes in the batch or undoing them. */
int
store_savepoint_end(struct store *st, bool keep)
{
	char saved[STORE_ERROR_BYTES];

	if (keep)
		return store_run(st, STORE_STMT_RELEASE, "release savepoint");
	/* Undoing must not hide why the writes failed. */
	memcpy(saved, st->error, sizeof saved);
	if (store_run(st, STORE_STMT_ROLLBACK_TO, "roll back savepoint") !=
	        STORE_OK ||
	    store_run(st, STORE_STMT_RELEASE, "release savepoint") != STORE_OK)
		return STORE_ERROR;
	memcpy(st->error, saved, sizeof saved);
	return STORE_OK;
}

/* Open a read transaction unless a batch is open, so reads share a snapshot. */
int
store_snapshot_begin(struct store *st, bool *opened)
{
	*opened = false;
	if (st->batch || !db_autocommit(st->db))
		return STORE_OK;
	if (store_run(st, STORE_STMT_READ_BEGIN, "begin read") != STORE_OK)
		return STORE_ERROR;
	*opened = true;
	return STORE_OK;
}

/* Close the read transaction store_snapshot_begin() opened, if it did. */
void
store_snapshot_end(struct store *st, bool opened)
{
	char saved[STORE_ERROR_BYTES];

	if (!opened || db_autocommit(st->db))
		return;
	memcpy(saved, st->error, sizeof saved);
	if (store_run(st, STORE_STMT_COMMIT, "end read") != STORE_OK)
		store_run(st, STORE_STMT_ROLLBACK, "end read");
	memcpy(st->error, saved, sizeof saved);
}

/* Is a batch open (writes not yet committed)? */
bool
store_batch_open(const struct store *st)
{
	return st->batch;
}

/* How long the daemon's writes wait for the write lock (at most 100 ms). */
void
store_wait_for_lock(struct store *st, int ms)
{
	char sql[64];

	st->busy_wait_ms = ms < STORE_DAEMON_BUSY_TIMEOUT_MS
	    ? ms
	    : STORE_DAEMON_BUSY_TIMEOUT_MS;
	/*
	 * PostgreSQL: its lock_timeout, set between transactions (a SET in
	 * one would be undone with it); 0 there means no limit, so 1 ms.
	 */
	if (!store_shared(st) || st->epoch == 0 || !db_autocommit(st->db))
		return;
	snprintf(sql, sizeof sql, "SET lock_timeout = '%dms'",
	    st->busy_wait_ms > 0 ? st->busy_wait_ms : 1);
	if (db_exec(st->db, sql) != DB_OK)
		log_debug("%s: %s", sql, db_errmsg(st->db));
}

/* Was the last failed commit lost to another process's write lock? */
bool
store_failed_busy(const struct store *st)
{
	return st->lost_busy;
}

/* Write attempts since the store was opened. */
uint64_t
store_write_count(const struct store *st)
{
	return st->writes;
}

/* Record that the daemon is alive: a write that proves the store works. */
int
store_alive(struct store *st, int64_t now)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_ALIVE)) == NULL)
		return STORE_ERROR;
	if (db_bind_int64(s, 1, now) != DB_OK)
		return store_fail(st, "alive");
	return store_step_write(st, s, "alive");
}

/* Roll the open batch back, if any. */
void
store_rollback(struct store *st)
{
	char saved[STORE_ERROR_BYTES];

	if (!st->batch)
		return;
	memcpy(saved, st->error, sizeof saved);
	if (!db_autocommit(st->db))
		store_run(st, STORE_STMT_ROLLBACK, "rollback");
	memcpy(st->error, saved, sizeof saved);
	st->batch = false;
	st->batch_lost = false;
}

/* Commit the open batch, if any.  On failure the batch is rolled back. */
int
store_commit(struct store *st)
{
	if (!st->batch)
		return 0;
	if (st->batch_lost || db_autocommit(st->db)) {
		if (st->batch_lost)
			store_set_error(st, "%s", st->lost_why);
		else
			store_set_error(st,
			    "commit: the batch was rolled back after an "
			    "earlier error");
		store_rollback(st);
		return -1;
	}
	if (store_run(st, STORE_STMT_COMMIT, "commit") != STORE_OK) {
		st->lost_busy = db_fault(st->db) == DB_FAULT_BUSY;
		store_rollback(st);
		return -1;
	}
	st->batch = false;
	/* Written, not yet synced: what depends on it waits for the ticket. */
	if (st->sync != NULL)
		st->sync_ticket = store_sync_ask(st->sync);
	return 0;
}

static int store_postgresql_open(struct store *st, const char *uri,
    enum store_open_mode mode, char **cause);

/*
 * Open the database: a PostgreSQL URI (store_pg.c) or an SQLite file
 * (store_sqlite.c); NULL and *cause on failure.
 */
struct store *
store_open(const char *database, enum store_open_mode mode, char **cause)
{
	struct store *st = xcalloc(1, sizeof *st);

	strlcpy_(st->error, "no error", sizeof st->error);
	st->busy_wait_ms = STORE_DAEMON_BUSY_TIMEOUT_MS;
	if ((util_is_postgresql_uri(database)
	            ? store_postgresql_open(st, database, mode, cause)
	            : store_sqlite_open(st, database, mode, cause)) == 0)
		return st;
	store_close(st);
	return NULL;
}

/*
 * Connect to the PostgreSQL database at uri and check (or, for crisisctl
 * init, create) its schema: 0, or -1 and *cause.  The daemon's sync thread
 * starts with the lease (store_lease.c), not here: a standby has none.
 */
static int
store_postgresql_open(struct store *st, const char *uri,
    enum store_open_mode mode, char **cause)
{
	char why[STORE_ERROR_BYTES];

	st->uri = xstrdup(uri);
	if ((st->db = store_pg_connect(uri, mode == STORE_OPEN_DAEMON,
	         cause)) == NULL)
		return -1;
	if (store_pg_schema(st->db, mode != STORE_OPEN_EXISTING,
	        &st->version_found, why, sizeof why) != 0) {
		xasprintf(cause, "%s", why);
		return -1;
	}
	return 0;
}

/* The integrity and schema check of crisisd -t and of crisisd's start. */
int
store_check(struct store *st, char **cause)
{
	/* PostgreSQL's schema was checked at the open; its integrity is the
	 * server's. */
	if (store_shared(st))
		return 0;
	return store_sqlite_check(st, cause);
}

/*
 * Roll back an open batch, stop the sync thread (syncing what it was asked
 * to) and the checkpointer (checkpointing one last time), finalize every
 * cached statement and close.
 */
void
store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	if (st->db != NULL)
		store_rollback(st);
	store_sync_stop(st);
	store_checkpoint_stop(st);
	for (i = 0; i < nitems(st->stmts); i++)
		db_finalize(st->stmts[i]);
	db_close(st->db);
	free(st->uri);
	free(st);
}

/* The message of the last failed call (never NULL). */
const char *
store_error(const struct store *st)
{
	return st->error;
}

/* The schema version found in the file when opened (0 for a new file). */
int
store_schema_version(struct store *st)
{
	return st->version_found;
}
