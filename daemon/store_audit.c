/*
 * store_audit.c: the audit trail (who read or changed what, written by
 * the daemon and by crisisctl) and the emergency disclosures made while
 * completing a contact: adding a row of each, and crisisctl's listings of
 * both.  Both tables are append-only.
 */

#include <stdint.h>

#include <jansson.h>

#include "store.h"
#include "store_int.h"
#include "store_review_int.h"

/* One audit row. */
int
store_audit_add(struct store *st, int64_t at, const char *actor,
    const char *actor_kind, const char *action, const char *target,
    const char *detail)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_AUDIT_INSERT)) == NULL)
		return STORE_ERROR;
	if ((db_bind_int64(s, 1, at) | store_bind_text(s, 2, actor) |
	        store_bind_text(s, 3, actor_kind) |
	        store_bind_text(s, 4, action) | store_bind_text(s, 5, target) |
	        store_bind_text(s, 6, detail)) != DB_OK)
		return store_fail(st, "add audit row");
	return store_step_write(st, s, "add audit row");
}

/* Audit rows matching f, oldest first. */
json_t *
store_review_audit(struct store *st, const struct store_audit_filter *f)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q,
	    "SELECT seq, at, actor, actor_kind, action,"
	    " target, detail FROM audit");
	store_review_cond_window(&q, "at", f->since_ms, f->until_ms);
	if (f->actor != NULL) {
		/* A sudo user is recorded as "root (sudo: A)". */
		store_review_cond(&q, "(actor = ?", f->actor, 0);
		/* The suffix " (sudo: A)", from a start both stores count
		 * alike. */
		store_review_sql(&q,
		    " OR substr(actor, length(actor) - length(?) - 8) ="
		    " ' (sudo: ' || ? || ')')");
		store_review_bind(&q, f->actor, 0);
		store_review_bind(&q, f->actor, 0);
	}
	if (f->action != NULL) {
		store_review_cond(&q, "(action = ?", f->action, 0);
		store_review_sql(&q,
		    " OR substr(action, 1, length(?) + 1) ="
		    " ? || '.')");
		store_review_bind(&q, f->action, 0);
		store_review_bind(&q, f->action, 0);
	}
	if (f->target != NULL) {
		store_review_cond(&q, "(target = ?", f->target, 0);
		store_review_sql(&q,
		    " OR instr(detail, '\"' || ? || '\"') > 0)");
		store_review_bind(&q, f->target, 0);
	}
	store_review_sql(&q, " ORDER BY seq");
	return store_review_rows(st, &q, "audit");
}

/* One emergency disclosure. */
int
store_disclosure_add(struct store *st, const char *contact,
    const char *clinician, int64_t at, const char *recipient,
    const char *affiliation, const char *nature)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_DISCLOSURE_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | store_bind_text(s, 2, clinician) |
	        db_bind_int64(s, 3, at) | store_bind_text(s, 4, recipient) |
	        store_bind_text(s, 5, affiliation) |
	        store_bind_text(s, 6, nature)) != DB_OK)
		return store_fail(st, "add disclosure");
	return store_step_write(st, s, "add disclosure");
}

/* Disclosures made in [since, until), oldest first, of patient if given. */
json_t *
store_review_disclosures(struct store *st, int64_t since_ms, int64_t until_ms,
    const char *patient)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q,
	    "SELECT d.at AS at, d.contact AS contact,"
	    " d.clinician AS clinician, d.recipient AS recipient,"
	    " d.affiliation AS affiliation, d.nature AS nature,"
	    " c.patient AS patient FROM disclosures d"
	    " JOIN contacts c ON c.id = d.contact");
	store_review_cond_window(&q, "d.at", since_ms, until_ms);
	store_review_cond_text(&q, "c.patient = ?", patient);
	store_review_sql(&q, " ORDER BY d.at, d.contact");
	return store_review_rows(st, &q, "disclosures");
}
