/*
 * store_roster.c: principals, clinicians, patients and shifts.  crisisctl
 * writes them (each call joins the batch; crisisctl then commits), the
 * daemon reads them whenever roster_version moves.
 *
 * A roster import is the exception: up to 100,000 shifts in one
 * transaction would hold the write lock for a second or more, and the
 * daemon waits on it for 100 ms at most (CONTRACT §5).  So an import stages
 * its shifts in short transactions, with pauses between them for the
 * daemon, under an import that is not done; readers see none of them
 * (STORE_SHIFT_VISIBLE) until one last small transaction marks it done.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roster.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* Add a principal; STORE_CONFLICT if id is taken. */
int
store_principal_add(struct store *st, const char *id, const char *role,
    const uint8_t hash[TOKEN_HASH_BYTES], int64_t now_ms)
{
	struct db_stmt *s;
	int rc;

	if (store_batch_begin(st) != STORE_OK ||
	    (s = store_stmt(st, STORE_STMT_PRINCIPAL_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | store_bind_text(s, 2, role) |
	        db_bind_blob(s, 3, hash, TOKEN_HASH_BYTES) |
	        db_bind_int64(s, 4, now_ms)) != DB_OK) {
		return store_fail(st, "add principal");
	}
	rc = store_step_write(st, s, "add principal");
	if (rc == STORE_CONFLICT)
		store_set_error(st, "principal %s already exists", id);
	return rc;
}

/* Insert the clinician row of a principal just added. */
static int
store_roster_clinician_insert(struct store *st, const struct store_clinician *c)
{
	struct db_stmt *s;

	if ((s = store_stmt(st, STORE_STMT_CLINICIAN_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, c->id) | store_bind_text(s, 2, c->name) |
	        store_bind_text(s, 3,
	            c->languages != NULL ? c->languages : "") |
	        store_bind_text(s, 4, c->skills != NULL ? c->skills : "") |
	        store_bind_text(s, 5, c->endpoint)) != DB_OK) {
		return store_fail(st, "add clinician");
	}
	return store_step_write(st, s, "add clinician");
}

/* Add the principal (role clinician) and its clinician row together. */
int
store_clinician_add(struct store *st, const struct store_clinician *c,
    const uint8_t hash[TOKEN_HASH_BYTES], int64_t now_ms)
{
	int rc;

	if (store_savepoint(st) != STORE_OK)
		return STORE_ERROR;
	rc = store_principal_add(st, c->id, "clinician", hash, now_ms);
	if (rc == STORE_OK)
		rc = store_roster_clinician_insert(st, c);
	if (store_savepoint_end(st, rc == STORE_OK) != STORE_OK)
		return STORE_ERROR;
	return rc;
}

/* Replace a principal's token hash; STORE_NOTFOUND if no such principal. */
int
store_token_set(struct store *st, const char *id,
    const uint8_t hash[TOKEN_HASH_BYTES])
{
	struct db_stmt *s;
	int rc;

	if (store_batch_begin(st) != STORE_OK ||
	    (s = store_stmt(st, STORE_STMT_TOKEN_SET)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) |
	        db_bind_blob(s, 2, hash, TOKEN_HASH_BYTES)) != DB_OK) {
		return store_fail(st, "set token");
	}
	if ((rc = store_step_write(st, s, "set token")) != STORE_OK)
		return rc;
	if (store_changes(st) == 0) {
		store_set_error(st, "no principal %s", id);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* Fill a principal's role and token hash; STORE_NOTFOUND if unknown. */
int
store_principal_get(struct store *st, const char *id, char role[16],
    uint8_t hash[TOKEN_HASH_BYTES], bool *disabled)
{
	struct db_stmt *s;
	const char *r;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_PRINCIPAL_GET)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != DB_OK) {
		return store_fail(st, "get principal");
	}
	if ((rc = store_step_read(st, s, "get principal")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "no principal %s", id);
		return rc;
	}
	r = (const char *)db_column_text(s, 0);
	if (r == NULL || strlen(r) >= 16 ||
	    db_column_bytes(s, 1) != TOKEN_HASH_BYTES) {
		store_set_error(st, "principal %s: malformed row", id);
		db_reset(s);
		return STORE_ERROR;
	}
	strlcpy_(role, r, 16);
	memcpy(hash, db_column_blob(s, 1), TOKEN_HASH_BYTES);
	if (disabled != NULL)
		*disabled = db_column_int(s, 2) != 0;
	db_reset(s);
	return STORE_OK;
}

