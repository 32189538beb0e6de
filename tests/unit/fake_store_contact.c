/*
 * fake_store_contact.c: the fake store's contacts, offers, timeline,
 * results, follow-ups and disclosures: the store_* functions of store.h
 * the engine calls while routing, with the real schema's keys (a row of a
 * contact that does not exist is refused, and counted as a violation).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fake_store.h"
#include "fake_store_int.h"
#include "store.h"
#include "util.h"

/* The row of contact id for a write about it, or NULL (a violation). */
static struct fake_contact *
fake_contact_for(struct store *st, const char *id, const char *what)
{
	long i = fake_contact_idx(st, id);

	if (i < 0) {
		fake_violation(st, "%s of unknown contact %s", what, id);
		return NULL;
	}
	fake_save_contact(st, (size_t)i);
	return &st->contacts[i];
}

/* Insert a contact; STORE_CONFLICT if its id or (intake, ref) is taken. */
int
store_contact_insert(struct store *st, const struct store_contact *c)
{
	struct fake_contact *row;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < st->ncontacts; i++) {
		if (strcmp(st->contacts[i].id, c->id) == 0 ||
		    (strcmp(st->contacts[i].intake, c->intake) == 0 &&
		        strcmp(st->contacts[i].ref, c->ref) == 0)) {
			fake_violation(st, "contact %s or ref %s again", c->id,
			    c->ref);
			return STORE_CONFLICT;
		}
	}
	row = fake_append(&st->contacts, &st->ncontacts, sizeof(*row));
	strlcpy_(row->id, c->id, sizeof(row->id));
	strlcpy_(row->intake, c->intake, sizeof(row->intake));
	row->ref = xstrdup(c->ref);
	row->channel = xstrdup(c->channel);
	row->risk = xstrdup(c->risk);
	row->caller = xstrdup_null(c->caller);
	row->patient = xstrdup_null(c->patient);
	row->program = xstrdup_null(c->program);
	row->language = xstrdup_null(c->language);
	row->needs = xstrdup(c->needs != NULL ? c->needs : "[]");
	row->route = xstrdup_null(c->route);
	strlcpy_(row->state, c->state, sizeof(row->state));
	strlcpy_(row->clinician, c->clinician != NULL ? c->clinician : "",
	    sizeof(row->clinician));
	row->queued_at = c->queued_at;
	row->deadline_at = c->deadline_at;
	row->assigned_at = c->assigned_at;
	row->closed_at = c->closed_at;
	row->policy_version = c->policy_version;
	row->accept_ms = -1;
	return STORE_OK;
}

/* The contact of (intake, ref), and whether its fields are want's. */
int
store_contact_by_ref(struct store *st, const struct store_contact *want,
    char id[CONTACT_ID_MAX + 1], bool *same)
{
	for (size_t i = 0; i < st->ncontacts; i++) {
		const struct fake_contact *c = &st->contacts[i];

		if (strcmp(c->intake, want->intake) != 0 ||
		    strcmp(c->ref, want->ref) != 0)
			continue;
		strlcpy_(id, c->id, CONTACT_ID_MAX + 1);
		*same = fake_same(c->channel, want->channel) &&
		    fake_same(c->risk, want->risk) &&
		    fake_same(c->caller, want->caller) &&
		    fake_same(c->patient, want->patient) &&
		    fake_same(c->program, want->program) &&
		    fake_same(c->language, want->language) &&
		    fake_same(c->needs, want->needs);
		return STORE_OK;
	}
	fake_error(st, "no contact with that ref");
	return STORE_NOTFOUND;
}

/* A contact's state and intake. */
int
store_contact_state(struct store *st, const char *id, char state[16],
    char intake[PRINCIPAL_ID_MAX + 1])
{
	const struct fake_contact *c = fake_store_contact(st, id);

	if (c == NULL) {
		fake_error(st, "no contact %s", id);
		return STORE_NOTFOUND;
	}
	strlcpy_(state, c->state, 16);
	strlcpy_(intake, c->intake, PRINCIPAL_ID_MAX + 1);
	return STORE_OK;
}

