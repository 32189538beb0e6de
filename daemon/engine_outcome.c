/*
 * engine_outcome.c: how a contact leaves routing, one function per outcome
 * (CONTRACT §6): assigned, completed, overflow, abandoned.  Each does the
 * whole transition in one place: the state, the store's record, the
 * timeline event, the offers it ends, the result owed to the gateway, the
 * follow-up owed to the caller, and the contact's place in memory.
 *
 * The results for gateways live here too: an overflow made while the store
 * fails is told at once (the caller cannot wait for the disk) and
 * remembered until its record is made.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "intake.h"
#include "log.h"
#include "results.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "wire.h"

/*
 * An overflow made while the store fails, not yet on record: sent to its
 * gateway (sent) or not yet, for want of a connection.
 */
struct engine_told {
	char id[CONTACT_ID_MAX + 1];
	bool sent;
	UT_hash_handle hh;
};

/* --- results for the intake --- */

/* The entry of ct's overflow made while the store fails, or NULL. */
static struct engine_told *
engine_told_find(const struct engine *e, const struct contact *ct)
{
	struct engine_told *t;

	HASH_FIND_STR(e->told, ct->id, t);
	return t;
}

/*
 * Has ct overflowed while the store failed, with the record still to be
 * made?  Its caller is gone to the overflow target: nobody may accept it,
 * and only the retry that records it routes it again.
 */
bool
engine_told(const struct engine *e, const struct contact *ct)
{
	return engine_told_find(e, ct) != NULL;
}

/* Remember ct's overflow until it is on record, and whether it was sent. */
static void
engine_tell(struct engine *e, const struct contact *ct, bool sent)
{
	struct engine_told *t = engine_told_find(e, ct);

	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		strlcpy_(t->id, ct->id, sizeof(t->id));
		HASH_ADD_STR(e->told, id, t);
	}
	t->sent = t->sent || sent;
}

/*
 * After a commit: an overflow whose contact is no longer live is on
 * record; the others wait for the retry that records them.
 */
void
engine_told_prune(struct engine *e, bool all)
{
	struct engine_told *t, *tmp;

	HASH_ITER (hh, e->told, t, tmp) {
		if (all || engine_find(e, t->id) == NULL) {
			HASH_DEL(e->told, t);
			free(t);
		}
	}
}

/*
 * Store a result for the intake principal and push it where it can go.  An
 * urgent one (an overflow) leaves even if the commit fails; while the store
 * fails it is sent once, and again (a repeat the gateway drops) once it is
 * on record.
 */
static void
engine_push(struct engine *e, struct contact *ct, json_t *msg, bool urgent)
{
	char *text = wire_line(msg);
	struct engine_told *t = engine_told_find(e, ct);
	bool quiet = urgent && e->store_down && t != NULL && t->sent, sent;

	if (results_push(e->st, ct->origin, ct->intake, ct->id, text, urgent,
	        quiet, &sent) == -1)
		engine_store_failed(e, "push");
	if (urgent)
		engine_tell(e, ct, sent);
	free(text);
}

/*
 * Is ct open on record?  A contact queued (or opened again after a failed
 * connection) in this loop turn is not until the turn commits: if the
 * commit fails, its gateway hears "internal" for that request and keeps
 * the caller itself.
 */
static bool
engine_durable(const struct engine *e, const struct contact *ct)
{
	return e->commits >= ct->durable_at_commit;
}

/* A caller we can reach again is owed a callback after abandon or overflow. */
static void
engine_followup(struct engine *e, struct contact *ct, const char *reason,
    int64_t now)
{
	if (ct->caller == NULL && ct->patient == NULL)
		return;
	if (store_followup_open(e->st, ct->id, reason, now) == STORE_ERROR)
		engine_store_failed(e, "follow-up");
}

/*
 * The one place the engine moves a contact's state: a contact counts
 * against its gateway's budget while it is open.
 */
int
engine_set_state(struct engine *e, struct contact *ct, enum contact_state to)
{
	bool was_open = ct->state == CONTACT_OPEN;

	if (contact_set_state(ct, to) == -1)
		return -1;
	if (was_open)
		intake_closed(e->intakes, ct->intake);
	else if (to == CONTACT_OPEN) {
		intake_opened(e->intakes, ct->intake);
		ct->durable_at_commit = e->commits + 1;
	}
	return 0;
}

/* --- the outcomes --- */

/*
 * Offer o was accepted.  The accept's reply (on s, for request id) comes
 * before the withdrawals, so the clinician reads "assigned" before the
 * "busy" of its other offers.
 */
