/*
 * test_db_pg.c: the PostgreSQL backend (daemon/db_pg*.c) and the store's
 * PostgreSQL parts (daemon/store_pg.c) against a real server: the one
 * CRISISD_PG_URI names (make check-pg-unit starts one).  Without it every
 * test but the first is skipped.  The database is emptied first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../daemon/db.h"
#include "../../daemon/db_pg.h"
#include "../../daemon/store_pg.h"
#include "store.h"
#include "util.h"

static const char *uri;

/* Open a connection to the test server, or skip without one. */
static struct db *
open_db(void)
{
	struct db *db;
	char *cause = NULL;

	if (uri == NULL)
		skip();
	db = db_pg_open(uri, &cause);
	if (db == NULL)
		fail_msg("connect: %s", cause);
	return db;
}

/* Run sql, which must work. */
static void
run(struct db *db, const char *sql)
{
	if (db_exec(db, sql) != DB_OK)
		fail_msg("%s: %s", sql, db_errmsg(db));
}

/* The first column of the first row of sql. */
static int64_t
query_int(struct db *db, const char *sql)
{
	struct db_stmt *s;
	int64_t v;

	assert_int_equal(db_prepare(db, sql, false, &s), DB_OK);
	if (db_step(s) != DB_ROW)
		fail_msg("%s: %s", sql, db_errmsg(db));
	v = db_column_int64(s, 0);
	db_finalize(s);
	return v;
}

/* Run an INSERT of one text, returning step's result. */
static int
insert_text(struct db_stmt *s, const char *v)
{
	int rc;

	db_bind_text(s, 1, v);
	rc = db_step(s);
	db_reset(s);
	return rc;
}

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	return util_monotonic_ms();
}

/* An empty database for the run. */
static int
setup(void **state)
{
	struct db *db;
	char *cause = NULL;

	(void)state;
	uri = getenv("CRISISD_PG_URI");
	if (uri == NULL || *uri == '\0') {
		uri = NULL;
		print_message("CRISISD_PG_URI is not set: skipping the tests "
		              "against a server (make check-pg-unit runs "
		              "them)\n");
		return 0;
	}
	if ((db = db_pg_open(uri, &cause)) == NULL) {
		print_message("connect %s: %s\n", uri, cause);
		return -1;
	}
	if (db_exec(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public") !=
	    DB_OK) {
		print_message("reset: %s\n", db_errmsg(db));
		return -1;
	}
	db_close(db);
	return 0;
}

/* Which database strings are PostgreSQL's. */
static void
test_is_postgresql(void **state)
{
	(void)state;
	assert_true(util_is_postgresql_uri("postgresql:///crisisd?host=/run"));
	assert_true(util_is_postgresql_uri("postgres://db.example/crisisd"));
	assert_false(util_is_postgresql_uri("/var/lib/crisisd/crisisd.db"));
	assert_false(util_is_postgresql_uri("postgresql.db"));
	assert_false(util_is_postgresql_uri(NULL));
}

/* Parameters in, rows and typed columns out, NULL included. */
static void
test_rows(void **state)
{
	struct db *db = open_db();
	struct db_stmt *s;
	int persistent;

	(void)state;
	run(db,
	    "CREATE TABLE t (a BIGINT, b TEXT, c DOUBLE PRECISION,"
	    " e NUMERIC)");
	for (persistent = 0; persistent < 2; persistent++) {
		run(db, "DELETE FROM t");
		assert_int_equal(db_prepare(db,
		                     "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
		                     persistent, &s),
		    DB_OK);
		db_bind_int64(s, 1, INT64_MAX);
		db_bind_text(s, 2, "it's ?");
		db_bind_double(s, 3, 0.1);
		db_bind_text(s, 4, "2.5");
		assert_int_equal(db_step(s), DB_DONE);
		assert_int_equal(db_changes(db), 1);
		db_reset(s);
		db_bind_int64(s, 1, -7);
		db_bind_null(s, 2);
		db_bind_null(s, 3);
		db_bind_int64(s, 4, 3);
		assert_int_equal(db_step(s), DB_DONE);
		assert_int_equal(db_bind_int64(s, 5, 1), DB_ERROR);
		db_finalize(s);

		assert_int_equal(db_prepare(db,
		                     "SELECT a, b, c, e FROM t WHERE a <> ?"
		                     " ORDER BY a DESC",
		                     persistent, &s),
		    DB_OK);
		db_bind_int64(s, 1, 0);
		assert_int_equal(db_step(s), DB_ROW);
		assert_int_equal(db_column_count(s), 4);
		assert_string_equal(db_column_name(s, 1), "b");
		assert_int_equal(db_column_type(s, 0), DB_INTEGER);
		assert_true(db_column_int64(s, 0) == INT64_MAX);
		assert_int_equal(db_column_type(s, 1), DB_TEXT);
		assert_string_equal(db_column_text(s, 1), "it's ?");
		assert_int_equal(db_column_bytes(s, 1), 6);
		assert_int_equal(db_column_type(s, 2), DB_FLOAT);
		assert_true(db_column_double(s, 2) == 0.1);
		assert_int_equal(db_column_type(s, 3), DB_FLOAT);
		assert_int_equal(db_column_int64(s, 3), 2);
		assert_int_equal(db_step(s), DB_ROW);
		assert_int_equal(db_column_int64(s, 0), -7);
		assert_int_equal(db_column_type(s, 1), DB_NULL);
		assert_null(db_column_text(s, 1));
		assert_int_equal(db_column_type(s, 2), DB_NULL);
		assert_int_equal(db_column_int64(s, 2), 0);
		assert_int_equal(db_column_type(s, 3), DB_INTEGER);
		assert_int_equal(db_step(s), DB_DONE);
		/* A reset keeps the parameters, as SQLite's does. */
		db_reset(s);
		assert_int_equal(db_step(s), DB_ROW);
		assert_true(db_column_int64(s, 0) == INT64_MAX);
		db_finalize(s);
	}
	run(db, "UPDATE t SET a = a");
	assert_int_equal(db_changes(db), 2);
	/* A SELECT leaves changes() as the last write set it. */
	assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 2);
	assert_int_equal(db_changes(db), 2);
	db_close(db);
}

