/*
 * store_close.c: a supervisor's request to close a stuck contact.  The
 * contact lives in the daemon's memory, so crisisctl cannot close it in
 * the database behind the daemon's back: it files a request, the daemon
 * finds it on its next poll, closes the contact as it would any other
 * (withdrawing offers, telling the gateway) and marks the request done with
 * what it did, in the same commit as the close itself.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

int
store_close_file(struct store *st, const char *contact, const char *supervisor,
    const char *reason, const char *actor, int64_t at, int64_t *id)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_CLOSE_FILE)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) |
	        store_bind_text(s, 2, supervisor) |
	        store_bind_text(s, 3, reason) | store_bind_text(s, 4, actor) |
	        db_bind_int64(s, 5, at)) != DB_OK)
		return store_fail(st, "file contact close");
	return store_step_insert(st, s, "file contact close", id);
}

/* Copy the pending rows out first: handling one writes to the store. */
int
store_close_pending(struct store *st, struct store_close *out, size_t max,
    size_t *n)
{
	struct db_stmt *s;
	int rc;

	*n = 0;
	if ((s = store_stmt(st, STORE_STMT_CLOSE_PENDING)) == NULL)
		return STORE_ERROR;
	if (db_bind_int64(s, 1, (int64_t)max) != DB_OK)
		return store_fail(st, "pending contact closes");
	while ((rc = db_step(s)) == DB_ROW && *n < max) {
		struct store_close *c = &out[*n];

		c->id = db_column_int64(s, 0);
		c->contact = xstrdup((const char *)db_column_text(s, 1));
		c->supervisor = xstrdup((const char *)db_column_text(s, 2));
		c->reason = xstrdup((const char *)db_column_text(s, 3));
		(*n)++;
	}
	db_reset(s);
	if (rc != DB_ROW && rc != DB_DONE) {
		store_close_pending_free(out, *n);
		*n = 0;
		return store_fail(st, "pending contact closes");
	}
	return STORE_OK;
}

void
store_close_pending_free(struct store_close *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].contact);
		free(c[i].supervisor);
		free(c[i].reason);
	}
}

int
store_close_done(struct store *st, int64_t id, int64_t at, const char *result)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_CLOSE_DONE)) == NULL)
		return STORE_ERROR;
	if ((db_bind_int64(s, 1, id) | db_bind_int64(s, 2, at) |
	        store_bind_text(s, 3, result)) != DB_OK)
		return store_fail(st, "contact close done");
	return store_step_write(st, s, "contact close done");
}

int
store_close_result(struct store *st, int64_t id, bool *done, char *result,
    size_t len)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_CLOSE_RESULT)) == NULL)
		return STORE_ERROR;
	if (db_bind_int64(s, 1, id) != DB_OK)
		return store_fail(st, "contact close result");
	if ((rc = store_step_read(st, s, "contact close result")) != STORE_OK)
		return rc;
	*done = db_column_int(s, 0) != 0;
	strlcpy_(result, (const char *)db_column_text(s, 1), len);
	db_reset(s);
	return STORE_OK;
}