/* Forget the open offers of a contact that left routing. */
static void
fake_drop_offers(struct store *st, const char *id)
{
	size_t n = 0;

	for (size_t i = 0; i < st->noffers; i++) {
		if (strcmp(st->offers[i].contact, id) != 0)
			st->offers[n++] = st->offers[i];
	}
	st->noffers = n;
}

/* store_contact_change of store_contact.c: the state and its stamps. */
static int
fake_contact_change(struct store *st, const char *id, const char *state,
    const char *clinician, int64_t at, int tier, int64_t accept_ms)
{
	struct fake_contact *c;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if ((c = fake_contact_for(st, id, "set state")) == NULL)
		return STORE_NOTFOUND;
	if (strcmp(state, STORE_STATE_ASSIGNED) == 0 && clinician == NULL)
		return fake_violation(st, "%s assigned to nobody", id);
	strlcpy_(c->state, state, sizeof(c->state));
	if (clinician != NULL)
		strlcpy_(c->clinician, clinician, sizeof(c->clinician));
	if (tier > 0)
		c->answered_tier = tier;
	if (accept_ms >= 0)
		c->accept_ms = accept_ms;
	if (strcmp(state, STORE_STATE_OPEN) == 0)
		return STORE_OK;
	if (strcmp(state, STORE_STATE_ASSIGNED) == 0)
		c->assigned_at = at;
	else
		c->closed_at = at;
	fake_drop_offers(st, id);
	return STORE_OK;
}

/* Set a contact's state. */
int
store_contact_set_state(struct store *st, const char *id, const char *state,
    const char *clinician, int64_t at)
{
	return fake_contact_change(st, id, state, clinician, at, 0, -1);
}

/* The contact was accepted. */
int
store_contact_assign(struct store *st, const char *id, const char *clinician,
    int64_t at, int tier, int64_t accept_ms)
{
	return fake_contact_change(st, id, STORE_STATE_ASSIGNED, clinician, at,
	    tier, accept_ms);
}

/* An assigned contact is open again (its caller was not connected). */
int
store_contact_reopen(struct store *st, const char *id)
{
	struct fake_contact *c;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if ((c = fake_contact_for(st, id, "reopen")) == NULL)
		return STORE_NOTFOUND;
	if (strcmp(c->state, STORE_STATE_ASSIGNED) != 0) {
		fake_error(st, "reopen: %s is %s", id, c->state);
		return STORE_NOTFOUND;
	}
	strlcpy_(c->state, STORE_STATE_OPEN, sizeof(c->state));
	c->clinician[0] = '\0';
	c->assigned_at = 0;
	c->answered_tier = 0;
	c->accept_ms = -1;
	c->ended_at = 0;
	return STORE_OK;
}

/* The routed call ended (the first time counts). */
int
store_contact_ended(struct store *st, const char *id, int64_t at)
{
	struct fake_contact *c;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if ((c = fake_contact_for(st, id, "ended")) == NULL)
		return STORE_NOTFOUND;
	if (c->ended_at == 0)
		c->ended_at = at;
	return STORE_OK;
}

/* Has the contact's timeline an event of this kind? */
int
store_event_exists(struct store *st, const char *contact, const char *event)
{
	return fake_store_count_events(st, contact, event) > 0 ? STORE_OK
	                                                       : STORE_NOTFOUND;
}

/* Record the routing position. */
int
store_contact_set_route(struct store *st, const char *id, int tier,
    const char *route)
{
	struct fake_contact *c;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if ((c = fake_contact_for(st, id, "set route")) == NULL)
		return STORE_NOTFOUND;
	c->tier = tier;
	free(c->route);
	c->route = xstrdup(route);
	return STORE_OK;
}

/* Record a complete. */
int
store_contact_complete(struct store *st, const char *id,
    const char *disposition, const char *notes, int64_t at)
{
	struct fake_contact *c;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if ((c = fake_contact_for(st, id, "complete")) == NULL)
		return STORE_NOTFOUND;
	strlcpy_(c->state, STORE_STATE_COMPLETED, sizeof(c->state));
	free(c->disposition);
	c->disposition = xstrdup(disposition);
	free(c->notes);
	c->notes = xstrdup_null(notes);
	c->closed_at = at;
	return STORE_OK;
}

