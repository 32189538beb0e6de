/*
 * test_store.c: the SQLite store on a scratch database file: opening and
 * migrating, file modes, the roster, contacts and their timeline, offers,
 * pushes, and batches as another connection sees them.  The store's own
 * test is the one place that reads SQLite directly, to check what the
 * store's API does not show.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "../../daemon/store_int.h"
#include "util.h"

/* A scratch directory and the database file in it. */
struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
};

/* Make a scratch directory and a migrated store in it. */
static int
setup(void **state)
{
	struct fixture *fx;
	char *cause = NULL;

	fx = xcalloc(1, sizeof *fx);
	strlcpy_(fx->dir, "/tmp/test_store.XXXXXX", sizeof fx->dir);
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof fx->path, "%s/crisisd.db", fx->dir);
	fx->st = store_open(fx->path, STORE_OPEN_MIGRATE, &cause);
	if (fx->st == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		free(cause);
		return -1;
	}
	*state = fx;
	return 0;
}

/* Close the store and remove the scratch files. */
static int
teardown(void **state)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	struct fixture *fx = *state;
	char path[160];

	store_close(fx->st);
	for (size_t i = 0; i < nitems(suffixes); i++) {
		snprintf(path, sizeof path, "%s%s", fx->path, suffixes[i]);
		unlink(path);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* One integer that sql selects on the store's own connection. */
static int64_t
query_int(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite_handle(st->db), sql, -1,
	                     &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Set the file's user_version behind the store's back. */
static void
set_user_version(const char *path, int version)
{
	sqlite3 *db;
	char sql[64];

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A fixed token hash whose bytes are all b. */
static void
fill_hash(uint8_t hash[TOKEN_HASH_BYTES], uint8_t b)
{
	memset(hash, b, TOKEN_HASH_BYTES);
}

/* Add a clinician with a token hash of zeros. */
static void
add_clinician(struct store *st, const char *id, const char *name)
{
	struct store_clinician c = { id, name, "en", NULL, "sip:x" };
	uint8_t hash[TOKEN_HASH_BYTES];

	fill_hash(hash, 0);
	assert_int_equal(store_clinician_add(st, &c, hash, 1000), STORE_OK);
}

/* Insert a contact of intake "gw" queued at queued_at. */
static void
add_contact(struct store *st, const char *id, const char *ref,
    int64_t queued_at)
{
	struct store_contact c = {
		.intake = "gw",
		.ref = ref,
		.channel = "voice",
		.risk = "high",
		.needs = "[]",
		.state = STORE_STATE_OPEN,
		.route = "{}",
		.queued_at = queued_at,
		.deadline_at = queued_at + 90000,
		.policy_version = 1,
	};

	strlcpy_(c.id, id, sizeof c.id);
	assert_int_equal(store_contact_insert(st, &c), STORE_OK);
}

/*
 * Look a ref of intake up with add_contact's fields; *same says whether
 * the stored contact has them.
 */
static int
find_ref(struct store *st, const char *intake, const char *ref, char *id,
    bool *same)
{
	struct store_contact want = {
		.intake = intake,
		.ref = ref,
		.channel = "voice",
		.risk = "high",
		.needs = "[]",
	};

	return store_contact_by_ref(st, &want, id, same);
}

/* A new file is created at version 0, migrated, and reopens as EXISTING. */
static void
test_open_migrate_reopen(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;

	assert_int_equal(store_schema_version(fx->st), 0);
	assert_int_equal(store_check(fx->st, &cause), 0);
	assert_int_equal(query_int(fx->st, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	store_close(fx->st);
	fx->st = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(fx->st);
	assert_int_equal(store_schema_version(fx->st), STORE_SCHEMA_VERSION);
	assert_int_equal(store_check(fx->st, &cause), 0);
	assert_int_equal(query_int(fx->st, "PRAGMA synchronous"), 2);
	assert_int_equal(query_int(fx->st, "PRAGMA foreign_keys"), 1);
	store_close(fx->st);
	fx->st = store_open(fx->path, STORE_OPEN_MIGRATE, &cause);
	assert_non_null(fx->st);
	assert_int_equal(store_schema_version(fx->st), STORE_SCHEMA_VERSION);
}

/* EXISTING refuses a missing file and does not create it. */
static void
test_open_existing_missing(void **state)
{
	struct fixture *fx = *state;
	char path[160], *cause = NULL;
	struct stat sb;

	snprintf(path, sizeof path, "%s/missing.db", fx->dir);
	assert_null(store_open(path, STORE_OPEN_EXISTING, &cause));
	assert_non_null(strstr(cause, "crisisctl init"));
	assert_int_equal(stat(path, &sb), -1);
	free(cause);
}

/* A newer file is refused both ways; an empty or older one by EXISTING. */
static void
test_version_mismatch(void **state)
{
	struct fixture *fx = *state;
	char path[160], *cause = NULL;
	FILE *f;

	store_close(fx->st);
	fx->st = NULL;
	set_user_version(fx->path, STORE_SCHEMA_VERSION + 1);
	assert_null(store_open(fx->path, STORE_OPEN_EXISTING, &cause));
	assert_non_null(strstr(cause, "newer"));
	free(cause);
	assert_null(store_open(fx->path, STORE_OPEN_MIGRATE, &cause));
	assert_non_null(strstr(cause, "newer"));
	free(cause);

	snprintf(path, sizeof path, "%s/empty.db", fx->dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_null(store_open(path, STORE_OPEN_EXISTING, &cause));
	assert_non_null(strstr(cause, "not initialised"));
	free(cause);
	unlink(path);

	set_user_version(fx->path, STORE_SCHEMA_VERSION);
	fx->st = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(fx->st);
}

/* The database, its WAL and its shared memory are 0600 whatever the umask. */
static void
test_mode_0600(void **state)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	struct fixture *fx = *state;
	char path[160], *cause = NULL;
	struct stat sb;
	mode_t mask;

	store_close(fx->st);
	for (size_t i = 0; i < nitems(suffixes); i++) {
		snprintf(path, sizeof path, "%s%s", fx->path, suffixes[i]);
		unlink(path);
	}
	mask = umask(022);
	fx->st = store_open(fx->path, STORE_OPEN_MIGRATE, &cause);
	assert_int_equal(umask(mask), 022);
	assert_non_null(fx->st);
	for (size_t i = 0; i < nitems(suffixes); i++) {
		snprintf(path, sizeof path, "%s%s", fx->path, suffixes[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
}

/* A principal is added once, read back, and a second add conflicts. */
static void
test_principal(void **state)
{
	struct fixture *fx = *state;
	uint8_t hash[TOKEN_HASH_BYTES], got[TOKEN_HASH_BYTES];
	char role[16];

	fill_hash(hash, 7);
	assert_int_equal(store_principal_add(fx->st, "gw", "intake", hash,
	                     1000),
	    STORE_OK);
	assert_true(store_batch_open(fx->st));
	assert_int_equal(store_commit(fx->st), 0);
	assert_false(store_batch_open(fx->st));
	assert_int_equal(store_principal_add(fx->st, "gw", "supervisor", hash,
	                     2000),
	    STORE_CONFLICT);
	assert_non_null(strstr(store_error(fx->st), "gw"));
	assert_int_equal(store_principal_add(fx->st, "x", "janitor", hash,
	                     2000),
	    STORE_ERROR);
	assert_int_equal(store_principal_get(fx->st, "gw", role, got, NULL),
	    STORE_OK);
	assert_string_equal(role, "intake");
	assert_memory_equal(got, hash, TOKEN_HASH_BYTES);
	assert_int_equal(store_principal_get(fx->st, "nobody", role, got, NULL),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
}

/* token_set replaces a hash, and reports an unknown principal. */
static void
test_token_set(void **state)
{
	struct fixture *fx = *state;
	uint8_t hash[TOKEN_HASH_BYTES], got[TOKEN_HASH_BYTES];
	char role[16];

	fill_hash(hash, 1);
	assert_int_equal(store_token_set(fx->st, "nobody", hash),
	    STORE_NOTFOUND);
	assert_int_equal(store_principal_add(fx->st, "sup", "supervisor", hash,
	                     1000),
	    STORE_OK);
	fill_hash(hash, 2);
	assert_int_equal(store_token_set(fx->st, "sup", hash), STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_get(fx->st, "sup", role, got, NULL),
	    STORE_OK);
	assert_memory_equal(got, hash, TOKEN_HASH_BYTES);
}

/* Two Argon2id strings as password_hash() makes them (salt, hash dummies). */
#define TEST_PW_HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaEE"
#define TEST_PW_HASH_B "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaEI"

/*
 * A supervisor's or clinician's password hash is set, replaced and read
 * back, and leaves the token alone; one that was never set reads as unset.
 */
static void
test_password_set(void **state)
{
	struct fixture *fx = *state;
	uint8_t hash[TOKEN_HASH_BYTES], got[TOKEN_HASH_BYTES];
	char pw[128], role[16];

	fill_hash(hash, 3);
	assert_int_equal(store_principal_add(fx->st, "sup", "supervisor", hash,
	                     1000),
	    STORE_OK);
	add_clinician(fx->st, "c1", "Dr One");
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_password(fx->st, "sup", pw,
	                     sizeof(pw)),
	    STORE_UNSET);
	assert_int_equal(store_password_set(fx->st, "sup", TEST_PW_HASH_A),
	    STORE_OK);
	assert_int_equal(store_password_set(fx->st, "c1", TEST_PW_HASH_B),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_password(fx->st, "sup", pw,
	                     sizeof(pw)),
	    STORE_OK);
	assert_string_equal(pw, TEST_PW_HASH_A);
	assert_int_equal(store_principal_password(fx->st, "c1", pw, sizeof(pw)),
	    STORE_OK);
	assert_string_equal(pw, TEST_PW_HASH_B);
	assert_int_equal(store_password_set(fx->st, "sup", TEST_PW_HASH_B),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_password(fx->st, "sup", pw,
	                     sizeof(pw)),
	    STORE_OK);
	assert_string_equal(pw, TEST_PW_HASH_B);
	assert_int_equal(store_principal_get(fx->st, "sup", role, got, NULL),
	    STORE_OK);
	assert_memory_equal(got, hash, TOKEN_HASH_BYTES);
}

/*
 * Unknown principals are not found; an intake principal is refused and
 * keeps no password; a disabled one may have its password set; a hash
 * too long for the caller's buffer is an error, not cut short; a batch
 * rolled back leaves the old password.
 */
static void
test_password_refusals(void **state)
{
	struct fixture *fx = *state;
	uint8_t hash[TOKEN_HASH_BYTES];
	char pw[128];

	fill_hash(hash, 4);
	assert_int_equal(store_principal_add(fx->st, "gw", "intake", hash,
	                     1000),
	    STORE_OK);
	assert_int_equal(store_principal_add(fx->st, "sup", "supervisor", hash,
	                     1000),
	    STORE_OK);
	assert_int_equal(store_principal_disable(fx->st, "sup", true, 1500),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_password_set(fx->st, "nobody", TEST_PW_HASH_A),
	    STORE_NOTFOUND);
	assert_non_null(strstr(store_error(fx->st), "nobody"));
	assert_int_equal(store_principal_password(fx->st, "nobody", pw,
	                     sizeof(pw)),
	    STORE_NOTFOUND);
	assert_int_equal(store_password_set(fx->st, "gw", TEST_PW_HASH_A),
	    STORE_CONFLICT);
	assert_non_null(strstr(store_error(fx->st), "intake"));
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(query_int(fx->st,
	                     "SELECT count(*) FROM principals"
	                     " WHERE password_hash IS NOT NULL"),
	    0);
	assert_int_equal(store_principal_password(fx->st, "gw", pw, sizeof(pw)),
	    STORE_UNSET);
	assert_int_equal(store_password_set(fx->st, "sup", TEST_PW_HASH_A),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_password(fx->st, "sup", pw,
	                     sizeof(TEST_PW_HASH_A) - 1),
	    STORE_ERROR);
	assert_int_equal(store_password_set(fx->st, "sup", TEST_PW_HASH_B),
	    STORE_OK);
	store_rollback(fx->st);
	assert_int_equal(store_principal_password(fx->st, "sup", pw,
	                     sizeof(TEST_PW_HASH_A)),
	    STORE_OK);
	assert_string_equal(pw, TEST_PW_HASH_A);
}

/* A principal is disabled and enabled again; the roster version moves. */
static void
test_principal_disable(void **state)
{
	struct fixture *fx = *state;
	uint8_t hash[TOKEN_HASH_BYTES], got[TOKEN_HASH_BYTES];
	int64_t v0, v1;
	bool disabled = true;
	char role[16];

	fill_hash(hash, 1);
	assert_int_equal(store_principal_add(fx->st, "gw", "intake", hash,
	                     1000),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_get(fx->st, "gw", role, got,
	                     &disabled),
	    STORE_OK);
	assert_false(disabled);
	assert_int_equal(store_roster_version(fx->st, &v0), STORE_OK);
	assert_int_equal(store_principal_disable(fx->st, "gw", true, 2000),
	    STORE_OK);
	/* Disabling twice keeps the first time. */
	assert_int_equal(store_principal_disable(fx->st, "gw", true, 3000),
	    STORE_OK);
	assert_int_equal(store_principal_disable(fx->st, "nobody", true, 2000),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_roster_version(fx->st, &v1), STORE_OK);
	assert_true(v1 > v0);
	assert_int_equal(query_int(fx->st,
	                     "SELECT disabled_at FROM principals"
	                     " WHERE id = 'gw'"),
	    2000);
	assert_int_equal(store_principal_get(fx->st, "gw", role, got,
	                     &disabled),
	    STORE_OK);
	assert_true(disabled);
	assert_int_equal(store_principal_disable(fx->st, "gw", false, 4000),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_get(fx->st, "gw", role, got,
	                     &disabled),
	    STORE_OK);
	assert_false(disabled);
}

/* Roster load callback: record clinicians and shifts as text. */
static int
record_clinician(void *arg, const struct store_clinician *c)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "c:%s(%s,%s,%s) ", c->id,
	    c->languages, c->skills, c->endpoint ? c->endpoint : "-");
	return 0;
}

/* Roster load callback: record a shift as text. */
static int
record_shift(void *arg, const struct store_shift *s)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "s:%s/%d/%lld-%lld ",
	    s->clinician, s->tier, (long long)s->start_ms,
	    (long long)s->end_ms);
	return 0;
}

/* A clinician is a principal plus a row; a duplicate leaves nothing half-added.
 */
static void
test_clinician_add(void **state)
{
	struct fixture *fx = *state;
	struct store_roster_cbs cbs = { record_clinician, record_shift, NULL };
	struct store_clinician c = { "bob", "Bob", NULL, NULL, NULL };
	uint8_t hash[TOKEN_HASH_BYTES];
	char role[16], out[512] = "";

	add_clinician(fx->st, "ann", "Ann");
	fill_hash(hash, 3);
	assert_int_equal(store_principal_add(fx->st, "bob", "intake", hash,
	                     1000),
	    STORE_OK);
	assert_int_equal(store_clinician_add(fx->st, &c, hash, 1000),
	    STORE_CONFLICT);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_principal_get(fx->st, "ann", role, hash, NULL),
	    STORE_OK);
	assert_string_equal(role, "clinician");
	assert_int_equal(store_principal_get(fx->st, "bob", role, hash, NULL),
	    STORE_OK);
	assert_string_equal(role, "intake");
	cbs.arg = out;
	assert_int_equal(store_roster_load(fx->st, 0, INT64_MAX, &cbs),
	    STORE_OK);
	assert_string_equal(out, "c:ann(en,,sip:x) ");
}

/* A patient needs an existing primary clinician; re-adding replaces. */
static void
test_patient(void **state)
{
	struct fixture *fx = *state;
	char primary[PRINCIPAL_ID_MAX + 1];

	assert_int_equal(store_patient_add(fx->st, "p1", "nobody", NULL),
	    STORE_NOTFOUND);
	add_clinician(fx->st, "ann", "Ann");
	add_clinician(fx->st, "bob", "Bob");
	assert_int_equal(store_patient_add(fx->st, "p1", "ann", "mat"),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_patient_primary(fx->st, "p1", primary),
	    STORE_OK);
	assert_string_equal(primary, "ann");
	assert_int_equal(store_patient_add(fx->st, "p1", "bob", NULL),
	    STORE_OK);
	assert_int_equal(store_patient_primary(fx->st, "p1", primary),
	    STORE_OK);
	assert_string_equal(primary, "bob");
	assert_int_equal(store_patient_primary(fx->st, "p2", primary),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
}

/* One bad row of an import, and what store_import reports for it. */
struct import_case {
	struct store_shift bad;
	int rc;
	const char *error; /* a part of store_error() */
};

static const struct import_case import_cases[] = {
	{ { "nobody", 1, 1000, 2000 }, STORE_NOTFOUND, "nobody" },
	{ { "ann", 1, 2000, 2000 }, STORE_ERROR, "ends before" },
	{ { "ann", 1, 3000, 2000 }, STORE_ERROR, "ends before" },
	{ { "ann", 0, 1000, 2000 }, STORE_ERROR, "tier 0" },
	{ { "ann", 32, 1000, 2000 }, STORE_ERROR, "tier 32" },
};

/* Import rows as a crisisctl would: started at 1000 by process pid. */
static int
import_rows(struct store *st, struct store_import *imp,
    const struct store_shift *rows, size_t nrows, long pid)
{
	*imp = (struct store_import){ .source = "test.csv",
		.pid = pid,
		.started_ms = 1000 };
	return store_shift_import(st, imp, rows, nrows);
}

/* An import with a bad row adds nothing, not even staged, and names the row.
 */
static void
test_shift_import(void **state)
{
	struct fixture *fx = *state;
	struct store_shift rows[3] = {
		{ "ann", 1, 1000, 2000 },
		{ "ann", 2, 2000, 3000 },
	};
	struct store_import imp;

	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_commit(fx->st), 0);
	for (size_t i = 0; i < nitems(import_cases); i++) {
		rows[2] = import_cases[i].bad;
		assert_int_equal(import_rows(fx->st, &imp, rows, 3, 1),
		    import_cases[i].rc);
		assert_int_equal(imp.bad_row, 2);
		assert_non_null(
		    strstr(store_error(fx->st), import_cases[i].error));
		assert_false(store_batch_open(fx->st));
		assert_int_equal(query_int(fx->st,
		                     "SELECT count(*) FROM shifts"),
		    0);
		assert_int_equal(query_int(fx->st,
		                     "SELECT count(*) FROM roster_imports"),
		    0);
	}
	/* An import commits by itself: it refuses to join an open batch. */
	assert_int_equal(store_shift_add(fx->st, &rows[0]), STORE_OK);
	assert_int_equal(import_rows(fx->st, &imp, rows, 2, 1), STORE_ERROR);
	assert_non_null(strstr(store_error(fx->st), "batch is open"));
	assert_int_equal(store_commit(fx->st), 0);
	/* rows[0] is on the roster already: skipped, and counted. */
	assert_int_equal(import_rows(fx->st, &imp, rows, 2, 1), STORE_OK);
	assert_int_equal(imp.bad_row, -1);
	assert_int_equal(imp.skipped, 1);
	assert_true(imp.id > 0);
	assert_true(store_batch_open(fx->st));
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"), 2);
	/* The same file again adds nothing. */
	assert_int_equal(import_rows(fx->st, &imp, rows, 2, 1), STORE_OK);
	assert_int_equal(imp.skipped, 2);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"), 2);
	/* Repeats within a file: the first is kept; another tier is new. */
	rows[2] = rows[1];
	rows[2].tier = 3;
	{
		struct store_shift dup[] = { rows[2], rows[2], rows[1],
			rows[2] };

		assert_int_equal(import_rows(fx->st, &imp, dup, 4, 1),
		    STORE_OK);
		assert_int_equal(imp.skipped, 3);
		assert_int_equal(store_commit(fx->st), 0);
	}
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"), 3);
	assert_int_equal(store_shift_add(fx->st, &import_cases[0].bad),
	    STORE_NOTFOUND);
	store_rollback(fx->st);
}

/* Shifts of ann, one an hour from 0, n of them (caller frees). */
static struct store_shift *
import_hours(size_t n)
{
	struct store_shift *rows = xcalloc(n, sizeof *rows);

	for (size_t i = 0; i < n; i++) {
		rows[i].clinician = "ann";
		rows[i].tier = 1;
		rows[i].start_ms = (int64_t)i * 3600000;
		rows[i].end_ms = rows[i].start_ms + 3600000;
	}
	return rows;
}

/* Roster load callback: count the shifts. */
static int
count_shift(void *arg, const struct store_shift *s)
{
	(void)s;
	(*(int *)arg)++;
	return 0;
}

/* Roster load callback: ignore a clinician. */
static int
skip_clinician(void *arg, const struct store_clinician *c)
{
	(void)arg;
	(void)c;
	return 0;
}

/* The shifts another connection's roster load sees. */
static int
visible_shifts(struct store *st)
{
	int n = 0;
	struct store_roster_cbs cbs = { skip_clinician, count_shift, &n };

	assert_int_equal(store_roster_load(st, 0, INT64_MAX, &cbs), STORE_OK);
	return n;
}

/* The roster version as another connection reads it. */
static int64_t
roster_version(struct store *st)
{
	int64_t v;

	assert_int_equal(store_roster_version(st, &v), STORE_OK);
	return v;
}

/*
 * An import of several chunks is committed chunk by chunk, yet another
 * connection sees none of its shifts, nor a roster change, until the
 * import is done; then all of them, and roster_version moves once.
 */
static void
test_import_visible_when_done(void **state)
{
	struct fixture *fx = *state;
	struct store_shift *rows = import_hours(2501);
	struct store_import imp;
	struct store *other;
	char *cause = NULL;
	int64_t v0;

	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_shift_add(fx->st, &rows[0]), STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	other = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(other);
	v0 = roster_version(other);
	assert_int_equal(visible_shifts(other), 1);

	assert_int_equal(import_rows(fx->st, &imp, rows + 1, 2500, 1),
	    STORE_OK);
	assert_int_equal(imp.skipped, 0);
	/* Staged and committed, but not done: the batch holds that. */
	assert_int_equal(query_int(other, "SELECT count(*) FROM shifts"), 2501);
	assert_int_equal(visible_shifts(other), 1);
	assert_int_equal(roster_version(other), v0);
	assert_int_equal(query_int(other,
	                     "SELECT count(*) FROM roster_imports"
	                     " WHERE done_at IS NULL"),
	    1);

	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(visible_shifts(other), 2501);
	assert_int_equal(roster_version(other), v0 + 1);
	/* A done import stays: no drop, no sweep, no update takes it back. */
	assert_int_equal(store_shift_import_drop(fx->st, imp.id), STORE_OK);
	assert_int_equal(visible_shifts(other), 2501);
	assert_int_not_equal(sqlite3_exec(db_sqlite_handle(fx->st->db),
	                         "UPDATE roster_imports SET done_at = NULL",
	                         NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db_sqlite_handle(fx->st->db),
	                         "DELETE FROM roster_imports", NULL, NULL,
	                         NULL),
	    SQLITE_OK);
	store_close(other);
	free(rows);
}

/*
 * A chunk that fails after others were committed: the staged shifts are
 * removed, the row is named, and nothing was ever visible.
 */
static void
test_import_failure_removes(void **state)
{
	struct fixture *fx = *state;
	struct store_shift *rows = import_hours(2500);
	struct store_import imp;
	int64_t v0;

	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_commit(fx->st), 0);
	v0 = roster_version(fx->st);
	/* Row 2200, in the third chunk at least, cannot be written. */
	assert_int_equal(sqlite3_exec(db_sqlite_handle(fx->st->db),
	                     "CREATE TEMP TRIGGER boom BEFORE INSERT ON shifts"
	                     " WHEN NEW.start_at = 2200 * 3600000"
	                     " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(import_rows(fx->st, &imp, rows, 2500, 1), STORE_ERROR);
	assert_int_equal(imp.bad_row, 2200);
	assert_non_null(strstr(store_error(fx->st), "disk on fire"));
	assert_false(store_batch_open(fx->st));
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"), 0);
	assert_int_equal(query_int(fx->st,
	                     "SELECT count(*) FROM roster_imports"),
	    0);
	assert_int_equal(roster_version(fx->st), v0);
	free(rows);
}

/* The sweep's test of a process: pid 1 runs, any other is gone. */
static bool
gone_unless_1(void *arg, long pid)
{
	(void)arg;
	return pid != 1;
}

/*
 * An import whose crisisctl died before the last commit stays invisible;
 * the sweep removes it once its process is gone or it is stale, and
 * leaves a live one and a done one alone.
 */
static void
test_import_unfinished_swept(void **state)
{
	struct fixture *fx = *state;
	struct store_shift *rows = import_hours(1510);
	struct store_import imp, dead, done;
	char sql[128];
	int dropped;
	int64_t v0;

	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(import_rows(fx->st, &done, rows, 10, 7), STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	v0 = roster_version(fx->st);
	/* Killed before the done batch was committed. */
	assert_int_equal(import_rows(fx->st, &imp, rows + 10, 1500, 1),
	    STORE_OK);
	store_rollback(fx->st);
	/* Another unfinished import's shifts are not the roster's. */
	assert_int_equal(import_rows(fx->st, &dead, rows + 10, 1500, 2),
	    STORE_OK);
	assert_int_equal(dead.skipped, 0);
	store_rollback(fx->st);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"),
	    3010);
	assert_int_equal(visible_shifts(fx->st), 10);

	/* Process 1 runs and its import is recent: only process 2's goes. */
	assert_int_equal(store_shift_import_sweep(fx->st, 0, gone_unless_1,
	                     NULL, &dropped),
	    STORE_OK);
	assert_int_equal(dropped, 1);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"),
	    1510);
	snprintf(sql, sizeof sql,
	    "SELECT count(*) FROM shifts WHERE import = %lld",
	    (long long)dead.id);
	assert_int_equal(query_int(fx->st, sql), 0);
	/* Stale (started at 1000, before 2000), whatever its process. */
	assert_int_equal(store_shift_import_sweep(fx->st, 2000, gone_unless_1,
	                     NULL, &dropped),
	    STORE_OK);
	assert_int_equal(dropped, 1);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"), 10);
	assert_int_equal(query_int(fx->st,
	                     "SELECT count(*) FROM roster_imports"),
	    1);
	assert_int_equal(visible_shifts(fx->st), 10);
	assert_int_equal(roster_version(fx->st), v0);
	snprintf(sql, sizeof sql,
	    "SELECT count(*) FROM roster_imports"
	    " WHERE id = %lld AND done_at IS NOT NULL",
	    (long long)done.id);
	assert_int_equal(query_int(fx->st, sql), 1);
	/* An import dropped meanwhile can never be done. */
	assert_int_equal(import_rows(fx->st, &imp, rows, 10, 1), STORE_OK);
	store_rollback(fx->st);
	assert_int_equal(sqlite3_exec(db_sqlite_handle(fx->st->db),
	                     "UPDATE roster_imports SET dropped_at = 1"
	                     " WHERE done_at IS NULL",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db_sqlite_handle(fx->st->db),
	                         "UPDATE roster_imports SET done_at = 1"
	                         " WHERE dropped_at IS NOT NULL",
	                         NULL, NULL, NULL),
	    SQLITE_OK);
	free(rows);
}

/* Every roster change moves roster_version forward. */
static void
test_roster_version(void **state)
{
	struct fixture *fx = *state;
	struct store_shift sh = { "ann", 1, 1000, 2000 };
	uint8_t hash[TOKEN_HASH_BYTES];
	int64_t v0, v1, v2, v3, v4;

	fill_hash(hash, 0);
	assert_int_equal(store_roster_version(fx->st, &v0), STORE_OK);
	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_roster_version(fx->st, &v1), STORE_OK);
	assert_true(v1 > v0);
	assert_int_equal(store_shift_add(fx->st, &sh), STORE_OK);
	assert_int_equal(store_roster_version(fx->st, &v2), STORE_OK);
	assert_true(v2 > v1);
	assert_int_equal(store_patient_add(fx->st, "p", "ann", NULL), STORE_OK);
	assert_int_equal(store_roster_version(fx->st, &v3), STORE_OK);
	assert_true(v3 > v2);
	assert_int_equal(store_token_set(fx->st, "ann", hash), STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_roster_version(fx->st, &v4), STORE_OK);
	assert_true(v4 > v3);
}

/* Clinicians come first in id order, then the shifts ending after since. */
static void
test_roster_load(void **state)
{
	struct fixture *fx = *state;
	struct store_roster_cbs cbs = { record_clinician, record_shift, NULL };
	static const struct store_shift shifts[] = {
		{ "bob", 2, 5000, 9000 },
		{ "ann", 1, 1000, 3000 },
		{ "ann", 1, 3000, 6000 },
	};
	char out[512] = "";
	struct store_import imp;

	add_clinician(fx->st, "bob", "Bob");
	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(import_rows(fx->st, &imp, shifts, nitems(shifts), 1),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	cbs.arg = out;
	assert_int_equal(store_roster_load(fx->st, 3000, INT64_MAX, &cbs),
	    STORE_OK);
	assert_string_equal(out,
	    "c:ann(en,,sip:x) c:bob(en,,sip:x) "
	    "s:ann/1/3000-6000 s:bob/2/5000-9000 ");
	/* Only the shifts that begin before the horizon. */
	out[0] = '\0';
	assert_int_equal(store_roster_load(fx->st, 3000, 5000, &cbs), STORE_OK);
	assert_string_equal(out,
	    "c:ann(en,,sip:x) c:bob(en,,sip:x) s:ann/1/3000-6000 ");
	out[0] = '\0';
	assert_int_equal(store_roster_load(fx->st, 0, INT64_MAX, &cbs),
	    STORE_OK);
	assert_non_null(strstr(out, "s:ann/1/1000-3000 s:ann/1/3000-6000"));
}

/* A contact is found by its ref; the same ref again conflicts. */
static void
test_contact_insert(void **state)
{
	struct fixture *fx = *state;
	struct store_contact c = { .id = "C2",
		.intake = "gw",
		.ref = "call-1",
		.channel = "text",
		.risk = "low",
		.state = "open",
		.queued_at = 2000,
		.deadline_at = 3000 };
	struct store_contact other = { .intake = "gw",
		.ref = "call-1",
		.channel = "voice",
		.risk = "imminent",
		.needs = "[]" };
	char id[CONTACT_ID_MAX + 1], st[16], intake[PRINCIPAL_ID_MAX + 1];
	bool same = false;

	add_contact(fx->st, "C1", "call-1", 1000);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(find_ref(fx->st, "gw", "call-1", id, &same), STORE_OK);
	assert_string_equal(id, "C1");
	assert_true(same);
	/* The same ref with other fields is found, and told apart. */
	assert_int_equal(store_contact_by_ref(fx->st, &other, id, &same),
	    STORE_OK);
	assert_false(same);
	other.risk = "high";
	other.caller = "+15550100";
	assert_int_equal(store_contact_by_ref(fx->st, &other, id, &same),
	    STORE_OK);
	assert_false(same);
	assert_int_equal(find_ref(fx->st, "gw2", "call-1", id, &same),
	    STORE_NOTFOUND);
	assert_int_equal(store_contact_state(fx->st, "C1", st, intake),
	    STORE_OK);
	assert_string_equal(intake, "gw");
	assert_int_equal(store_contact_state(fx->st, "C9", st, intake),
	    STORE_NOTFOUND);
	assert_int_equal(store_contact_insert(fx->st, &c), STORE_CONFLICT);
	/* The failed insert leaves the batch usable. */
	add_contact(fx->st, "C3", "call-3", 3000);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM contacts"), 2);
}

/* set_state stamps assigned_at or closed_at, and refuses nonsense. */
static void
test_set_state(void **state)
{
	struct fixture *fx = *state;

	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(store_offer_open(fx->st, "C1", "ann", 1, 1000, 21000),
	    STORE_OK);
	assert_int_equal(store_contact_set_state(fx->st, "C1",
	                     STORE_STATE_ASSIGNED, "ann", 4000),
	    STORE_OK);
	assert_int_equal(query_int(fx->st,
	                     "SELECT assigned_at FROM contacts"
	                     " WHERE id = 'C1' AND clinician = 'ann' AND state "
	                     "= 'assigned'"
	                     " AND closed_at IS NULL"),
	    4000);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM offers"), 0);
	assert_int_equal(store_contact_complete(fx->st, "C1", "resolved",
	                     "fine", 9000),
	    STORE_OK);
	assert_int_equal(query_int(fx->st,
	                     "SELECT closed_at FROM contacts"
	                     " WHERE disposition = 'resolved' AND notes = "
	                     "'fine'"
	                     " AND state = 'completed' AND clinician = 'ann'"),
	    9000);

	add_contact(fx->st, "C2", "r2", 1000);
	assert_int_equal(store_contact_set_state(fx->st, "C2",
	                     STORE_STATE_OVERFLOW, NULL, 91000),
	    STORE_OK);
	assert_int_equal(query_int(fx->st,
	                     "SELECT closed_at FROM contacts"
	                     " WHERE id = 'C2' AND clinician IS NULL AND "
	                     "assigned_at IS NULL"),
	    91000);
	assert_int_equal(store_contact_set_route(fx->st, "C2", 3, "{\"t\":3}"),
	    STORE_OK);
	assert_int_equal(query_int(fx->st,
	                     "SELECT tier FROM contacts"
	                     " WHERE id = 'C2' AND route = '{\"t\":3}'"),
	    3);

	assert_int_equal(store_contact_set_state(fx->st, "C9",
	                     STORE_STATE_ABANDONED, NULL, 1),
	    STORE_NOTFOUND);
	assert_int_equal(store_contact_set_state(fx->st, "C2", "lost", NULL, 1),
	    STORE_ERROR);
	assert_int_equal(store_contact_set_state(fx->st, "C2",
	                     STORE_STATE_ASSIGNED, NULL, 1),
	    STORE_ERROR);
	assert_int_equal(store_contact_set_route(fx->st, "C9", 1, "{}"),
	    STORE_NOTFOUND);
	assert_int_equal(store_contact_complete(fx->st, "C9", "other", NULL, 1),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
}

/* Events keep their order and can be neither changed nor removed. */
static void
test_events(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = { "queued", "offered", "declined",
		"escalated", "assigned" };
	sqlite3_stmt *s;
	size_t n = 0;

	add_contact(fx->st, "C1", "r1", 1000);
	for (size_t i = 0; i < nitems(names); i++)
		assert_int_equal(store_event_add(fx->st, "C1", 1000, names[i],
		                     (int)i, i % 2 ? "ann" : NULL, NULL),
		    STORE_OK);
	assert_int_equal(store_event_add(fx->st, "C9", 1, "queued", 0, NULL,
	                     NULL),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);

	assert_int_equal(sqlite3_prepare_v2(db_sqlite_handle(fx->st->db),
	                     "SELECT event,"
	                     " coalesce(tier, 0) FROM contact_events WHERE "
	                     "contact = 'C1'"
	                     " ORDER BY seq",
	                     -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		assert_string_equal(sqlite3_column_text(s, 0), names[n]);
		assert_int_equal(sqlite3_column_int(s, 1), n);
		n++;
	}
	sqlite3_finalize(s);
	assert_int_equal(n, nitems(names));
	assert_int_not_equal(sqlite3_exec(db_sqlite_handle(fx->st->db),
	                         "UPDATE contact_events"
	                         " SET event = 'x'",
	                         NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db_sqlite_handle(fx->st->db),
	                         "DELETE FROM"
	                         " contact_events",
	                         NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(query_int(fx->st,
	                     "SELECT count(*) FROM"
	                     " contact_events WHERE event <> 'x'"),
	    nitems(names));
}

/* Resume callback: record contacts and offers as text. */
static int
record_contact(void *arg, const struct store_contact *c)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "c:%s/%s/%s ", c->id,
	    c->state, c->clinician ? c->clinician : "-");
	return 0;
}

/* Resume callback: record an offer as text. */
static int
record_offer(void *arg, const char *contact, const struct store_offer *o)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "o:%s/%s/%d/%lld ",
	    contact, o->clinician, o->tier, (long long)o->expires_at);
	return 0;
}

/* Resume callback that stops at the first contact. */
static int
refuse_contact(void *arg, const struct store_contact *c)
{
	(void)arg;
	(void)c;
	return -1;
}

/* Offers open and close; resume hands over live contacts with their offers. */
static void
test_offers_resume(void **state)
{
	struct fixture *fx = *state;
	struct store_resume_cbs cbs = { record_contact, record_offer, NULL };
	char out[512] = "";

	add_contact(fx->st, "C2", "r2", 2000);
	add_contact(fx->st, "C1", "r1", 1000);
	add_contact(fx->st, "C3", "r3", 3000);
	add_contact(fx->st, "C4", "r4", 4000);
	assert_int_equal(store_offer_open(fx->st, "C1", "bob", 1, 1000, 21000),
	    STORE_OK);
	assert_int_equal(store_offer_open(fx->st, "C1", "ann", 1, 1000, 21000),
	    STORE_OK);
	assert_int_equal(store_offer_open(fx->st, "C1", "cat", 1, 1000, 21000),
	    STORE_OK);
	assert_int_equal(store_offer_open(fx->st, "C1", "bob", 2, 5000, 25000),
	    STORE_OK);
	assert_int_equal(store_offer_close(fx->st, "C1", "cat"), STORE_OK);
	assert_int_equal(store_offer_close(fx->st, "C1", "cat"),
	    STORE_NOTFOUND);
	assert_int_equal(store_offer_open(fx->st, "C9", "ann", 1, 1, 2),
	    STORE_NOTFOUND);
	assert_int_equal(store_contact_set_state(fx->st, "C3",
	                     STORE_STATE_ABANDONED, NULL, 5000),
	    STORE_OK);
	assert_int_equal(store_contact_set_state(fx->st, "C4",
	                     STORE_STATE_ASSIGNED, "dan", 5000),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	cbs.arg = out;
	assert_int_equal(store_resume_load(fx->st, &cbs), STORE_OK);
	assert_string_equal(out,
	    "c:C1/open/- o:C1/ann/1/21000 "
	    "o:C1/bob/2/25000 c:C2/open/- c:C4/assigned/dan ");
	cbs.contact = refuse_contact;
	assert_int_equal(store_resume_load(fx->st, &cbs), STORE_ERROR);
}

/* Push callback: record sequence numbers and messages as text. */
static int
record_push(void *arg, int64_t seq, const char *message)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "%lld:%s ",
	    (long long)seq, message);
	return 0;
}

/* Pending pushes come oldest first, per intake, paged, until acknowledged. */
static void
test_pushes(void **state)
{
	struct fixture *fx = *state;
	int64_t seq[3], other;
	char out[512] = "", want[512];

	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(store_push_add(fx->st, "gw", "C1", "a", &seq[0]),
	    STORE_OK);
	assert_int_equal(store_push_add(fx->st, "gw2", "C1", "x", &other),
	    STORE_OK);
	assert_int_equal(store_push_add(fx->st, "gw", "C1", "b", &seq[1]),
	    STORE_OK);
	assert_int_equal(store_push_add(fx->st, "gw", "C1", "c", &seq[2]),
	    STORE_OK);
	assert_int_equal(store_push_add(fx->st, "gw", "C9", "d", &other),
	    STORE_NOTFOUND);
	assert_true(seq[0] < seq[1] && seq[1] < seq[2]);
	add_contact(fx->st, "C2", "r2", 1000);
	assert_int_equal(store_push_add(fx->st, "gw", "C2", "e", &other),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	/* Paged: two at a time, then the rest after the last seen. */
	assert_int_equal(store_push_pending(fx->st, "gw", 0, 2, record_push,
	                     out),
	    STORE_OK);
	snprintf(want, sizeof want, "%lld:a %lld:b ", (long long)seq[0],
	    (long long)seq[1]);
	assert_string_equal(out, want);
	out[0] = '\0';
	assert_int_equal(store_push_pending(fx->st, "gw", seq[1], 2,
	                     record_push, out),
	    STORE_OK);
	snprintf(want, sizeof want, "%lld:c %lld:e ", (long long)seq[2],
	    (long long)other);
	assert_string_equal(out, want);
	/* An ack takes every result of the contact, of that intake only. */
	assert_int_equal(store_push_ack(fx->st, "gw", "C1", 7000), STORE_OK);
	assert_int_equal(store_push_ack(fx->st, "gw", "C1", 8000),
	    STORE_NOTFOUND);
	assert_int_equal(store_push_ack(fx->st, "gw", "C9", 7000),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
	out[0] = '\0';
	assert_int_equal(store_push_pending(fx->st, "gw", 0, 100, record_push,
	                     out),
	    STORE_OK);
	snprintf(want, sizeof want, "%lld:e ", (long long)other);
	assert_string_equal(out, want);
	out[0] = '\0';
	assert_int_equal(store_push_unacked(fx->st, "gw", "C1", record_push,
	                     out),
	    STORE_OK);
	assert_string_equal(out, "");
	assert_int_equal(store_push_unacked(fx->st, "gw", "C2", record_push,
	                     out),
	    STORE_OK);
	assert_string_equal(out, want);
	assert_int_equal(query_int(fx->st,
	                     "SELECT count(*) FROM pushes WHERE intake = 'gw2'"
	                     " AND acked_at IS NULL"),
	    1);
	assert_int_equal(query_int(fx->st,
	                     "SELECT acked_at FROM pushes"
	                     " WHERE message = 'b'"),
	    7000);
}

/* Assigned-count callback: record counts as text. */
static int
record_count(void *arg, const char *clinician, int count)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "%s=%d ", clinician,
	    count);
	return 0;
}

/* Assignments are counted per clinician from since_ms on. */
static void
test_assigned_counts(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *id, *ref, *clinician;
		int64_t at;
	} rows[] = {
		{ "C1", "r1", "ann", 1000 },
		{ "C2", "r2", "ann", 5000 },
		{ "C3", "r3", "bob", 6000 },
		{ "C4", "r4", "ann", 7000 },
	};
	char out[512] = "";

	for (size_t i = 0; i < nitems(rows); i++) {
		add_contact(fx->st, rows[i].id, rows[i].ref, 500);
		assert_int_equal(store_contact_set_state(fx->st, rows[i].id,
		                     STORE_STATE_ASSIGNED, rows[i].clinician,
		                     rows[i].at),
		    STORE_OK);
	}
	add_contact(fx->st, "C5", "r5", 500);
	assert_int_equal(store_assigned_counts(fx->st, 5000, record_count, out),
	    STORE_OK);
	assert_string_equal(out, "ann=2 bob=1 ");
	assert_int_equal(store_commit(fx->st), 0);
}

/* Another connection sees a batch only once committed; rollback discards. */
static void
test_batch_visibility(void **state)
{
	struct fixture *fx = *state;
	struct store *other;
	char id[CONTACT_ID_MAX + 1], *cause = NULL;
	bool same;

	other = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(other);
	assert_false(store_batch_open(fx->st));
	add_contact(fx->st, "C1", "r1", 1000);
	assert_true(store_batch_open(fx->st));
	assert_int_equal(find_ref(fx->st, "gw", "r1", id, &same), STORE_OK);
	assert_int_equal(find_ref(other, "gw", "r1", id, &same),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(find_ref(other, "gw", "r1", id, &same), STORE_OK);
	assert_string_equal(id, "C1");

	add_contact(fx->st, "C2", "r2", 2000);
	store_rollback(fx->st);
	assert_false(store_batch_open(fx->st));
	assert_int_equal(find_ref(fx->st, "gw", "r2", id, &same),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(find_ref(other, "gw", "r2", id, &same),
	    STORE_NOTFOUND);
	store_close(other);
}

/* While one connection holds the write lock the other fails, and recovers. */
static void
test_busy_is_an_error(void **state)
{
	struct fixture *fx = *state;
	struct store_contact c = { .id = "C2",
		.intake = "gw",
		.ref = "r2",
		.channel = "chat",
		.risk = "low",
		.state = "open",
		.queued_at = 1,
		.deadline_at = 2 };
	struct store *other;
	char *cause = NULL;

	other = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(other);
	sqlite3_busy_timeout(db_sqlite_handle(other->db), 10);
	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(store_contact_insert(other, &c), STORE_ERROR);
	assert_non_null(strstr(store_error(other), "lock"));
	/*
	 * The batch that could not begin is lost: the next write fails at
	 * once instead of waiting on the lock again, and the commit fails
	 * with the first reason.
	 */
	assert_true(store_batch_open(other));
	assert_int_equal(store_event_add(other, "C1", 1, "queued", 0, NULL,
	                     NULL),
	    STORE_ERROR);
	assert_int_equal(store_commit(other), -1);
	assert_non_null(strstr(store_error(other), "lock"));
	assert_false(store_batch_open(other));
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_contact_insert(other, &c), STORE_OK);
	assert_int_equal(store_commit(other), 0);
	store_close(other);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM contacts"), 2);
}

/*
 * A batch SQLite rolled back by itself (as after a full disk) refuses
 * further writes and fails its commit, so later writes never commit
 * without the lost ones; after that the store works again.
 */
static void
test_batch_lost(void **state)
{
	struct fixture *fx = *state;
	char id[CONTACT_ID_MAX + 1];
	bool same;

	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(sqlite3_exec(db_sqlite_handle(fx->st->db), "ROLLBACK",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(store_event_add(fx->st, "C1", 1, "queued", 0, NULL,
	                     NULL),
	    STORE_ERROR);
	assert_non_null(strstr(store_error(fx->st), "rolled back"));
	assert_true(store_batch_open(fx->st));
	assert_int_equal(store_commit(fx->st), -1);
	assert_false(store_batch_open(fx->st));
	assert_int_equal(find_ref(fx->st, "gw", "r1", id, &same),
	    STORE_NOTFOUND);
	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(find_ref(fx->st, "gw", "r1", id, &same), STORE_OK);
}

/* A test with its own scratch database, made and removed around it. */
#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* Run every test on a fresh scratch database. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(test_open_migrate_reopen),
		STORE_TEST(test_open_existing_missing),
		STORE_TEST(test_version_mismatch),
		STORE_TEST(test_mode_0600),
		STORE_TEST(test_principal),
		STORE_TEST(test_token_set),
		STORE_TEST(test_principal_disable),
		STORE_TEST(test_password_set),
		STORE_TEST(test_password_refusals),
		STORE_TEST(test_clinician_add),
		STORE_TEST(test_patient),
		STORE_TEST(test_shift_import),
		STORE_TEST(test_import_visible_when_done),
		STORE_TEST(test_import_failure_removes),
		STORE_TEST(test_import_unfinished_swept),
		STORE_TEST(test_roster_version),
		STORE_TEST(test_roster_load),
		STORE_TEST(test_contact_insert),
		STORE_TEST(test_set_state),
		STORE_TEST(test_events),
		STORE_TEST(test_offers_resume),
		STORE_TEST(test_pushes),
		STORE_TEST(test_assigned_counts),
		STORE_TEST(test_batch_visibility),
		STORE_TEST(test_busy_is_an_error),
		STORE_TEST(test_batch_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
