/*
 * store_audit.c: the review records the daemon and crisisctl write: audit
 * rows (who read or changed what), emergency disclosures and follow-ups.
 * All three tables are append-only but for closing a follow-up.
 */
#include <sqlite3.h>

#include "store.h"
#include "store_int.h"

/* One audit row. */
int
store_audit_add(struct store *st, int64_t at, const char *actor,
    const char *actor_kind, const char *action, const char *target,
    const char *detail)
{
	sqlite3_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_AUDIT_INSERT)) == NULL)
		return STORE_ERROR;
	if ((sqlite3_bind_int64(s, 1, at) | store_bind_text(s, 2, actor) |
	        store_bind_text(s, 3, actor_kind) |
	        store_bind_text(s, 4, action) | store_bind_text(s, 5, target) |
	        store_bind_text(s, 6, detail)) != SQLITE_OK)
		return store_fail(st, "add audit row");
	return store_step_write(st, s, "add audit row");
}

/* One emergency disclosure. */
int
store_disclosure_add(struct store *st, const char *contact,
    const char *clinician, int64_t at, const char *recipient,
    const char *affiliation, const char *nature)
{
	sqlite3_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_DISCLOSURE_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | store_bind_text(s, 2, clinician) |
	        sqlite3_bind_int64(s, 3, at) |
	        store_bind_text(s, 4, recipient) |
	        store_bind_text(s, 5, affiliation) |
	        store_bind_text(s, 6, nature)) != SQLITE_OK)
		return store_fail(st, "add disclosure");
	return store_step_write(st, s, "add disclosure");
}

/* Open a follow-up for a contact (once; a second call changes nothing). */
int
store_followup_open(struct store *st, const char *contact, const char *reason,
    int64_t at)
{
	sqlite3_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_FOLLOWUP_OPEN)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | store_bind_text(s, 2, reason) |
	        sqlite3_bind_int64(s, 3, at)) != SQLITE_OK)
		return store_fail(st, "open follow-up");
	return store_step_write(st, s, "open follow-up");
}
