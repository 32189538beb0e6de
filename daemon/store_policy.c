/*
 * store_policy.c: the routing policies contacts keep for their life.  A
 * policy is written once, at start or reload, when the routing settings
 * differ from the newest stored ones; contacts name it by version.  Not on
 * the hot path, so the statements are prepared per call.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* Prepare sql on the store's connection, or record why not. */
static sqlite3_stmt *
store_policy_prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_fail(st, "prepare policy statement");
		return NULL;
	}
	return s;
}

/* The newest stored policy, if its text is routing: its version, else 0. */
static int
store_policy_newest(struct store *st, const char *routing, int *version)
{
	sqlite3_stmt *s = store_policy_prepare(st,
	    "SELECT version, routing FROM policies ORDER BY version DESC LIMIT "
	    "1");
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	*version = 0;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(s, 1);

		if (text != NULL && strcmp(text, routing) == 0)
			*version = sqlite3_column_int(s, 0);
	} else if (rc != SQLITE_DONE) {
		store_fail(st, "read policies");
		sqlite3_finalize(s);
		return STORE_ERROR;
	}
	sqlite3_finalize(s);
	return STORE_OK;
}

/* The version of a routing policy, stored anew if it changed. */
int
store_policy_save(struct store *st, const char *routing, int64_t now,
    int *version)
{
	sqlite3_stmt *s;
	int rc;

	if (store_policy_newest(st, routing, version) != STORE_OK)
		return STORE_ERROR;
	if (*version > 0)
		return STORE_OK;
	if (store_batch_begin(st) != STORE_OK)
		return STORE_ERROR;
	s = store_policy_prepare(st,
	    "INSERT INTO policies (routing, created_at) VALUES (?1, ?2)");
	if (s == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, routing) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, now) != SQLITE_OK) {
		store_fail(st, "save policy");
		sqlite3_finalize(s);
		return STORE_ERROR;
	}
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_fail(st, "save policy");
	*version = (int)sqlite3_last_insert_rowid(st->db);
	return STORE_OK;
}

/* The routing text of a stored policy version. */
int
store_policy_load(struct store *st, int version, char **routing)
{
	sqlite3_stmt *s = store_policy_prepare(st,
	    "SELECT routing FROM policies WHERE version = ?1");
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(s, 1, version);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*routing = xstrdup((const char *)sqlite3_column_text(s, 0));
		rc = STORE_OK;
	} else if (rc == SQLITE_DONE)
		rc = STORE_NOTFOUND;
	else
		rc = store_fail(st, "load policy");
	sqlite3_finalize(s);
	return rc;
}
