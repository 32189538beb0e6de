/*
 * store_contact.c: contacts, their append-only timeline, open offers and
 * the results owed to intake principals.  The daemon writes all of these
 * inside batches, several per contact, so each call is one cached
 * statement: no lookups first, the constraints say what is wrong.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* What entering a state records besides the state itself. */
enum store_contact_stamp {
	STORE_STAMP_NONE,
	STORE_STAMP_ASSIGNED, /* clinician and assigned_at */
	STORE_STAMP_CLOSED, /* closed_at */
};

static const struct {
	const char *state;
	enum store_contact_stamp stamp;
} store_contact_states[] = {
	{ STORE_STATE_OPEN, STORE_STAMP_NONE },
	{ STORE_STATE_ASSIGNED, STORE_STAMP_ASSIGNED },
	{ STORE_STATE_COMPLETED, STORE_STAMP_CLOSED },
	{ STORE_STATE_OVERFLOW, STORE_STAMP_CLOSED },
	{ STORE_STATE_ABANDONED, STORE_STAMP_CLOSED },
};

/* Bind an int64 that is 0 when absent as NULL. */
static int
store_contact_bind_time(struct db_stmt *s, int i, int64_t ms)
{
	return ms == 0 ? db_bind_null(s, i) : db_bind_int64(s, i, ms);
}

/* Bind a tier, NULL when there is none (0). */
static int
store_contact_bind_tier(struct db_stmt *s, int i, int tier)
{
	return tier <= 0 ? db_bind_null(s, i) : db_bind_int64(s, i, tier);
}

/* Step an UPDATE or DELETE: STORE_NOTFOUND when it touched no row. */
static int
store_contact_step_change(struct store *st, struct db_stmt *s, const char *what,
    const char *key)
{
	int rc;

	if ((rc = store_step_write(st, s, what)) != STORE_OK)
		return rc;
	if (store_changes(st) == 0) {
		store_set_error(st, "%s: no such %s", what, key);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* Insert a new contact; STORE_CONFLICT if its id or (intake, ref) is taken. */
int
store_contact_insert(struct store *st, const struct store_contact *c)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_write_stmt(st, STORE_STMT_CONTACT_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, c->id) | store_bind_text(s, 2, c->intake) |
	        store_bind_text(s, 3, c->ref) |
	        store_bind_text(s, 4, c->channel) |
	        store_bind_text(s, 5, c->risk) |
	        store_bind_text(s, 6, c->caller) |
	        store_bind_text(s, 7, c->patient) |
	        store_bind_text(s, 8, c->program) |
	        store_bind_text(s, 9, c->language) |
	        store_bind_text(s, 10, c->needs != NULL ? c->needs : "[]") |
	        store_bind_text(s, 11, c->state) |
	        store_bind_text(s, 12, c->clinician) |
	        store_bind_text(s, 13, c->route) |
	        db_bind_int64(s, 14, c->queued_at) |
	        db_bind_int64(s, 15, c->deadline_at) |
	        store_contact_bind_time(s, 16, c->assigned_at) |
	        store_contact_bind_time(s, 17, c->closed_at) |
	        db_bind_int64(s, 18, c->policy_version)) != DB_OK)
		return store_fail(st, "insert contact");
	rc = store_step_write(st, s, "insert contact");
	if (rc == STORE_CONFLICT)
		store_set_error(st, "contact %s or its ref already exists",
		    c->id);
	return rc;
}

/* Copy two text columns of the row s stands on, then reset s. */
static int
store_contact_copy2(struct store *st, struct db_stmt *s, char *a, size_t asize,
    char *b, size_t bsize)
{
	const char *ta, *tb;

	ta = (const char *)db_column_text(s, 0);
	tb = (const char *)db_column_text(s, 1);
	if (ta == NULL || tb == NULL || strlen(ta) >= asize ||
	    strlen(tb) >= bsize) {
		db_reset(s);
		store_set_error(st, "contact: malformed row");
		return STORE_ERROR;
	}
	strlcpy_(a, ta, asize);
	strlcpy_(b, tb, bsize);
	db_reset(s);
	return STORE_OK;
}

/*
 * The id of the contact want->intake made with want->ref, and whether its
 * contact fields are want's; STORE_NOTFOUND if none.
 */