/* Disable or enable a principal; STORE_NOTFOUND if there is none. */
int
store_principal_disable(struct store *st, const char *id, bool disabled,
    int64_t now_ms)
{
	struct db_stmt *s;
	int rc;

	if (store_batch_begin(st) != STORE_OK ||
	    (s = store_stmt(st, STORE_STMT_PRINCIPAL_DISABLE)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | db_bind_int64(s, 2, disabled) |
	        db_bind_int64(s, 3, now_ms)) != DB_OK)
		return store_fail(st, "disable principal");
	if ((rc = store_step_write(st, s, "disable principal")) != STORE_OK)
		return rc;
	if (store_changes(st) == 0) {
		store_set_error(st, "no principal %s", id);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* Add or replace a patient; STORE_NOTFOUND if the primary is no clinician. */
int
store_patient_add(struct store *st, const char *id, const char *primary,
    const char *program)
{
	struct db_stmt *s;
	int rc;

	if (store_batch_begin(st) != STORE_OK ||
	    (s = store_stmt(st, STORE_STMT_PATIENT_UPSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | store_bind_text(s, 2, primary) |
	        store_bind_text(s, 3, program)) != DB_OK) {
		return store_fail(st, "add patient");
	}
	rc = store_step_write(st, s, "add patient");
	if (rc == STORE_NOTFOUND)
		store_set_error(st, "no clinician %s", primary);
	return rc;
}

/* The patient's primary clinician into out; STORE_NOTFOUND if unknown. */
int
store_patient_primary(struct store *st, const char *patient,
    char out[PRINCIPAL_ID_MAX + 1])
{
	struct db_stmt *s;
	const char *id;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_PATIENT_PRIMARY)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, patient) != DB_OK) {
		return store_fail(st, "patient primary");
	}
	if ((rc = store_step_read(st, s, "patient primary")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "no such patient");
		return rc;
	}
	id = (const char *)db_column_text(s, 0);
	strlcpy_(out, id != NULL ? id : "", PRINCIPAL_ID_MAX + 1);
	db_reset(s);
	return STORE_OK;
}