/* Comparisons are booleans on PostgreSQL, integers to the store. */
static void
test_booleans(void **state)
{
	struct db *db = open_db();
	struct db_stmt *s;

	(void)state;
	assert_int_equal(db_prepare(db,
	                     "SELECT 1 = 1, 1 = 2, CAST(NULL AS BOOLEAN)",
	                     false, &s),
	    DB_OK);
	assert_int_equal(db_step(s), DB_ROW);
	assert_int_equal(db_column_type(s, 0), DB_INTEGER);
	assert_int_equal(db_column_int64(s, 0), 1);
	assert_int_equal(db_column_int64(s, 1), 0);
	assert_string_equal(db_column_text(s, 0), "1");
	assert_true(db_column_double(s, 1) == 0.0);
	assert_int_equal(db_column_type(s, 2), DB_NULL);
	db_finalize(s);
	db_close(db);
}

/* Blobs go in binary and come back decoded, zeros and all. */
static void
test_bytea(void **state)
{
	struct db *db = open_db();
	struct db_stmt *s;
	unsigned char blob[1000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof blob; i++)
		blob[i] = (unsigned char)(i * 7);
	run(db, "CREATE TABLE b (k BIGINT, v BYTEA)");
	assert_int_equal(db_prepare(db, "INSERT INTO b VALUES (?, ?)", true,
	                     &s),
	    DB_OK);
	db_bind_int64(s, 1, 1);
	db_bind_blob(s, 2, blob, (int)sizeof blob);
	assert_int_equal(db_step(s), DB_DONE);
	db_reset(s);
	db_bind_int64(s, 1, 2);
	db_bind_blob(s, 2, "", 0);
	assert_int_equal(db_step(s), DB_DONE);
	db_finalize(s);

	assert_int_equal(db_prepare(db, "SELECT v FROM b ORDER BY k", false,
	                     &s),
	    DB_OK);
	assert_int_equal(db_step(s), DB_ROW);
	assert_int_equal(db_column_type(s, 0), DB_BLOB);
	assert_int_equal(db_column_bytes(s, 0), (int)sizeof blob);
	assert_memory_equal(db_column_blob(s, 0), blob, sizeof blob);
	assert_int_equal(db_step(s), DB_ROW);
	assert_int_equal(db_column_bytes(s, 0), 0);
	assert_null(db_column_blob(s, 0));
	assert_int_equal(db_step(s), DB_DONE);
	db_finalize(s);
	db_close(db);
}