/* Append one event to a contact's timeline. */
int
store_event_add(struct store *st, const char *contact, int64_t at,
    const char *event, int tier, const char *clinician, const char *detail)
{
	struct fake_event *ev;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if (fake_contact_idx(st, contact) < 0)
		return fake_violation(st, "event %s of unknown contact %s",
		    event, contact);
	ev = fake_append(&st->events, &st->nevents, sizeof(*ev));
	strlcpy_(ev->contact, contact, sizeof(ev->contact));
	strlcpy_(ev->event, event, sizeof(ev->event));
	strlcpy_(ev->clin, clinician != NULL ? clinician : "",
	    sizeof(ev->clin));
	ev->tier = tier;
	ev->at = at;
	ev->detail = xstrdup_null(detail);
	return STORE_OK;
}

/* Record an open offer (replacing one to the same clinician). */
int
store_offer_open(struct store *st, const char *contact, const char *clinician,
    int tier, int64_t offered_at, int64_t expires_at)
{
	struct fake_offer *o = NULL;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if (fake_contact_idx(st, contact) < 0)
		return fake_violation(st, "offer of unknown contact %s",
		    contact);
	for (size_t i = 0; i < st->noffers && o == NULL; i++) {
		if (strcmp(st->offers[i].contact, contact) == 0 &&
		    strcmp(st->offers[i].clin, clinician) == 0)
			o = &st->offers[i];
	}
	if (o == NULL) {
		o = fake_append(&st->offers, &st->noffers, sizeof(*o));
		strlcpy_(o->contact, contact, sizeof(o->contact));
		strlcpy_(o->clin, clinician, sizeof(o->clin));
	}
	o->tier = tier;
	o->offered_at = offered_at;
	o->expires_at = expires_at;
	return STORE_OK;
}

/* Forget an offer; STORE_NOTFOUND if it was not open. */
int
store_offer_close(struct store *st, const char *contact, const char *clinician)
{
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < st->noffers; i++) {
		if (strcmp(st->offers[i].contact, contact) == 0 &&
		    strcmp(st->offers[i].clin, clinician) == 0) {
			st->offers[i] = st->offers[--st->noffers];
			return STORE_OK;
		}
	}
	fake_error(st, "close offer: no such offer");
	return STORE_NOTFOUND;
}

/* --- results for gateways --- */

/* Queue a result for intake. */
int
store_push_add(struct store *st, const char *intake, const char *contact,
    const char *message, int64_t *seq)
{
	struct fake_push *p;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if (fake_contact_idx(st, contact) < 0)
		return fake_violation(st, "result of unknown contact %s",
		    contact);
	p = fake_append(&st->pushes, &st->npushes, sizeof(*p));
	p->seq = *seq = ++st->push_seq;
	strlcpy_(p->intake, intake, sizeof(p->intake));
	strlcpy_(p->contact, contact, sizeof(p->contact));
	p->message = xstrdup(message);
	return STORE_OK;
}

