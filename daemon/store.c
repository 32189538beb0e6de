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
#define STORE_DAEMON_BUSY_TIMEOUT_MS 100

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
	    " VALUES (?1, ?2, ?3, ?4)",
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
	    "SELECT id, channel IS ?3 AND risk IS ?4 AND caller IS ?5"
	    " AND patient IS ?6 AND program IS ?7 AND language IS ?8"
	    " AND needs IS ?9 FROM contacts WHERE intake = ?1 AND ref = ?2",
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
	    "INSERT INTO pushes(intake, contact, message) VALUES (?1, ?2, ?3)",
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
	    " WHERE queued_at >= ?1 - 2 * 86400000 AND assigned_at >= ?1"
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
	    " requested_at) VALUES (?1, ?2, ?3, ?4, ?5)",
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
		st->lost_busy = (sqlite3_errcode(st->db) & 0xff) == SQLITE_BUSY;
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
	if (st->batch && sqlite3_get_autocommit(st->db)) {
		store_set_error(st, "%s: %s (batch rolled back)", what,
		    sqlite3_errmsg(st->db));
		store_lose_batch(st);
	} else
		store_set_error(st, "%s: %s", what, sqlite3_errmsg(st->db));
	return STORE_ERROR;
}

/* The cached statement id, prepared if need be; NULL (error set) on failure. */
sqlite3_stmt *
store_stmt(struct store *st, enum store_stmt_id id)
{
	if (st->stmts[id] == NULL &&
	    sqlite3_prepare_v3(st->db, store_sql[id], -1,
	        SQLITE_PREPARE_PERSISTENT, &st->stmts[id], NULL) != SQLITE_OK) {
		store_fail(st, "prepare");
		return NULL;
	}
	return st->stmts[id];
}

/* The cached statement id with the batch open, ready for a write. */
sqlite3_stmt *
store_write_stmt(struct store *st, enum store_stmt_id id)
{
	st->writes++;
	if (store_batch_begin(st) != STORE_OK)
		return NULL;
	return store_stmt(st, id);
}

/* Step a write statement to completion, reset it and map its error. */
int
store_step_write(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc, result;

	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_OK;
	}
	switch (sqlite3_extended_errcode(st->db)) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		result = STORE_CONFLICT;
		break;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		result = STORE_NOTFOUND;
		break;
	default:
		result = STORE_ERROR;
		break;
	}
	if (result == STORE_ERROR)
		store_fail(st, what);
	else
		store_set_error(st, "%s: %s", what, sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	return result;
}

/* Step a statement that reads one row: STORE_OK, STORE_NOTFOUND or STORE_ERROR.
 */
int
store_step_read(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	store_fail(st, what);
	sqlite3_reset(s);
	return STORE_ERROR;
}

/* Bind text, or NULL for a NULL pointer (SQLITE_STATIC: step before return). */
int
store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Rows changed by the last write of this connection. */
int
store_changes(struct store *st)
{
	return sqlite3_changes(st->db);
}

/* Run one cached statement that returns no rows. */
static int
store_run(struct store *st, enum store_stmt_id id, const char *what)
{
	sqlite3_stmt *s;

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
	if (st->batch && !st->batch_lost && !sqlite3_get_autocommit(st->db))
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
	if (store_run(st, STORE_STMT_BEGIN, "begin") != STORE_OK) {
		/*
		 * The batch is open, and lost: the rest of the turn's writes
		 * fail at once instead of each waiting out the busy timeout,
		 * and the commit fails.
		 */
		store_lose_batch(st);
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
	if (st->batch || !sqlite3_get_autocommit(st->db))
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

	if (!opened || sqlite3_get_autocommit(st->db))
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
	st->busy_wait_ms = ms < STORE_DAEMON_BUSY_TIMEOUT_MS
	    ? ms
	    : STORE_DAEMON_BUSY_TIMEOUT_MS;
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
	sqlite3_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_ALIVE)) == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(s, 1, now) != SQLITE_OK)
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
	if (!sqlite3_get_autocommit(st->db))
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
	if (st->batch_lost || sqlite3_get_autocommit(st->db)) {
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
		st->lost_busy = (sqlite3_errcode(st->db) & 0xff) == SQLITE_BUSY;
		store_rollback(st);
		return -1;
	}
	st->batch = false;
	/* Written, not yet synced: what depends on it waits for the ticket. */
	if (st->sync != NULL)
		st->sync_ticket = store_sync_ask(st->sync);
	return 0;
}

/* Run sql once and copy its first column of its first row (or ""). */
static int
store_pragma(struct store *st, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *s;
	const char *text;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_fail(st, sql);
	out[0] = '\0';
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(s, 0);
		if (out[0] == '\0' && text != NULL)
			strlcpy_(out, text, size);
	}
	if (rc != SQLITE_DONE) {
		store_fail(st, sql);
		sqlite3_finalize(s);
		return STORE_ERROR;
	}
	sqlite3_finalize(s);
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

	sqlite3_extended_result_codes(st->db, 1);
	if ((mode == STORE_OPEN_DAEMON
	            ? sqlite3_busy_handler(st->db, store_busy_poll, st)
	            : sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS)) !=
	    SQLITE_OK)
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

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return store_fail(st, "begin migration");
	/* Another process may have migrated while this one waited. */
	if (store_user_version(st, &v) != 0)
		goto fail;
	if (v >= STORE_SCHEMA_VERSION) {
		*version = v;
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return STORE_OK;
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
	if (sqlite3_exec(st->db, store_migrations[v], NULL, NULL, NULL) !=
	        SQLITE_OK ||
	    sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		store_set_error(st, "migration to schema version %d: %s", v + 1,
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	*version = v + 1;
	return STORE_OK;
fail:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
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

/* Open the database at path; NULL and *cause on failure. */
struct store *
store_open(const char *path, enum store_open_mode mode, char **cause)
{
	struct store *st;
	mode_t mask;
	int rc;

	if (store_create_file(path, mode, cause) != 0)
		return NULL;
	st = xcalloc(1, sizeof *st);
	strlcpy_(st->error, "no error", sizeof st->error);
	st->busy_wait_ms = STORE_DAEMON_BUSY_TIMEOUT_MS;
	/*
	 * SQLite creates the -wal and -shm files on first access; nobody but
	 * the owner may read them either.
	 */
	mask = umask(S_IRWXG | S_IRWXO);
	/*
	 * One thread uses this connection (the checkpoint thread has its
	 * own): SQLite's per-call mutex would only cost time.
	 */
	rc = sqlite3_open_v2(path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
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
		return st;
	}
	umask(mask);
	xasprintf(cause, "%s: %s", path, st->error);
	store_close(st);
	return NULL;
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
		sqlite3_finalize(st->stmts[i]);
	sqlite3_close_v2(st->db);
	free(st);
}

/* The message of the last failed call (never NULL). */
const char *
store_error(const struct store *st)
{
	return st->error;
}

/* PRAGMA quick_check and the schema version; -1 and *cause if not good. */
int
store_check(struct store *st, char **cause)
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

/* The schema version found in the file when opened (0 for a new file). */
int
store_schema_version(struct store *st)
{
	return st->version_found;
}