/* Is the shift's tier in range and does it end after it starts? */
static int
store_roster_shift_valid(struct store *st, const struct store_shift *sh)
{
	if (sh->tier < 1 || sh->tier > ROSTER_TIER_MAX) {
		store_set_error(st, "tier %d is not in 1..%d", sh->tier,
		    ROSTER_TIER_MAX);
		return STORE_ERROR;
	}
	if (sh->end_ms <= sh->start_ms) {
		store_set_error(st, "shift of %s ends before it starts",
		    sh->clinician);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * Insert one shift into the open batch, staged under import (0: none).  The
 * tier and the times are checked here so the message can say what is
 * wrong; the clinician is left to the foreign key, which is checked anyway.
 */
static int
store_roster_shift_insert(struct store *st, const struct store_shift *sh,
    int64_t import)
{
	struct db_stmt *s;
	int rc;

	if ((rc = store_roster_shift_valid(st, sh)) != STORE_OK)
		return rc;
	if ((s = store_stmt(st, STORE_STMT_SHIFT_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, sh->clinician) |
	        db_bind_int64(s, 2, sh->tier) |
	        db_bind_int64(s, 3, sh->start_ms) |
	        db_bind_int64(s, 4, sh->end_ms) |
	        (import != 0 ? db_bind_int64(s, 5, import)
	                     : db_bind_null(s, 5))) != DB_OK) {
		return store_fail(st, "add shift");
	}
	rc = store_step_write(st, s, "add shift");
	if (rc == STORE_NOTFOUND)
		store_set_error(st, "no clinician %s", sh->clinician);
	return rc;
}

/* Add one shift; STORE_NOTFOUND if the clinician is unknown. */
int
store_shift_add(struct store *st, const struct store_shift *s)
{
	if (store_batch_begin(st) != STORE_OK)
		return STORE_ERROR;
	return store_roster_shift_insert(st, s, 0);
}

/* --- roster import: staged in chunks, visible at once --- */

/*
 * A staging transaction holds at most this many rows, and holds the write
 * lock for at most about STORE_IMPORT_CHUNK_MS (the clock is read every
 * STORE_IMPORT_CLOCK_ROWS rows), however slow or loaded the machine.
 */
#define STORE_IMPORT_CHUNK_ROWS 1000
#define STORE_IMPORT_CHUNK_MS 8
#define STORE_IMPORT_CLOCK_ROWS 50
/*
 * The pause after each transaction of an import, with the write lock free.
 * crisisd looks for a taken lock every millisecond (for up to 100 ms), and
 * another crisisctl with SQLite's busy handler at most 25 ms apart: a
 * pause this long always holds a look, so each gets the lock after one
 * chunk at most, never after several.
 */
#define STORE_IMPORT_PAUSE_MS 25

/* Leave the write lock free for a while between two transactions. */
static void
store_roster_pause(void)
{
	struct timespec ts = { 0, STORE_IMPORT_PAUSE_MS * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* STORE_OK if id is a clinician, else STORE_NOTFOUND saying so. */
static int
store_roster_clinician_known(struct store *st, const char *id)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_SHIFT_CLINICIAN)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != DB_OK)
		return store_fail(st, "find clinician");
	if ((rc = store_step_read(st, s, "find clinician")) == STORE_OK)
		db_reset(s);
	else if (rc == STORE_NOTFOUND)
		store_set_error(st, "no clinician %s", id);
	return rc;
}

/*
 * Check every row before anything is written, so a bad row is reported
 * as it always was and a good file seldom fails half-staged; *bad is the
 * first bad row.  Rows come grouped by clinician, so each run of one
 * clinician is looked up once.
 */
static int
store_roster_import_check(struct store *st, const struct store_shift *rows,
    size_t nrows, long *bad)
{
	const char *known = NULL;
	bool opened;
	int rc = STORE_OK;

	if (store_snapshot_begin(st, &opened) != STORE_OK)
		return STORE_ERROR;
	for (size_t i = 0; i < nrows && rc == STORE_OK; i++) {
		rc = store_roster_shift_valid(st, &rows[i]);
		if (rc == STORE_OK &&
		    (known == NULL || strcmp(known, rows[i].clinician) != 0)) {
			rc =
			    store_roster_clinician_known(st, rows[i].clinician);
			known = rows[i].clinician;
		}
		if (rc != STORE_OK)
			*bad = (long)i;
	}
	store_snapshot_end(st, opened);
	return rc;
}

/* Record a new import, not done, in the open batch; its id into *id. */
static int
store_roster_import_begin(struct store *st, const struct store_import *imp,
    size_t nrows, int64_t *id)
{
	struct db_stmt *s;

	if ((s = store_stmt(st, STORE_STMT_SHIFT_IMPORT_BEGIN)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, imp->source) |
	        db_bind_int64(s, 2, imp->pid) |
	        db_bind_int64(s, 3, (int64_t)nrows) |
	        db_bind_int64(s, 4, imp->started_ms)) != DB_OK)
		return store_fail(st, "begin import");
	return store_step_insert(st, s, "begin import", id);
}

/*
 * A shift of the roster, or staged already by this import, that is the
 * same as ?1..?4 (clinician, tier, start, end); ?5 is the import.  The
 * lookup goes by shifts_tier_start.
 */
static const char store_roster_dup_sql[] =
    "SELECT 1 FROM shifts WHERE tier = ?2 AND start_at = ?3"
    " AND clinician = ?1 AND end_at = ?4"
    " AND (import = ?5 OR " STORE_SHIFT_VISIBLE ") LIMIT 1";

