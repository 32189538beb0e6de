/*
 * store_policy.c: the routing policies contacts keep for their life.  A
 * policy is written once, at start or reload, when the routing settings
 * differ from the newest stored ones; contacts name it by version.  Not on
 * the hot path, so the statements are prepared per call.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* Prepare sql on the store's connection, or record why not. */
static struct db_stmt *
store_policy_prepare(struct store *st, const char *sql)
{
	struct db_stmt *s = NULL;

	if (db_prepare(st->db, sql, false, &s) != DB_OK) {
		store_fail(st, "prepare policy statement");
		return NULL;
	}
	return s;
}

/* The newest stored policy, if its text is routing: its version, else 0. */
static int
store_policy_newest(struct store *st, const char *routing, int *version)
{
	struct db_stmt *s = store_policy_prepare(st,
	    "SELECT version, routing FROM policies ORDER BY version DESC LIMIT "
	    "1");
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	*version = 0;
	rc = db_step(s);
	if (rc == DB_ROW) {
		const char *text = (const char *)db_column_text(s, 1);

		if (text != NULL && strcmp(text, routing) == 0)
			*version = db_column_int(s, 0);
	} else if (rc != DB_DONE) {
		store_fail(st, "read policies");
		db_finalize(s);
		return STORE_ERROR;
	}
	db_finalize(s);
	return STORE_OK;
}

/* The version of a routing policy, stored anew if it changed. */
int
store_policy_save(struct store *st, const char *routing, int64_t now,
    int *version)
{
	struct db_stmt *s;
	int64_t id = 0;
	int rc;

	if (store_policy_newest(st, routing, version) != STORE_OK)
		return STORE_ERROR;
	if (*version > 0)
		return STORE_OK;
	if (store_batch_begin(st) != STORE_OK)
		return STORE_ERROR;
	s = store_policy_prepare(st,
	    "INSERT INTO policies (routing, created_at) VALUES (?1, ?2)"
	    " RETURNING version");
	if (s == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, routing) != DB_OK ||
	    db_bind_int64(s, 2, now) != DB_OK) {
		store_fail(st, "save policy");
		db_finalize(s);
		return STORE_ERROR;
	}
	rc = store_step_insert(st, s, "save policy", &id);
	db_finalize(s);
	if (rc != STORE_OK)
		return STORE_ERROR;
	*version = (int)id;
	return STORE_OK;
}

/* The routing text of a stored policy version. */
int
store_policy_load(struct store *st, int version, char **routing)
{
	struct db_stmt *s = store_policy_prepare(st,
	    "SELECT routing FROM policies WHERE version = ?1");
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	db_bind_int64(s, 1, version);
	rc = db_step(s);
	if (rc == DB_ROW) {
		*routing = xstrdup((const char *)db_column_text(s, 0));
		rc = STORE_OK;
	} else if (rc == DB_DONE)
		rc = STORE_NOTFOUND;
	else
		rc = store_fail(st, "load policy");
	db_finalize(s);
	return rc;
}