int
store_contact_by_ref(struct store *st, const struct store_contact *want,
    char id[CONTACT_ID_MAX + 1], bool *same)
{
	struct db_stmt *s;
	const char *text;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_CONTACT_BY_REF)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, want->intake) |
	        store_bind_text(s, 2, want->ref) |
	        store_bind_text(s, 3, want->channel) |
	        store_bind_text(s, 4, want->risk) |
	        store_bind_text(s, 5, want->caller) |
	        store_bind_text(s, 6, want->patient) |
	        store_bind_text(s, 7, want->program) |
	        store_bind_text(s, 8, want->language) |
	        store_bind_text(s, 9, want->needs)) != DB_OK)
		return store_fail(st, "contact by ref");
	if ((rc = store_step_read(st, s, "contact by ref")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "no contact with that ref");
		return rc;
	}
	text = (const char *)db_column_text(s, 0);
	if (text == NULL || strlen(text) > CONTACT_ID_MAX) {
		db_reset(s);
		store_set_error(st, "contact: malformed row");
		return STORE_ERROR;
	}
	strlcpy_(id, text, CONTACT_ID_MAX + 1);
	*same = db_column_int(s, 1) != 0;
	db_reset(s);
	return STORE_OK;
}

/* A contact's state and intake principal; STORE_NOTFOUND if unknown. */
int
store_contact_state(struct store *st, const char *id, char state[16],
    char intake[PRINCIPAL_ID_MAX + 1])
{
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_CONTACT_STATE)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != DB_OK)
		return store_fail(st, "contact state");
	if ((rc = store_step_read(st, s, "contact state")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "no contact %s", id);
		return rc;
	}
	return store_contact_copy2(st, s, state, 16, intake,
	    PRINCIPAL_ID_MAX + 1);
}

/* Forget every open offer of a contact that is no longer open. */
static int
store_contact_drop_offers(struct store *st, const char *id)
{
	struct db_stmt *s;

	if ((s = store_stmt(st, STORE_STMT_CONTACT_OFFERS_DROP)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != DB_OK)
		return store_fail(st, "drop offers");
	return store_step_write(st, s, "drop offers");
}

/*
 * Set a contact's state.  assigned records clinician and assigned_at = at;
 * completed, overflow and abandoned record closed_at = at.  Leaving open
 * also forgets the contact's open offers: none of them can be accepted any
 * more, and a restart must not resume them.
 */
static int
store_contact_change(struct store *st, const char *id, const char *state,
    const char *clinician, int64_t at, int tier, int64_t accept_ms)
{
	enum store_contact_stamp stamp;
	struct db_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < nitems(store_contact_states); i++)
		if (strcmp(store_contact_states[i].state, state) == 0)
			break;
	if (i == nitems(store_contact_states)) {
		store_set_error(st, "set state: unknown state %s", state);
		return STORE_ERROR;
	}
	stamp = store_contact_states[i].stamp;
	if (stamp == STORE_STAMP_ASSIGNED && clinician == NULL) {
		store_set_error(st, "set state: assigned without a clinician");
		return STORE_ERROR;
	}
	if ((s = store_write_stmt(st, STORE_STMT_CONTACT_SET_STATE)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | store_bind_text(s, 2, state) |
	        store_bind_text(s, 3, clinician) |
	        (stamp == STORE_STAMP_ASSIGNED ? db_bind_int64(s, 4, at)
	                                       : db_bind_null(s, 4)) |
	        (stamp == STORE_STAMP_CLOSED ? db_bind_int64(s, 5, at)
	                                     : db_bind_null(s, 5)) |
	        (tier > 0 ? db_bind_int64(s, 6, tier) : db_bind_null(s, 6)) |
	        (accept_ms >= 0 ? db_bind_int64(s, 7, accept_ms)
	                        : db_bind_null(s, 7))) != DB_OK)
		return store_fail(st, "set state");
	rc = store_contact_step_change(st, s, "set state", "contact");
	if (rc != STORE_OK || stamp == STORE_STAMP_NONE)
		return rc;
	return store_contact_drop_offers(st, id);
}

/* Set state; see store.h. */
int
store_contact_set_state(struct store *st, const char *id, const char *state,
    const char *clinician, int64_t at)
{
	return store_contact_change(st, id, state, clinician, at, 0, -1);
}

/* The contact was accepted: assigned, with the tier that answered. */
int
store_contact_assign(struct store *st, const char *id, const char *clinician,
    int64_t at, int tier, int64_t accept_ms)
{
	return store_contact_change(st, id, STORE_STATE_ASSIGNED, clinician, at,
	    tier, accept_ms);
}

/* Record the routing position (JSON text) and current tier. */
int
store_contact_set_route(struct store *st, const char *id, int tier,
    const char *route)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_CONTACT_SET_ROUTE)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | db_bind_int64(s, 2, tier) |
	        store_bind_text(s, 3, route)) != DB_OK)
		return store_fail(st, "set route");
	return store_contact_step_change(st, s, "set route", "contact");
}

/* Record a clinician's complete: disposition, notes, completed at at. */
int
store_contact_complete(struct store *st, const char *id,
    const char *disposition, const char *notes, int64_t at)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_CONTACT_COMPLETE)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | store_bind_text(s, 2, disposition) |
	        store_bind_text(s, 3, notes) | db_bind_int64(s, 4, at)) !=
	    DB_OK)
		return store_fail(st, "complete");
	return store_contact_step_change(st, s, "complete", "contact");
}

