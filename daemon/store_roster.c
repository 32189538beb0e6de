/*
 * store_roster.c: principals, clinicians, patients and shifts.  crisisctl
 * writes them (each call joins the batch; crisisctl then commits), the
 * daemon reads them whenever roster_version moves.
 */

#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "roster.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* Add a principal; STORE_CONFLICT if id is taken. */
int
store_principal_add(struct store *st, const char *id, const char *role,
    const uint8_t hash[TOKEN_HASH_BYTES], int64_t now_ms)
{
	sqlite3_stmt *s;
	int rc;

	if (store_batch_begin(st) != STORE_OK ||
	    (s = store_stmt(st, STORE_STMT_PRINCIPAL_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | store_bind_text(s, 2, role) |
	        sqlite3_bind_blob(s, 3, hash, TOKEN_HASH_BYTES, SQLITE_STATIC) |
	        sqlite3_bind_int64(s, 4, now_ms)) != SQLITE_OK) {
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
	sqlite3_stmt *s;

	if ((s = store_stmt(st, STORE_STMT_CLINICIAN_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, c->id) | store_bind_text(s, 2, c->name) |
	        store_bind_text(s, 3,
	            c->languages != NULL ? c->languages : "") |
	        store_bind_text(s, 4, c->skills != NULL ? c->skills : "") |
	        store_bind_text(s, 5, c->endpoint)) != SQLITE_OK) {
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
	sqlite3_stmt *s;
	int rc;

	if (store_batch_begin(st) != STORE_OK ||
	    (s = store_stmt(st, STORE_STMT_TOKEN_SET)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) |
	        sqlite3_bind_blob(s, 2, hash, TOKEN_HASH_BYTES,
	            SQLITE_STATIC)) != SQLITE_OK) {
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
    uint8_t hash[TOKEN_HASH_BYTES])
{
	sqlite3_stmt *s;
	const char *r;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_PRINCIPAL_GET)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != SQLITE_OK) {
		return store_fail(st, "get principal");
	}
	if ((rc = store_step_read(st, s, "get principal")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "no principal %s", id);
		return rc;
	}
	r = (const char *)sqlite3_column_text(s, 0);
	if (r == NULL || strlen(r) >= 16 ||
	    sqlite3_column_bytes(s, 1) != TOKEN_HASH_BYTES) {
		store_set_error(st, "principal %s: malformed row", id);
		sqlite3_reset(s);
		return STORE_ERROR;
	}
	strlcpy_(role, r, 16);
	memcpy(hash, sqlite3_column_blob(s, 1), TOKEN_HASH_BYTES);
	sqlite3_reset(s);
	return STORE_OK;
}

/* Add or replace a patient; STORE_NOTFOUND if the primary is no clinician. */
int
store_patient_add(struct store *st, const char *id, const char *primary,
    const char *program)
{
	sqlite3_stmt *s;
	int rc;

	if (store_batch_begin(st) != STORE_OK ||
	    (s = store_stmt(st, STORE_STMT_PATIENT_UPSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | store_bind_text(s, 2, primary) |
	        store_bind_text(s, 3, program)) != SQLITE_OK) {
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
	sqlite3_stmt *s;
	const char *id;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_PATIENT_PRIMARY)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, patient) != SQLITE_OK) {
		return store_fail(st, "patient primary");
	}
	if ((rc = store_step_read(st, s, "patient primary")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "no such patient");
		return rc;
	}
	id = (const char *)sqlite3_column_text(s, 0);
	strlcpy_(out, id != NULL ? id : "", PRINCIPAL_ID_MAX + 1);
	sqlite3_reset(s);
	return STORE_OK;
}

/*
 * Insert one shift into the open batch.  The tier and the times are checked
 * here so the message can say what is wrong; the clinician is left to the
 * foreign key, which is checked anyway.
 */
static int
store_roster_shift_insert(struct store *st, const struct store_shift *sh)
{
	sqlite3_stmt *s;
	int rc;

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
	if ((s = store_stmt(st, STORE_STMT_SHIFT_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, sh->clinician) |
	        sqlite3_bind_int(s, 2, sh->tier) |
	        sqlite3_bind_int64(s, 3, sh->start_ms) |
	        sqlite3_bind_int64(s, 4, sh->end_ms)) != SQLITE_OK) {
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
	return store_roster_shift_insert(st, s);
}

/* Add all rows or none; *bad_row is the offending index (or -1). */
int
store_shift_import(struct store *st, const struct store_shift *rows,
    size_t nrows, long *bad_row)
{
	size_t i;
	int rc;

	*bad_row = -1;
	if (store_savepoint(st) != STORE_OK)
		return STORE_ERROR;
	rc = STORE_OK;
	for (i = 0; i < nrows && rc == STORE_OK; i++) {
		if ((rc = store_roster_shift_insert(st, &rows[i])) != STORE_OK)
			*bad_row = (long)i;
	}
	if (store_savepoint_end(st, rc == STORE_OK) != STORE_OK)
		return STORE_ERROR;
	return rc;
}

/* The roster version the triggers bump on every roster change. */
int
store_roster_version(struct store *st, int64_t *version)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_ROSTER_VERSION)) == NULL)
		return STORE_ERROR;
	if ((rc = store_step_read(st, s, "roster version")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "roster version: no meta row");
		return STORE_ERROR;
	}
	*version = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return STORE_OK;
}

/* Hand every clinician row to the callback, in id order. */
static int
store_roster_load_clinicians(struct store *st,
    const struct store_roster_cbs *cbs)
{
	struct store_clinician c;
	sqlite3_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_ROSTER_CLINICIANS)) == NULL)
		return STORE_ERROR;
	while ((rc = store_step_read(st, s, "load clinicians")) == STORE_OK) {
		c.id = (const char *)sqlite3_column_text(s, 0);
		c.name = (const char *)sqlite3_column_text(s, 1);
		c.languages = (const char *)sqlite3_column_text(s, 2);
		c.skills = (const char *)sqlite3_column_text(s, 3);
		c.endpoint = (const char *)sqlite3_column_text(s, 4);
		if (cbs->clinician(cbs->arg, &c) == -1) {
			sqlite3_reset(s);
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
store_roster_load_shifts(struct store *st, int64_t since_ms,
    const struct store_roster_cbs *cbs)
{
	struct store_shift sh;
	sqlite3_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_ROSTER_SHIFTS)) == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(s, 1, since_ms) != SQLITE_OK) {
		return store_fail(st, "load shifts");
	}
	while ((rc = store_step_read(st, s, "load shifts")) == STORE_OK) {
		sh.clinician = (const char *)sqlite3_column_text(s, 0);
		sh.tier = sqlite3_column_int(s, 1);
		sh.start_ms = sqlite3_column_int64(s, 2);
		sh.end_ms = sqlite3_column_int64(s, 3);
		if (cbs->shift(cbs->arg, &sh) == -1) {
			sqlite3_reset(s);
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
 * Every clinician, then every shift ending after since_ms, from one
 * snapshot so a concurrent crisisctl cannot slip a shift of a clinician the
 * first read did not see between the two.
 */
int
store_roster_load(struct store *st, int64_t since_ms,
    const struct store_roster_cbs *cbs)
{
	bool opened;
	int rc;

	if (store_snapshot_begin(st, &opened) != STORE_OK)
		return STORE_ERROR;
	rc = store_roster_load_clinicians(st, cbs);
	if (rc == STORE_OK)
		rc = store_roster_load_shifts(st, since_ms, cbs);
	store_snapshot_end(st, opened);
	return rc;
}
