/*
 * store_followup.c: the review records' read side and the one change a
 * supervisor makes to them: open follow-ups (for crisisctl and the
 * supervisors' snapshot), closing one, emergency disclosures and the
 * audit listing.
 */

#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "store_review_int.h"
#include "util.h"

/* Open follow-ups, oldest first, with the contact's ref and risk. */
json_t *
store_review_followups_open(struct store *st)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q, "SELECT f.id AS id, f.contact AS contact,"
	    " f.reason AS reason, f.opened_at AS opened_at, c.ref AS ref,"
	    " c.risk AS risk FROM followups f"
	    " JOIN contacts c ON c.id = f.contact"
	    " WHERE f.closed_at IS NULL ORDER BY f.opened_at, f.id");
	return store_review_rows(st, &q, "open follow-ups");
}