/* Assigned back to open, its clinician and answer forgotten (rule 8). */
int
store_contact_reopen(struct store *st, const char *id)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_CONTACT_REOPEN)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != DB_OK)
		return store_fail(st, "reopen");
	return store_contact_step_change(st, s, "reopen", "assigned contact");
}

/* The routed call ended at at (the first time it is said). */
int
store_contact_ended(struct store *st, const char *id, int64_t at)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_CONTACT_ENDED)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | db_bind_int64(s, 2, at)) != DB_OK)
		return store_fail(st, "call ended");
	return store_contact_step_change(st, s, "call ended", "contact");
}

/* Does the contact's timeline hold an event of this kind? */
int
store_event_exists(struct store *st, const char *contact, const char *event)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_EVENT_EXISTS)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | store_bind_text(s, 2, event)) !=
	    DB_OK)
		return store_fail(st, "event lookup");
	rc = store_step_read(st, s, "event lookup");
	if (rc == STORE_OK)
		db_reset(s);
	return rc;
}

/* Append one event to the contact's timeline; STORE_NOTFOUND if no contact. */
int
store_event_add(struct store *st, const char *contact, int64_t at,
    const char *event, int tier, const char *clinician, const char *detail)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_EVENT_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | db_bind_int64(s, 2, at) |
	        store_bind_text(s, 3, event) |
	        store_contact_bind_tier(s, 4, tier) |
	        store_bind_text(s, 5, clinician) |
	        store_bind_text(s, 6, detail)) != DB_OK)
		return store_fail(st, "add event");
	return store_step_write(st, s, "add event");
}

/* Record an open offer (replacing one to the same clinician). */
int
store_offer_open(struct store *st, const char *contact, const char *clinician,
    int tier, int64_t offered_at, int64_t expires_at)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_OFFER_UPSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | store_bind_text(s, 2, clinician) |
	        db_bind_int64(s, 3, tier) | db_bind_int64(s, 4, offered_at) |
	        db_bind_int64(s, 5, expires_at)) != DB_OK)
		return store_fail(st, "open offer");
	return store_step_write(st, s, "open offer");
}

/* Forget an offer; STORE_NOTFOUND if it was not open. */
int
store_offer_close(struct store *st, const char *contact, const char *clinician)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_OFFER_DELETE)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) |
	        store_bind_text(s, 2, clinician)) != DB_OK)
		return store_fail(st, "close offer");
	return store_contact_step_change(st, s, "close offer", "offer");
}

/* Queue a result for intake; *seq is its delivery sequence number. */
int
store_push_add(struct store *st, const char *intake, const char *contact,
    const char *message, int64_t *seq)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_PUSH_INSERT)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, intake) | store_bind_text(s, 2, contact) |
	        store_bind_text(s, 3, message)) != DB_OK)
		return store_fail(st, "add push");
	return store_step_insert(st, s, "add push", seq);
}

/*
 * The gateway acknowledged the results of contact; STORE_NOTFOUND if intake
 * has none unacknowledged for it.
 */
int
store_push_ack(struct store *st, const char *intake, const char *contact,
    int64_t at)
{
	struct db_stmt *s;

	if ((s = store_write_stmt(st, STORE_STMT_PUSH_ACK)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, intake) | store_bind_text(s, 2, contact) |
	        db_bind_int64(s, 3, at)) != DB_OK)
		return store_fail(st, "ack push");
	return store_contact_step_change(st, s, "ack push", "push");
}

/* Hand each row of a (seq, message) query to cb; -1 from cb stops. */
static int
store_push_rows(struct store *st, struct db_stmt *s, const char *what,
    int (*cb)(void *arg, int64_t seq, const char *message), void *arg)
{
	int rc;

	while ((rc = store_step_read(st, s, what)) == STORE_OK) {
		if (cb(arg, db_column_int64(s, 0),
		        (const char *)db_column_text(s, 1)) == -1) {
			db_reset(s);
			store_set_error(st, "%s: stopped", what);
			return STORE_ERROR;
		}
	}
	return rc == STORE_NOTFOUND ? STORE_OK : STORE_ERROR;
}

/* Up to limit unacknowledged pushes of intake after seq, oldest first. */
int
store_push_pending(struct store *st, const char *intake, int64_t after_seq,
    int limit, int (*cb)(void *arg, int64_t seq, const char *message),
    void *arg)
{
	struct db_stmt *s;

	if ((s = store_stmt(st, STORE_STMT_PUSH_PENDING)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, intake) | db_bind_int64(s, 2, after_seq) |
	        db_bind_int64(s, 3, limit)) != DB_OK)
		return store_fail(st, "pending pushes");
	return store_push_rows(st, s, "pending pushes", cb, arg);
}