/*
 * A read that fails in a transaction (reads have no savepoint) leaves it
 * failed; its COMMIT, which PostgreSQL answers with the tag ROLLBACK, must
 * fail, prepared or through exec, and nothing of it is kept.
 */
static void
test_commit_of_failed_transaction(void **state)
{
	struct db *db = open_db();
	struct db_stmt *bad, *commit;

	(void)state;
	run(db, "CREATE TABLE cf (k BIGINT)");
	assert_int_equal(db_prepare(db, "SELECT 1 / (k - k) FROM cf", false,
	                     &bad),
	    DB_OK);
	assert_int_equal(db_prepare(db, "COMMIT", true, &commit), DB_OK);
	for (int round = 0; round < 2; round++) {
		run(db, "BEGIN");
		run(db, "INSERT INTO cf VALUES (1)");
		assert_int_not_equal(db_step(bad), DB_ROW);
		db_reset(bad);
		if (round == 0)
			assert_int_equal(db_step(commit), DB_ERROR);
		else
			assert_int_equal(db_exec(db, "COMMIT"), DB_ERROR);
		assert_non_null(strstr(db_errmsg(db), "rolled back"));
		db_reset(commit);
		assert_true(db_autocommit(db));
		assert_int_equal(query_int(db, "SELECT count(*) FROM cf"), 0);
	}
	db_finalize(bad);
	db_finalize(commit);
	db_close(db);
}

/* A unique violation in a transaction fails that statement alone. */
static void
test_unique_in_transaction(void **state)
{
	struct db *db = open_db();
	struct db_stmt *s;
	int persistent;

	(void)state;
	run(db, "CREATE TABLE u (k TEXT PRIMARY KEY)");
	for (persistent = 0; persistent < 2; persistent++) {
		run(db, "DELETE FROM u");
		assert_int_equal(db_prepare(db, "INSERT INTO u VALUES (?)",
		                     persistent, &s),
		    DB_OK);
		run(db, "BEGIN IMMEDIATE");
		assert_int_equal(insert_text(s, "a"), DB_DONE);
		assert_int_equal(insert_text(s, "a"), DB_ERROR);
		assert_int_equal(db_fault(db), DB_FAULT_UNIQUE);
		assert_non_null(strstr(db_errmsg(db), "duplicate key"));
		assert_false(db_autocommit(db));
		assert_int_equal(insert_text(s, "b"), DB_DONE);
		/* exec's writes too. */
		assert_int_equal(db_exec(db, "INSERT INTO u VALUES ('b')"),
		    DB_ERROR);
		assert_int_equal(db_fault(db), DB_FAULT_UNIQUE);
		run(db, "INSERT INTO u VALUES ('c')");
		run(db, "COMMIT");
		assert_true(db_autocommit(db));
		assert_int_equal(query_int(db, "SELECT count(*) FROM u"), 3);
		/* Outside a transaction, as SQLite too. */
		assert_int_equal(insert_text(s, "a"), DB_ERROR);
		assert_int_equal(db_fault(db), DB_FAULT_UNIQUE);
		assert_true(db_autocommit(db));
		db_finalize(s);
	}
	db_close(db);
}

/* A missing parent is DB_FAULT_FOREIGN_KEY. */
static void
test_foreign_key(void **state)
{
	struct db *db = open_db();
	struct db_stmt *s;

	(void)state;
	run(db,
	    "CREATE TABLE parent (id TEXT PRIMARY KEY);"
	    "CREATE TABLE child (p TEXT REFERENCES parent(id))");
	assert_int_equal(db_prepare(db, "INSERT INTO child VALUES (?)", false,
	                     &s),
	    DB_OK);
	assert_int_equal(insert_text(s, "nobody"), DB_ERROR);
	assert_int_equal(db_fault(db), DB_FAULT_FOREIGN_KEY);
	run(db, "BEGIN");
	assert_int_equal(insert_text(s, "nobody"), DB_ERROR);
	assert_int_equal(db_fault(db), DB_FAULT_FOREIGN_KEY);
	run(db, "INSERT INTO parent VALUES ('p')");
	assert_int_equal(insert_text(s, "p"), DB_DONE);
	run(db, "COMMIT");
	assert_int_equal(query_int(db, "SELECT count(*) FROM child"), 1);
	/* A syntax error is another fault; the statement fails at its step. */
	db_finalize(s);
	assert_int_equal(db_prepare(db, "SELEC 1", true, &s), DB_OK);
	assert_int_equal(db_step(s), DB_ERROR);
	assert_int_equal(db_fault(db), DB_FAULT_OTHER);
	db_finalize(s);
	db_close(db);
}