/* Set *dup if sh repeats a shift of the roster or of import id. */
static int
store_roster_import_dup(struct store *st, struct db_stmt *s,
    const struct store_shift *sh, int64_t id, bool *dup)
{
	int rc;

	if ((store_bind_text(s, 1, sh->clinician) |
	        db_bind_int64(s, 2, sh->tier) |
	        db_bind_int64(s, 3, sh->start_ms) |
	        db_bind_int64(s, 4, sh->end_ms) | db_bind_int64(s, 5, id)) !=
	    DB_OK)
		return store_fail(st, "find shift");
	rc = store_step_read(st, s, "find shift");
	db_reset(s);
	if (rc == STORE_ERROR)
		return rc;
	*dup = rc == STORE_OK;
	return STORE_OK;
}

/*
 * Stage the rows from *next on in one transaction, until the chunk is full
 * or has held the lock long enough, and commit them; the first chunk also
 * records the import (imp->id is set once that is committed).
 */
static int
store_roster_import_chunk(struct store *st, struct store_import *imp,
    struct db_stmt *dups, const struct store_shift *rows, size_t nrows,
    size_t *next)
{
	size_t i = *next, end = nrows, skipped = 0;
	bool dup = false;
	int64_t id = imp->id, t0;
	int rc = STORE_OK;

	if (end - i > STORE_IMPORT_CHUNK_ROWS)
		end = i + STORE_IMPORT_CHUNK_ROWS;
	if (store_batch_begin(st) != STORE_OK) {
		store_rollback(st);
		return STORE_ERROR;
	}
	t0 = util_monotonic_ms();
	if (id == 0)
		rc = store_roster_import_begin(st, imp, nrows, &id);
	while (rc == STORE_OK && i < end) {
		rc = store_roster_import_dup(st, dups, &rows[i], id, &dup);
		if (rc == STORE_OK && dup)
			skipped++;
		else if (rc == STORE_OK)
			rc = store_roster_shift_insert(st, &rows[i], id);
		if (rc != STORE_OK)
			imp->bad_row = (long)i;
		else if (++i % STORE_IMPORT_CLOCK_ROWS == 0 &&
		    util_monotonic_ms() - t0 >= STORE_IMPORT_CHUNK_MS)
			break;
	}
	if (rc != STORE_OK) {
		store_rollback(st);
		return rc;
	}
	if (store_commit(st) != 0)
		return STORE_ERROR;
	imp->id = id;
	imp->skipped += skipped;
	*next = i;
	return STORE_OK;
}

/*
 * Open the batch with the import marked done in it.  It fails if another
 * crisisctl took the import for abandoned and dropped it meanwhile.
 */
static int
store_roster_import_done(struct store *st, const struct store_import *imp)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_write_stmt(st, STORE_STMT_SHIFT_IMPORT_DONE)) == NULL)
		return STORE_ERROR;
	if ((db_bind_int64(s, 1, imp->id) |
	        db_bind_int64(s, 2, util_now_ms())) != DB_OK)
		return store_fail(st, "finish import");
	if ((rc = store_step_write(st, s, "finish import")) != STORE_OK)
		return rc;
	if (store_changes(st) == 0) {
		store_set_error(st,
		    "roster import %lld was dropped meanwhile, as "
		    "abandoned, by another crisisctl; run it again",
		    (long long)imp->id);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * Check every row, stage them all in short transactions, then open the
 * batch with the import done in it (the caller commits it).  On failure
 * whatever was staged is removed.
 */
int
store_shift_import(struct store *st, struct store_import *imp,
    const struct store_shift *rows, size_t nrows)
{
	char why[STORE_ERROR_BYTES];
	struct db_stmt *dups = NULL;
	size_t next = 0;
	int rc;

	imp->id = 0;
	imp->bad_row = -1;
	imp->skipped = 0;
	if (st->batch) {
		store_set_error(st,
		    "roster import: a batch is open; commit it "
		    "first");
		return STORE_ERROR;
	}
	if ((rc = store_roster_import_check(st, rows, nrows, &imp->bad_row)) !=
	    STORE_OK)
		return rc;
	if (db_prepare(st->db, store_roster_dup_sql, false, &dups) != DB_OK)
		return store_fail(st, "find shift");
	do {
		if (imp->id != 0)
			store_roster_pause();
		rc = store_roster_import_chunk(st, imp, dups, rows, nrows,
		    &next);
	} while (rc == STORE_OK && next < nrows);
	db_finalize(dups);
	if (rc == STORE_OK) {
		store_roster_pause();
		rc = store_roster_import_done(st, imp);
	}
	if (rc != STORE_OK) {
		/* Removing the staged rows must not hide why they failed. */
		memcpy(why, st->error, sizeof why);
		store_rollback(st);
		if (imp->id != 0)
			store_shift_import_drop(st, imp->id);
		memcpy(st->error, why, sizeof why);
	}
	return rc;
}

/*
 * Claim an unfinished import for removal, so it can never be done; STORE_OK
 * whether it was claimed now or before (or is done: then nothing happens).
 */
static int
store_roster_import_claim(struct store *st, int64_t id)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_write_stmt(st, STORE_STMT_SHIFT_IMPORT_CLAIM)) == NULL) {
		store_rollback(st);
		return STORE_ERROR;
	}
	if ((db_bind_int64(s, 1, id) | db_bind_int64(s, 2, util_now_ms())) !=
	    DB_OK)
		rc = store_fail(st, "drop import");
	else
		rc = store_step_write(st, s, "drop import");
	if (rc != STORE_OK) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st) == 0 ? STORE_OK : STORE_ERROR;
}