/* The unacknowledged pushes of one contact to intake, oldest first. */
int
store_push_unacked(struct store *st, const char *intake, const char *contact,
    int (*cb)(void *arg, int64_t seq, const char *message), void *arg)
{
	struct db_stmt *s;

	if ((s = store_stmt(st, STORE_STMT_PUSH_UNACKED)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, contact) | store_bind_text(s, 2, intake)) !=
	    DB_OK)
		return store_fail(st, "unacked pushes");
	return store_push_rows(st, s, "unacked pushes", cb, arg);
}

/* Fill c from the row of STORE_STMT_RESUME_CONTACTS that s stands on. */
static void
store_contact_from_row(struct db_stmt *s, struct store_contact *c)
{
	const char *id;

	id = (const char *)db_column_text(s, 0);
	strlcpy_(c->id, id != NULL ? id : "", sizeof c->id);
	c->intake = (const char *)db_column_text(s, 1);
	c->ref = (const char *)db_column_text(s, 2);
	c->channel = (const char *)db_column_text(s, 3);
	c->risk = (const char *)db_column_text(s, 4);
	c->caller = (const char *)db_column_text(s, 5);
	c->patient = (const char *)db_column_text(s, 6);
	c->program = (const char *)db_column_text(s, 7);
	c->language = (const char *)db_column_text(s, 8);
	c->needs = (const char *)db_column_text(s, 9);
	c->state = (const char *)db_column_text(s, 10);
	c->clinician = (const char *)db_column_text(s, 11);
	c->route = (const char *)db_column_text(s, 12);
	c->queued_at = db_column_int64(s, 13);
	c->deadline_at = db_column_int64(s, 14);
	c->assigned_at = db_column_int64(s, 15);
	c->closed_at = db_column_int64(s, 16);
	c->policy_version = db_column_int(s, 17);
	c->answered_tier = db_column_int(s, 18);
}

/* Hand the open offers of contact id to the callback. */
static int
store_contact_resume_offers(struct store *st, const char *id,
    const struct store_resume_cbs *cbs)
{
	struct store_offer o;
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_RESUME_OFFERS)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != DB_OK)
		return store_fail(st, "resume offers");
	while ((rc = store_step_read(st, s, "resume offers")) == STORE_OK) {
		o.clinician = (const char *)db_column_text(s, 0);
		o.tier = db_column_int(s, 1);
		o.offered_at = db_column_int64(s, 2);
		o.expires_at = db_column_int64(s, 3);
		if (cbs->offer(cbs->arg, id, &o) == -1) {
			db_reset(s);
			store_set_error(st, "resume stopped at an offer of %s",
			    id);
			return STORE_ERROR;
		}
	}
	return rc == STORE_NOTFOUND ? STORE_OK : STORE_ERROR;
}

/* Hand every open or assigned contact and its offers to the callbacks. */
static int
store_contact_resume(struct store *st, const struct store_resume_cbs *cbs)
{
	struct store_contact c;
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_RESUME_CONTACTS)) == NULL)
		return STORE_ERROR;
	while ((rc = store_step_read(st, s, "resume contacts")) == STORE_OK) {
		store_contact_from_row(s, &c);
		if (cbs->contact(cbs->arg, &c) == -1) {
			db_reset(s);
			store_set_error(st, "resume stopped at contact %s",
			    c.id);
			return STORE_ERROR;
		}
		if (store_contact_resume_offers(st, c.id, cbs) != STORE_OK) {
			db_reset(s);
			return STORE_ERROR;
		}
	}
	return rc == STORE_NOTFOUND ? STORE_OK : STORE_ERROR;
}

/* Every open or assigned contact, oldest first, each with its open offers. */
int
store_resume_load(struct store *st, const struct store_resume_cbs *cbs)
{
	bool opened;
	int rc;

	if (store_snapshot_begin(st, &opened) != STORE_OK)
		return STORE_ERROR;
	rc = store_contact_resume(st, cbs);
	store_snapshot_end(st, opened);
	return rc;
}

/* How many contacts each clinician was assigned since since_ms. */
int
store_assigned_counts(struct store *st, int64_t since_ms,
    int (*cb)(void *arg, const char *clinician, int count), void *arg)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_ASSIGNED_COUNTS)) == NULL)
		return STORE_ERROR;
	if (db_bind_int64(s, 1, since_ms) != DB_OK)
		return store_fail(st, "assigned counts");
	while ((rc = store_step_read(st, s, "assigned counts")) == STORE_OK) {
		if (cb(arg, (const char *)db_column_text(s, 0),
		        db_column_int(s, 1)) == -1) {
			db_reset(s);
			store_set_error(st, "assigned counts: stopped");
			return STORE_ERROR;
		}
	}
	return rc == STORE_NOTFOUND ? STORE_OK : STORE_ERROR;
}