static int connects;

/* The on-connect hook of the reconnect test: counts, and sets a name. */
static int
count_connect(struct db *db, void *arg)
{
	(void)arg;
	connects++;
	return db_exec(db, "SET application_name = 'crisisd-test'") == DB_OK
	    ? 0
	    : -1;
}

/* Cut db's session from another connection. */
static void
terminate(struct db *db, struct db *other)
{
	char sql[96];

	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)",
	    (long long)query_int(db, "SELECT pg_backend_pid()"));
	assert_int_equal(query_int(other, sql), 1);
}

/* A session cut by the server: the next call outside a transaction heals. */
static void
test_reconnect(void **state)
{
	struct db *db = open_db(), *other = open_db();
	struct db_stmt *s;

	(void)state;
	connects = 0;
	db_pg_on_connect(db, count_connect, NULL);
	assert_int_equal(connects, 1);
	run(db, "CREATE TABLE r (k TEXT)");
	assert_int_equal(db_prepare(db, "INSERT INTO r VALUES (?)", true, &s),
	    DB_OK);
	assert_int_equal(insert_text(s, "before"), DB_DONE);

	terminate(db, other);
	assert_int_equal(insert_text(s, "lost"), DB_ERROR);
	assert_int_equal(db_fault(db), DB_FAULT_CONNECTION);
	assert_true(db_autocommit(db));
	/* Prepared again on the new session. */
	assert_int_equal(insert_text(s, "after"), DB_DONE);
	assert_int_equal(connects, 2);
	assert_int_equal(query_int(db,
	                     "SELECT count(*) FROM pg_stat_activity WHERE"
	                     " pid = pg_backend_pid() AND"
	                     " application_name = 'crisisd-test'"),
	    1);

	/* Cut inside a transaction: it fails until the store ends it. */
	run(db, "BEGIN");
	assert_int_equal(insert_text(s, "in lost transaction"), DB_DONE);
	terminate(db, other);
	assert_int_equal(insert_text(s, "x"), DB_ERROR);
	assert_int_equal(db_fault(db), DB_FAULT_CONNECTION);
	assert_false(db_autocommit(db));
	assert_int_equal(db_exec(db, "SELECT 1"), DB_ERROR);
	assert_int_equal(db_fault(db), DB_FAULT_CONNECTION);
	assert_int_equal(db_exec(db, "ROLLBACK"), DB_ERROR);
	assert_true(db_autocommit(db));
	/* Tried again at most every DB_PG_RECONNECT_MS: wait that long. */
	struct timespec ts = { 0, (DB_PG_RECONNECT_MS + 10) * 1000000L };
	nanosleep(&ts, NULL);
	assert_int_equal(query_int(db, "SELECT count(*) FROM r"), 2);
	assert_int_equal(connects, 3);
	db_finalize(s);
	db_close(db);
	db_close(other);
}

/* A query the server sits on is cancelled at the bound. */
static void
test_timeout(void **state)
{
	struct db *db = open_db(), *other = open_db();
	int64_t t0, took;

	(void)state;
	db_pg_set_timeout(db, 200);
	t0 = now_ms();
	assert_int_equal(db_exec(db, "SELECT pg_sleep(5)"), DB_ERROR);
	took = now_ms() - t0;
	assert_int_equal(db_fault(db), DB_FAULT_CONNECTION);
	assert_true(took >= 190 && took < 1000);
	print_message("pg_sleep(5) given up after %lld ms: %s\n",
	    (long long)took, db_errmsg(db));
	/* The server stopped it too (cancelled, then the session closed). */
	for (t0 = now_ms(); now_ms() - t0 < 2000;)
		if (query_int(other,
		        "SELECT count(*) FROM pg_stat_activity WHERE"
		        " query = 'SELECT pg_sleep(5)' AND state = 'active'") ==
		    0)
			break;
	assert_int_equal(query_int(other,
	                     "SELECT count(*) FROM pg_stat_activity WHERE"
	                     " query = 'SELECT pg_sleep(5)' AND"
	                     " state = 'active'"),
	    0);
	assert_int_equal(query_int(db, "SELECT 41 + 1"), 42);
	db_close(db);
	db_close(other);
}

