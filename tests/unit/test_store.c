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

	assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &s, NULL),
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
	assert_int_equal(store_principal_get(fx->st, "gw", role, got),
	    STORE_OK);
	assert_string_equal(role, "intake");
	assert_memory_equal(got, hash, TOKEN_HASH_BYTES);
	assert_int_equal(store_principal_get(fx->st, "nobody", role, got),
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
	assert_int_equal(store_principal_get(fx->st, "sup", role, got),
	    STORE_OK);
	assert_memory_equal(got, hash, TOKEN_HASH_BYTES);
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
	assert_int_equal(store_principal_get(fx->st, "ann", role, hash),
	    STORE_OK);
	assert_string_equal(role, "clinician");
	assert_int_equal(store_principal_get(fx->st, "bob", role, hash),
	    STORE_OK);
	assert_string_equal(role, "intake");
	cbs.arg = out;
	assert_int_equal(store_roster_load(fx->st, 0, &cbs), STORE_OK);
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

/* An import with a bad row adds nothing and names the row. */
static void
test_shift_import(void **state)
{
	struct fixture *fx = *state;
	struct store_shift rows[3] = {
		{ "ann", 1, 1000, 2000 },
		{ "ann", 2, 2000, 3000 },
	};
	long bad;

	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_commit(fx->st), 0);
	for (size_t i = 0; i < nitems(import_cases); i++) {
		rows[2] = import_cases[i].bad;
		assert_int_equal(store_shift_import(fx->st, rows, 3, &bad),
		    import_cases[i].rc);
		assert_int_equal(bad, 2);
		assert_non_null(
		    strstr(store_error(fx->st), import_cases[i].error));
		assert_int_equal(store_commit(fx->st), 0);
		assert_int_equal(query_int(fx->st,
		                     "SELECT count(*) FROM shifts"),
		    0);
	}
	/* Inside a batch, a failed import keeps the batch's earlier writes. */
	assert_int_equal(store_shift_add(fx->st, &rows[0]), STORE_OK);
	assert_int_equal(store_shift_import(fx->st, rows, 3, &bad),
	    STORE_ERROR);
	assert_int_equal(store_shift_import(fx->st, rows, 2, &bad), STORE_OK);
	assert_int_equal(bad, -1);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(query_int(fx->st, "SELECT count(*) FROM shifts"), 3);
	assert_int_equal(store_shift_add(fx->st, &import_cases[0].bad),
	    STORE_NOTFOUND);
	store_rollback(fx->st);
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
	long bad;

	add_clinician(fx->st, "bob", "Bob");
	add_clinician(fx->st, "ann", "Ann");
	assert_int_equal(store_shift_import(fx->st, shifts, nitems(shifts),
	                     &bad),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
	cbs.arg = out;
	assert_int_equal(store_roster_load(fx->st, 3000, &cbs), STORE_OK);
	assert_string_equal(out,
	    "c:ann(en,,sip:x) c:bob(en,,sip:x) "
	    "s:ann/1/3000-6000 s:bob/2/5000-9000 ");
	out[0] = '\0';
	assert_int_equal(store_roster_load(fx->st, 0, &cbs), STORE_OK);
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
	char id[CONTACT_ID_MAX + 1], st[16], intake[PRINCIPAL_ID_MAX + 1];

	add_contact(fx->st, "C1", "call-1", 1000);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_contact_by_ref(fx->st, "gw", "call-1", id, st),
	    STORE_OK);
	assert_string_equal(id, "C1");
	assert_string_equal(st, "open");
	assert_int_equal(store_contact_by_ref(fx->st, "gw2", "call-1", id, st),
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

	assert_int_equal(sqlite3_prepare_v2(fx->st->db,
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
	assert_int_not_equal(sqlite3_exec(fx->st->db,
	                         "UPDATE contact_events"
	                         " SET event = 'x'",
	                         NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(fx->st->db,
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

/* Pending pushes come oldest first, per intake, until delivered. */
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
	assert_int_equal(store_push_delivered(fx->st, seq[1], 7000), STORE_OK);
	assert_int_equal(store_push_delivered(fx->st, seq[1], 8000), STORE_OK);
	assert_int_equal(store_push_delivered(fx->st, 999999, 7000),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_push_pending(fx->st, "gw", record_push, out),
	    STORE_OK);
	snprintf(want, sizeof want, "%lld:a %lld:c ", (long long)seq[0],
	    (long long)seq[2]);
	assert_string_equal(out, want);
	assert_int_equal(query_int(fx->st,
	                     "SELECT delivered_at FROM pushes"
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
	char id[CONTACT_ID_MAX + 1], st[16], *cause = NULL;

	other = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(other);
	assert_false(store_batch_open(fx->st));
	add_contact(fx->st, "C1", "r1", 1000);
	assert_true(store_batch_open(fx->st));
	assert_int_equal(store_contact_by_ref(fx->st, "gw", "r1", id, st),
	    STORE_OK);
	assert_int_equal(store_contact_by_ref(other, "gw", "r1", id, st),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_contact_by_ref(other, "gw", "r1", id, st),
	    STORE_OK);
	assert_string_equal(id, "C1");

	add_contact(fx->st, "C2", "r2", 2000);
	store_rollback(fx->st);
	assert_false(store_batch_open(fx->st));
	assert_int_equal(store_contact_by_ref(fx->st, "gw", "r2", id, st),
	    STORE_NOTFOUND);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_contact_by_ref(other, "gw", "r2", id, st),
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
	sqlite3_busy_timeout(other->db, 10);
	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(store_contact_insert(other, &c), STORE_ERROR);
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
	char id[CONTACT_ID_MAX + 1], st[16];

	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(sqlite3_exec(fx->st->db, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(store_event_add(fx->st, "C1", 1, "queued", 0, NULL,
	                     NULL),
	    STORE_ERROR);
	assert_non_null(strstr(store_error(fx->st), "rolled back"));
	assert_true(store_batch_open(fx->st));
	assert_int_equal(store_commit(fx->st), -1);
	assert_false(store_batch_open(fx->st));
	assert_int_equal(store_contact_by_ref(fx->st, "gw", "r1", id, st),
	    STORE_NOTFOUND);
	add_contact(fx->st, "C1", "r1", 1000);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_contact_by_ref(fx->st, "gw", "r1", id, st),
	    STORE_OK);
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
		STORE_TEST(test_clinician_add),
		STORE_TEST(test_patient),
		STORE_TEST(test_shift_import),
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