/* Acknowledge every unacknowledged result of a contact. */
int
store_push_ack(struct store *st, const char *intake, const char *contact,
    int64_t at)
{
	struct fake_undo_ack *u;
	bool any = false;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < st->npushes; i++) {
		struct fake_push *p = &st->pushes[i];

		if (p->acked_at != 0 || strcmp(p->intake, intake) != 0 ||
		    strcmp(p->contact, contact) != 0)
			continue;
		u = fake_append(&st->batch.acks, &st->batch.nacks, sizeof(*u));
		u->idx = i;
		u->acked_at = p->acked_at;
		p->acked_at = at;
		any = true;
	}
	if (!any) {
		fake_error(st, "no result to ack");
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* Unacknowledged results of intake after after_seq, oldest first. */
int
store_push_pending(struct store *st, const char *intake, int64_t after_seq,
    int limit, int (*cb)(void *arg, int64_t seq, const char *message),
    void *arg)
{
	for (size_t i = 0; i < st->npushes && limit > 0; i++) {
		const struct fake_push *p = &st->pushes[i];

		if (p->acked_at != 0 || p->seq <= after_seq ||
		    strcmp(p->intake, intake) != 0)
			continue;
		limit--;
		if (cb(arg, p->seq, p->message) == -1)
			return STORE_ERROR;
	}
	return STORE_OK;
}

/* The unacknowledged results of one contact to intake. */
int
store_push_unacked(struct store *st, const char *intake, const char *contact,
    int (*cb)(void *arg, int64_t seq, const char *message), void *arg)
{
	for (size_t i = 0; i < st->npushes; i++) {
		const struct fake_push *p = &st->pushes[i];

		if (p->acked_at != 0 || strcmp(p->intake, intake) != 0 ||
		    strcmp(p->contact, contact) != 0)
			continue;
		if (cb(arg, p->seq, p->message) == -1)
			return STORE_ERROR;
	}
	return STORE_OK;
}

/* --- restart --- */

/* A contact row as the resume callback sees it. */
static void
fake_contact_view(const struct fake_contact *c, struct store_contact *sc)
{
	memset(sc, 0, sizeof(*sc));
	strlcpy_(sc->id, c->id, sizeof(sc->id));
	sc->intake = c->intake;
	sc->ref = c->ref;
	sc->channel = c->channel;
	sc->risk = c->risk;
	sc->caller = c->caller;
	sc->patient = c->patient;
	sc->program = c->program;
	sc->language = c->language;
	sc->needs = c->needs;
	sc->state = c->state;
	sc->clinician = c->clinician[0] != '\0' ? c->clinician : NULL;
	sc->route = c->route;
	sc->queued_at = c->queued_at;
	sc->deadline_at = c->deadline_at;
	sc->assigned_at = c->assigned_at;
	sc->closed_at = c->closed_at;
	sc->policy_version = c->policy_version;
	sc->answered_tier = c->answered_tier;
}

/* Hand contact id's offers to the callback, oldest first. */
static int
fake_resume_offers(struct store *st, const char *id,
    const struct store_resume_cbs *cbs)
{
	const struct fake_offer *next;
	int64_t after = INT64_MIN;
	const char *after_clin = "";

	/* ORDER BY offered_at, clinician, without sorting the table. */
	for (;;) {
		next = NULL;
		for (size_t i = 0; i < st->noffers; i++) {
			const struct fake_offer *o = &st->offers[i];

			if (strcmp(o->contact, id) != 0 ||
			    o->offered_at < after ||
			    (o->offered_at == after &&
			        strcmp(o->clin, after_clin) <= 0))
				continue;
			if (next == NULL || o->offered_at < next->offered_at ||
			    (o->offered_at == next->offered_at &&
			        strcmp(o->clin, next->clin) < 0))
				next = o;
		}
		if (next == NULL)
			return STORE_OK;
		struct store_offer so = { next->clin, next->tier,
			next->offered_at, next->expires_at };
		if (cbs->offer(cbs->arg, id, &so) == -1)
			return STORE_ERROR;
		after = next->offered_at;
		after_clin = next->clin;
	}
}

/* Every open or assigned contact, oldest first, each with its offers. */
int
store_resume_load(struct store *st, const struct store_resume_cbs *cbs)
{
	struct store_contact sc;

	for (size_t i = 0; i < st->ncontacts; i++) {
		const struct fake_contact *c = &st->contacts[i];

		if (strcmp(c->state, STORE_STATE_OPEN) != 0 &&
		    strcmp(c->state, STORE_STATE_ASSIGNED) != 0)
			continue;
		fake_contact_view(c, &sc);
		if (cbs->contact(cbs->arg, &sc) == -1 ||
		    fake_resume_offers(st, c->id, cbs) != STORE_OK) {
			fake_error(st, "resume stopped at contact %s", c->id);
			return STORE_ERROR;
		}
	}
	return STORE_OK;
}

/* How many of the contacts assigned since since_ms went to clin. */
static int
fake_assigned_to(const struct store *st, const char *clin, int64_t since_ms)
{
	int n = 0;

	for (size_t i = 0; i < st->ncontacts; i++)
		n += st->contacts[i].assigned_at >= since_ms &&
		    strcmp(st->contacts[i].clinician, clin) == 0;
	return n;
}

/* How many contacts each clinician was assigned since since_ms. */
int
store_assigned_counts(struct store *st, int64_t since_ms,
    int (*cb)(void *arg, const char *clinician, int count), void *arg)
{
	for (size_t i = 0; i < st->ncontacts; i++) {
		const struct fake_contact *c = &st->contacts[i];
		bool counted = false;

		if (c->clinician[0] == '\0' || c->assigned_at < since_ms)
			continue;
		for (size_t j = 0; j < i && !counted; j++)
			counted = st->contacts[j].assigned_at >= since_ms &&
			    strcmp(st->contacts[j].clinician, c->clinician) ==
			        0;
		if (!counted &&
		    cb(arg, c->clinician,
		        fake_assigned_to(st, c->clinician, since_ms)) == -1)
			return STORE_ERROR;
	}
	return STORE_OK;
}

/* --- the review's records --- */

/* A callback owed for a contact. */
int
store_followup_open(struct store *st, const char *contact, const char *reason,
    int64_t at)
{
	struct fake_followup *f;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if (fake_contact_idx(st, contact) < 0)
		return fake_violation(st, "follow-up of unknown contact %s",
		    contact);
	f = fake_append(&st->followups, &st->nfollowups, sizeof(*f));
	strlcpy_(f->contact, contact, sizeof(f->contact));
	strlcpy_(f->reason, reason, sizeof(f->reason));
	f->at = at;
	return STORE_OK;
}

/* An emergency disclosure (counted only). */
int
store_disclosure_add(struct store *st, const char *contact,
    const char *clinician, int64_t at, const char *recipient,
    const char *affiliation, const char *nature)
{
	int rc;

	(void)clinician;
	(void)at;
	(void)recipient;
	(void)affiliation;
	(void)nature;
	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	if (fake_contact_idx(st, contact) < 0)
		return fake_violation(st, "disclosure of unknown contact %s",
		    contact);
	return STORE_OK;
}

/* The newest open follow-ups, for a snapshot. */
json_t *
store_review_followups_recent(struct store *st, long limit, int64_t *count)
{
	json_t *rows = json_array();

	*count = (int64_t)st->nfollowups;
	for (size_t i = st->nfollowups; i > 0 && limit > 0; i--, limit--) {
		const struct fake_followup *f = &st->followups[i - 1];

		json_array_append_new(rows,
		    json_pack("{s:s, s:s, s:I}", "contact", f->contact,
		        "reason", f->reason, "opened_at", (json_int_t)f->at));
	}
	return rows;
}

/* --- supervisors' closes --- */

/* The requests not yet carried out, oldest first, at most max. */
int
store_close_pending(struct store *st, struct store_close *out, size_t max,
    size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < st->ncloses && *n < max; i++) {
		const struct fake_close *c = &st->closes[i];

		if (c->done_at != 0)
			continue;
		out[*n].id = c->id;
		out[*n].contact = xstrdup(c->contact);
		out[*n].supervisor = xstrdup(c->supervisor);
		out[*n].reason = xstrdup(c->reason);
		(*n)++;
	}
	return STORE_OK;
}

/* Free what store_close_pending() filled. */
void
store_close_pending_free(struct store_close *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].contact);
		free(c[i].supervisor);
		free(c[i].reason);
	}
}

/* Request id was carried out: what was done. */
int
store_close_done(struct store *st, int64_t id, int64_t at, const char *result)
{
	struct fake_undo_ack *u;
	int rc;

	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < st->ncloses; i++) {
		if (st->closes[i].id != id)
			continue;
		u = fake_append(&st->batch.closes, &st->batch.ncloses,
		    sizeof(*u));
		u->idx = i;
		u->acked_at = st->closes[i].done_at;
		st->closes[i].done_at = at;
		strlcpy_(st->closes[i].result, result,
		    sizeof(st->closes[i].result));
		return STORE_OK;
	}
	return fake_violation(st, "close request %lld unknown", (long long)id);
}