/* The daemon's session settings, on the first connection and the next. */
static void
test_session(void **state)
{
	struct db *db, *other = open_db();
	struct db_stmt *s;
	char *cause = NULL;
	int i;

	(void)state;
	db = store_pg_connect(uri, true, &cause);
	assert_non_null(db);
	for (i = 0; i < 2; i++) {
		assert_int_equal(db_prepare(db,
		                     "SELECT current_setting('lock_timeout'),"
		                     " current_setting('synchronous_commit')",
		                     false, &s),
		    DB_OK);
		assert_int_equal(db_step(s), DB_ROW);
		assert_string_equal(db_column_text(s, 0), "100ms");
		assert_string_equal(db_column_text(s, 1), "off");
		db_finalize(s);
		if (i == 0) {
			terminate(db, other);
			assert_int_equal(db_exec(db, "SELECT 1"), DB_ERROR);
		}
	}
	db_close(db);
	db_close(other);
}

/* The baseline: created once, found after, a newer one refused. */
static void
test_schema(void **state)
{
	struct db *db = open_db();
	char err[256];
	int found = -1;

	(void)state;
	assert_int_equal(store_pg_schema(db, false, &found, err, sizeof err),
	    -1);
	assert_string_equal(err,
	    "database is not initialised; run crisisctl init");
	assert_int_equal(store_pg_schema(db, true, &found, err, sizeof err), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_pg_schema(db, true, &found, err, sizeof err), 0);
	assert_int_equal(found, STORE_SCHEMA_VERSION);
	assert_int_equal(store_pg_schema(db, false, &found, err, sizeof err),
	    0);
	run(db, "UPDATE crisisd_schema SET version = version + 1");
	assert_int_equal(store_pg_schema(db, false, &found, err, sizeof err),
	    -1);
	assert_string_equal(err,
	    "schema version 6 is newer than this build's 5; run a newer "
	    "crisisd");
	assert_int_equal(store_pg_schema(db, true, &found, err, sizeof err),
	    -1);
	run(db, "UPDATE crisisd_schema SET version = version - 1");
	/* The triggers say what SQLite's say. */
	run(db,
	    "INSERT INTO audit (at, actor, actor_kind, action)"
	    " VALUES (1, 'me', 'os', 'test')");
	assert_int_equal(db_exec(db, "DELETE FROM audit"), DB_ERROR);
	assert_string_equal(db_errmsg(db), "the audit is append-only");
	assert_true(db_autocommit(db));
	db_close(db);
}

/* Make the lease free, as a new database has it. */
static void
lease_reset(struct db *db)
{
	run(db,
	    "UPDATE crisisd_lease SET node = NULL, epoch = 0,"
	    " acquired_at = NULL, expires_at = NULL, renewed_at = NULL;"
	    " DELETE FROM crisisd_commits");
}

/* Take, read, release, take over. */
static void
test_lease(void **state)
{
	struct db *a = open_db(), *b;
	struct store_lease l;
	char *cause = NULL;
	int64_t e1 = 0, e2 = 0;

	(void)state;
	b = store_pg_connect(uri, true, &cause);
	lease_reset(a);
	assert_int_equal(store_pg_lease_try(a, "node-a", 3000, &e1, &l), 0);
	assert_int_equal(e1, 1);
	assert_int_equal(store_pg_lease_read(b, &l), 0);
	assert_string_equal(l.node, "node-a");
	assert_int_equal(l.epoch, 1);
	assert_int_equal(l.expires_at - l.acquired_at, 3000);
	assert_int_equal(l.renewed_at, l.acquired_at);
	assert_true(l.now >= l.acquired_at && l.now < l.expires_at);
	memset(&l, 0, sizeof l);
	assert_int_equal(store_pg_lease_try(b, "node-b", 3000, &e2, &l), 1);
	assert_string_equal(l.node, "node-a");
	assert_int_equal(l.epoch, 1);
	assert_true(db_autocommit(b));
	assert_int_equal(store_pg_lease_release(a, e1), 0);
	assert_int_equal(store_pg_lease_try(b, "node-b", 3000, &e2, &l), 0);
	assert_int_equal(e2, 2);
	assert_int_equal(store_pg_lease_release(a, e1), 1);
	assert_int_equal(query_int(a, "SELECT count(*) FROM crisisd_commits"),
	    2);
	db_close(a);
	db_close(b);
}

