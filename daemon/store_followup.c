/*
 * store_followup.c: follow-ups, the callbacks owed for contacts that were
 * abandoned or overflowed: the daemon opens one, crisisctl and the
 * supervisors' snapshot list the open ones, and a supervisor closes one
 * (the only change a follow-up ever sees).
 */

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "store.h"
#include "store_int.h"
#include "store_review_int.h"

/* The open follow-ups and their contacts, oldest first. */
#define STORE_FOLLOWUP_OPEN_FROM                                               \
	" FROM followups f JOIN contacts c ON c.id = f.contact"                \
	" WHERE f.closed_at IS NULL ORDER BY f.opened_at, f.id"

/* Open a follow-up for a contact (once; a second call changes nothing). */
int
store_followup_open(struct store *st, const char *contact, const char *reason,
    int64_t at)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_FOLLOWUP_OPEN)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | store_bind_text(s, 2, reason) |
	        db_bind_int64(s, 3, at)) != DB_OK)
		return store_fail(st, "open follow-up");
	return store_step_write(st, s, "open follow-up");
}

/*
 * The newest limit open follow-ups, newest first, with the contact's ref
 * and risk, and in *count how many are open: open follow-ups pile up
 * without bound, and the supervisors' snapshot must not.
 */
json_t *
store_review_followups_recent(struct store *st, long limit, int64_t *count)
{
	struct store_review_query q = { 0 };
	json_t *first, *rows;

	store_review_sql(&q,
	    "SELECT count(*) AS n FROM followups WHERE closed_at IS NULL");
	if ((first = store_review_first(st, &q, "open follow-ups")) == NULL)
		return NULL;
	*count = json_integer_value(json_object_get(first, "n"));
	json_decref(first);
	memset(&q, 0, sizeof(q));
	store_review_sql(&q,
	    "SELECT f.id AS id, f.contact AS contact,"
	    " f.reason AS reason, f.opened_at AS opened_at, c.ref AS ref,"
	    " c.risk AS risk FROM followups f JOIN contacts c"
	    " ON c.id = f.contact WHERE f.closed_at IS NULL"
	    " ORDER BY f.opened_at DESC, f.id DESC LIMIT ?");
	store_review_bind(&q, NULL, limit);
	rows = store_review_rows(st, &q, "open follow-ups");
	return rows;
}

/* Open follow-ups, oldest first, with whom to call back. */
json_t *
store_review_followups(struct store *st)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q,
	    "SELECT f.id AS id, f.contact AS contact,"
	    " f.reason AS reason, f.opened_at AS opened_at, c.ref AS ref,"
	    " c.risk AS risk, c.channel AS channel, c.program AS program,"
	    " c.caller AS caller, c.patient AS "
	    "patient" STORE_FOLLOWUP_OPEN_FROM);
	return store_review_rows(st, &q, "open follow-ups");
}

/* The follow-up row id as {id, contact, reason, opened_at, closed_at, ...}. */
static json_t *
store_followup_get(struct store *st, int64_t id)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q,
	    "SELECT id, contact, reason, opened_at,"
	    " closed_at, closed_by, note FROM followups");
	store_review_cond(&q, "id = ?", NULL, id);
	return store_review_first(st, &q, "follow-up");
}

/*
 * Close follow-up id in the batch.  The batch's write lock is taken
 * before the row is read, so two supervisors closing the same one at
 * once cannot both see it open.
 */
int
store_followup_close(struct store *st, int64_t id, const char *by,
    const char *note, int64_t at, json_t **before)
{
	struct store_review_query q = { 0 };
	struct db_stmt *s;
	int rc;

	*before = NULL;
	if (store_batch_begin(st) != STORE_OK)
		return STORE_ERROR;
	if ((*before = store_followup_get(st, id)) == NULL)
		return strcmp(store_error(st), "not found") == 0
		    ? STORE_NOTFOUND
		    : STORE_ERROR;
	if (!json_is_null(json_object_get(*before, "closed_at"))) {
		store_set_error(st, "follow-up %lld is already closed",
		    (long long)id);
		return STORE_CONFLICT;
	}
	store_review_sql(&q,
	    "UPDATE followups SET closed_at = ?,"
	    " closed_by = ?, note = ? WHERE id = ? AND closed_at IS NULL");
	store_review_bind(&q, NULL, at);
	store_review_bind(&q, by, 0);
	store_review_bind(&q, note, 0);
	store_review_bind(&q, NULL, id);
	if ((s = store_review_prepare(st, &q)) == NULL)
		return STORE_ERROR;
	rc = store_step_write(st, s, "close follow-up");
	db_finalize(s);
	return rc == STORE_OK ? STORE_OK : STORE_ERROR;
}