/*
 * Delete up to one chunk of a dropped import's shifts, and the import
 * itself once none is left, in one transaction; *more if some may remain.
 */
static int
store_roster_import_remove(struct store *st, int64_t id, bool *more)
{
	struct db_stmt *s, *f;
	int rc;

	*more = false;
	if ((s = store_write_stmt(st, STORE_STMT_SHIFT_IMPORT_REMOVE)) ==
	        NULL ||
	    (f = store_stmt(st, STORE_STMT_SHIFT_IMPORT_FORGET)) == NULL) {
		store_rollback(st);
		return STORE_ERROR;
	}
	if ((db_bind_int64(s, 1, id) |
	        db_bind_int64(s, 2, STORE_IMPORT_CHUNK_ROWS)) != DB_OK ||
	    db_bind_int64(f, 1, id) != DB_OK)
		rc = store_fail(st, "remove import");
	else if ((rc = store_step_write(st, s, "remove import")) == STORE_OK) {
		*more = store_changes(st) == STORE_IMPORT_CHUNK_ROWS;
		if (!*more)
			rc = store_step_write(st, f, "remove import");
	}
	if (rc != STORE_OK) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st) == 0 ? STORE_OK : STORE_ERROR;
}

/* Claim an unfinished import, then delete its shifts and itself in chunks. */
int
store_shift_import_drop(struct store *st, int64_t id)
{
	bool more = true;
	int rc;

	if (st->batch) {
		store_set_error(st, "drop import: a batch is open");
		return STORE_ERROR;
	}
	rc = store_roster_import_claim(st, id);
	while (rc == STORE_OK && more) {
		if ((rc = store_roster_import_remove(st, id, &more)) ==
		        STORE_OK &&
		    more)
			store_roster_pause();
	}
	return rc;
}

/* An unfinished import, as the sweep sees it. */
struct store_roster_unfinished {
	int64_t id;
	long pid;
	int64_t started_ms;
	bool dropped; /* claimed by a drop that did not finish */
};

/* Every unfinished import, oldest first, into *out (caller frees). */
static int
store_roster_import_list(struct store *st, struct store_roster_unfinished **out,
    size_t *n)
{
	struct store_roster_unfinished *u = NULL;
	size_t cap = 0;
	struct db_stmt *s;
	int rc;

	*n = 0;
	if ((s = store_stmt(st, STORE_STMT_SHIFT_IMPORT_UNFINISHED)) == NULL)
		return STORE_ERROR;
	while (
	    (rc = store_step_read(st, s, "unfinished imports")) == STORE_OK) {
		if (*n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			u = xreallocarray(u, cap, sizeof *u);
		}
		u[*n].id = db_column_int64(s, 0);
		u[*n].pid = (long)db_column_int64(s, 1);
		u[*n].started_ms = db_column_int64(s, 2);
		u[*n].dropped = db_column_int(s, 3) != 0;
		(*n)++;
	}
	*out = u;
	return rc == STORE_NOTFOUND ? STORE_OK : STORE_ERROR;
}