void
engine_assigned(struct engine *e, struct offer *o, struct session *s,
    json_t *id, int64_t now)
{
	struct contact *ct = o->contact;
	struct clin *c = o->clin;
	int tier = o->tier;
	int64_t offered_at = o->offered_at;

	c->missed = 0;
	engine_offer_end(e, o, OFFER_ACCEPTED, NULL, now);
	if (engine_set_state(e, ct, CONTACT_ASSIGNED) == -1)
		return;
	/* Ending the accepted offer marked it for routing: nothing to route. */
	ct->dirty = false;
	ct->pos.stage = ROUTE_DONE;
	ct->assigned = c;
	ct->assigned_tier = tier;
	ct->assigned_at = now;
	if (store_contact_assign(e->st, ct->id, c->id, now, tier,
	        now - offered_at) == STORE_ERROR)
		engine_store_failed(e, "assign");
	engine_save_route(e, ct);
	engine_event(e, ct, "assigned", now, tier, c->id, NULL);
	log_contact(LOG_LEVEL_INFO, ct->id, c->id,
	    "contact %s assigned to %s after %lld ms", ct->id, c->id,
	    (long long)(now - ct->queued_at));
	session_reply(s, id, contact_assigned_json(ct, tier));
	engine_contact_offers_end(e, ct, OFFER_TAKEN, now);
	c->assigned = ct;
	c->recent_since++;
	engine_clin_offers_end(e, c, OFFER_BUSY, NULL, now);
	engine_arm(e, ct);
	engine_push(e, ct,
	    wire_routed(ct->id, ct->ref, c->id,
	        c->info != NULL ? c->info->endpoint : NULL),
	    false);
}

/*
 * An assigned contact is over (its clinician completed it, or a supervisor
 * closed it): record it, start the clinician's wrap-up, forget it.
 */
void
engine_completed(struct engine *e, struct contact *ct, const char *disposition,
    const char *notes, const struct msg_disclosure *d, int64_t now)
{
	struct clin *c = ct->assigned;
	json_t *detail;

	if (engine_set_state(e, ct, CONTACT_COMPLETED) == -1)
		return;
	if (store_contact_complete(e->st, ct->id, disposition, notes, now) ==
	    STORE_ERROR)
		engine_store_failed(e, "complete");
	detail = json_pack("{s:s}", "disposition", disposition);
	if (d != NULL) {
		json_object_set_new(detail, "disclosure",
		    json_pack("{s:s, s:s, s:s}", "recipient", d->recipient,
		        "affiliation", d->affiliation, "nature", d->nature));
		if (store_disclosure_add(e->st, ct->id, c->id, now,
		        d->recipient, d->affiliation, d->nature) == STORE_ERROR)
			engine_store_failed(e, "disclosure");
	}
	engine_event(e, ct, "completed", now, 0, c->id, detail);
	c->assigned = NULL;
	/*
	 * Busy or in wrap-up is the same to routing (waitable, not
	 * eligible): nothing else changes until the wrap-up ends.
	 */
	engine_clin_wrapup(e, c, now);
	engine_contact_remove(e, ct);
}

/* Nobody took it in time: withdraw, tell the intake, close. */
void
engine_overflow(struct engine *e, struct contact *ct, int64_t now)
{
	const char *target = ct->policy->overflow_target;

	engine_contact_offers_end(e, ct, OFFER_OVERFLOW, now);
	if (engine_set_state(e, ct, CONTACT_OVERFLOW) == -1)
		return;
	ct->pos.stage = ROUTE_DONE;
	if (store_contact_set_state(e->st, ct->id, STORE_STATE_OVERFLOW, NULL,
	        now) == STORE_ERROR)
		engine_store_failed(e, "overflow");
	engine_event(e, ct, "overflow", now, 0, NULL,
	    json_pack("{s:s}", "target", target));
	engine_followup(e, ct, "overflow", now);
	log_contact(LOG_LEVEL_NOTICE, ct->id, NULL,
	    "contact %s overflowed to %s", ct->id, target);
	/*
	 * The caller must go to the target even if this turn's commit fails,
	 * unless the contact itself is in that commit: then the failed
	 * commit's "internal" is the gateway's only answer, not two.
	 */
	engine_push(e, ct, wire_overflow(ct->id, ct->ref, target),
	    engine_durable(e, ct));
	engine_contact_remove(e, ct);
}

/* The caller hung up before anyone took the contact: withdraw, close. */
void
engine_abandoned(struct engine *e, struct contact *ct, int64_t now)
{
	engine_contact_offers_end(e, ct, OFFER_ABANDONED, now);
	if (engine_set_state(e, ct, CONTACT_ABANDONED) == -1)
		return;
	ct->pos.stage = ROUTE_DONE;
	if (store_contact_set_state(e->st, ct->id, STORE_STATE_ABANDONED, NULL,
	        now) == STORE_ERROR)
		engine_store_failed(e, "abandon");
	engine_event(e, ct, "abandoned", now, 0, NULL, NULL);
	engine_followup(e, ct, "abandoned", now);
	engine_contact_remove(e, ct);
}