/* The fence: an old active's writes are refused once the lease moved. */
static void
test_fence(void **state)
{
	struct db *a, *b, *sync;
	struct store_lease l;
	char *cause = NULL;
	int64_t e1 = 0, e2 = 0, t0;
	uint64_t durable = 0;

	(void)state;
	if (uri == NULL)
		skip();
	a = store_pg_connect(uri, true, &cause);
	b = store_pg_connect(uri, true, &cause);
	sync = store_pg_connect(uri, false, &cause);
	lease_reset(a);
	/* A lease that expires at once: only the fence holds b off. */
	assert_int_equal(store_pg_lease_try(a, "node-a", 1, &e1, &l), 0);
	assert_int_equal(store_pg_begin_fenced(a, e1, 7), 0);
	run(a, "INSERT INTO meta (key, value) VALUES ('fenced write', 1)");
	/* b's FOR UPDATE waits for a's transaction: lock_timeout, busy. */
	t0 = now_ms();
	assert_int_equal(store_pg_lease_try(b, "node-b", 3000, &e2, &l), -1);
	print_message("a taker waited %lld ms for the fenced write: %s\n",
	    (long long)(now_ms() - t0), db_errmsg(b));
	assert_non_null(strstr(db_errmsg(b), "lock timeout"));
	assert_true(db_autocommit(b));
	/* A renewal passes a's FOR KEY SHARE. */
	assert_int_equal(store_pg_sync_renew(sync, e1, "node-a", 1, &durable),
	    0);
	assert_int_equal(durable, 0);
	run(a, "COMMIT");
	assert_int_equal(store_pg_sync_renew(sync, e1, "node-a", 1, &durable),
	    0);
	assert_int_equal(durable, 7);
	/* Now b takes over, and a is fenced off. */
	assert_int_equal(store_pg_lease_try(b, "node-b", 3000, &e2, &l), 0);
	assert_int_equal(e2, e1 + 1);
	assert_int_equal(store_pg_begin_fenced(a, e1, 8), 1);
	assert_true(db_autocommit(a));
	assert_int_equal(store_pg_sync_renew(sync, e1, "node-a", 3000,
	                     &durable),
	    1);
	assert_int_equal(store_pg_begin_fenced(b, e2, 1), 0);
	run(b, "COMMIT");
	assert_int_equal(store_pg_sync_renew(sync, e2, "node-b", 3000,
	                     &durable),
	    0);
	assert_int_equal(durable, 1);
	db_close(a);
	db_close(b);
	db_close(sync);
}

/* Round trips over the socket: µs per statement, printed. */
static void
test_round_trips(void **state)
{
	struct db *db = open_db();
	struct db_stmt *s;
	struct timespec t0, t1;
	const int n = 2000;
	int i, txn;
	char key[32];

	(void)state;
	run(db, "CREATE TABLE rt (k TEXT PRIMARY KEY, v BIGINT)");
	assert_int_equal(db_prepare(db, "INSERT INTO rt VALUES (?1, ?2)", true,
	                     &s),
	    DB_OK);
	for (txn = 0; txn < 2; txn++) {
		if (txn)
			run(db, "BEGIN");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < n; i++) {
			snprintf(key, sizeof key, "%d-%d", txn, i);
			db_bind_text(s, 1, key);
			db_bind_int64(s, 2, i);
			assert_int_equal(db_step(s), DB_DONE);
			db_reset(s);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (txn)
			run(db, "COMMIT");
		print_message("prepared INSERT %s: %.1f us per statement\n",
		    txn ? "in a transaction (savepoint, pipelined)"
		        : "autocommit",
		    ((t1.tv_sec - t0.tv_sec) * 1e6 +
		        (t1.tv_nsec - t0.tv_nsec) / 1e3) /
		        n);
	}
	db_finalize(s);
	assert_int_equal(db_prepare(db, "SELECT v FROM rt WHERE k = ?", true,
	                     &s),
	    DB_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "1-%d", i);
		db_bind_text(s, 1, key);
		assert_int_equal(db_step(s), DB_ROW);
		db_reset(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("prepared SELECT by key: %.1f us per statement\n",
	    ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) /
	        n);
	db_finalize(s);
	db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_postgresql),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_bytea),
		cmocka_unit_test(test_unique_in_transaction),
		cmocka_unit_test(test_commit_of_failed_transaction),
		cmocka_unit_test(test_foreign_key),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_fence),
		cmocka_unit_test(test_round_trips),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