/* Drop every unfinished import that is stale or whose process is gone. */
int
store_shift_import_sweep(struct store *st, int64_t stale_before_ms,
    bool (*gone)(void *arg, long pid), void *arg, int *dropped)
{
	struct store_roster_unfinished *u = NULL;
	size_t n = 0;
	int rc;

	*dropped = 0;
	if (st->batch) {
		store_set_error(st, "sweep imports: a batch is open");
		return STORE_ERROR;
	}
	rc = store_roster_import_list(st, &u, &n);
	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		if (!u[i].dropped && u[i].started_ms >= stale_before_ms &&
		    !gone(arg, u[i].pid))
			continue;
		if ((rc = store_shift_import_drop(st, u[i].id)) == STORE_OK)
			(*dropped)++;
	}
	free(u);
	return rc;
}

/* The roster version the triggers bump on every roster change. */
int
store_roster_version(struct store *st, int64_t *version)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_ROSTER_VERSION)) == NULL)
		return STORE_ERROR;
	if ((rc = store_step_read(st, s, "roster version")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "roster version: no meta row");
		return STORE_ERROR;
	}
	*version = db_column_int64(s, 0);
	db_reset(s);
	return STORE_OK;
}

/* Hand every clinician row to the callback, in id order. */
static int
store_roster_load_clinicians(struct store *st,
    const struct store_roster_cbs *cbs)
{
	struct store_clinician c;
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_ROSTER_CLINICIANS)) == NULL)
		return STORE_ERROR;
	while ((rc = store_step_read(st, s, "load clinicians")) == STORE_OK) {
		c.id = (const char *)db_column_text(s, 0);
		c.name = (const char *)db_column_text(s, 1);
		c.languages = (const char *)db_column_text(s, 2);
		c.skills = (const char *)db_column_text(s, 3);
		c.endpoint = (const char *)db_column_text(s, 4);
		if (cbs->clinician(cbs->arg, &c) == -1) {
			db_reset(s);
			store_set_error(st,
			    "roster load stopped at "
			    "clinician %s",
			    c.id);
			return STORE_ERROR;
		}
	}
	return rc == STORE_NOTFOUND ? STORE_OK : STORE_ERROR;
}

/* Hand every shift ending after since_ms to the callback. */
static int
store_roster_load_shifts(struct store *st, int64_t since_ms, int64_t until_ms,
    const struct store_roster_cbs *cbs)
{
	struct store_shift sh;
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_ROSTER_SHIFTS)) == NULL)
		return STORE_ERROR;
	if ((db_bind_int64(s, 1, since_ms) | db_bind_int64(s, 2, until_ms)) !=
	    DB_OK) {
		return store_fail(st, "load shifts");
	}
	while ((rc = store_step_read(st, s, "load shifts")) == STORE_OK) {
		sh.clinician = (const char *)db_column_text(s, 0);
		sh.tier = db_column_int(s, 1);
		sh.start_ms = db_column_int64(s, 2);
		sh.end_ms = db_column_int64(s, 3);
		if (cbs->shift(cbs->arg, &sh) == -1) {
			db_reset(s);
			store_set_error(st,
			    "roster load stopped at a shift "
			    "of %s",
			    sh.clinician);
			return STORE_ERROR;
		}
	}
	return rc == STORE_NOTFOUND ? STORE_OK : STORE_ERROR;
}

/*
 * Every clinician, then every shift overlapping [since_ms, until_ms), from
 * one snapshot so a concurrent crisisctl cannot slip a shift of a clinician
 * the first read did not see between the two.
 */
int
store_roster_load(struct store *st, int64_t since_ms, int64_t until_ms,
    const struct store_roster_cbs *cbs)
{
	bool opened;
	int rc;

	if (store_snapshot_begin(st, &opened) != STORE_OK)
		return STORE_ERROR;
	rc = store_roster_load_clinicians(st, cbs);
	if (rc == STORE_OK)
		rc = store_roster_load_shifts(st, since_ms, until_ms, cbs);
	store_snapshot_end(st, opened);
	return rc;
}
