/*
 * engine.c: the contact life cycle: contacts in memory, their offers, and
 * routing one contact.
 *
 * Every public entry point does its own work, marks the contacts whose
 * routing may have changed as dirty, and ends in engine_settle(), which
 * routes the dirty ones, oldest first, until nothing changes.  Routing one
 * contact never calls back into another: that keeps the order of effects
 * plain and recursion out.  How a contact leaves routing (assigned,
 * completed, overflow, abandoned) is engine_outcome.c's.
 *
 * Each step writes to the store (inside the loop turn's batch) before it
 * queues the messages that depend on it; the outbox holds those messages
 * until the batch commits.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "heard.h"
#include "intake.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "wire.h"

static struct log_limit engine_write_limit;

/* A failed store write; the turn's commit fails too, and says so at error. */
void
engine_store_failed(struct engine *e, const char *what)
{
	log_limited(&engine_write_limit, LOG_LEVEL_WARNING, "store: %s: %s",
	    what, store_error(e->st));
}

/* Record an event in the timeline and show it to watching supervisors. */
void
engine_event_id(struct engine *e, const char *cid, const char *event,
    int64_t now, int tier, const char *clin, json_t *detail)
{
	char *text = NULL;

	if (detail != NULL)
		text = json_dumps(detail, JSON_COMPACT);
	if (store_event_add(e->st, cid, now, event, tier, clin, text) ==
	    STORE_ERROR)
		engine_store_failed(e, "event");
	free(text);
	log_contact(LOG_LEVEL_DEBUG, cid, clin, "contact %s: %s", cid, event);
	/* Most of the time nobody watches: build nothing for nobody. */
	if (!session_watched()) {
		json_decref(detail);
		return;
	}
	session_broadcast(wire_event(cid, event, now, tier, clin, detail));
}

/* An event of a live contact. */
void
engine_event(struct engine *e, struct contact *ct, const char *event,
    int64_t now, int tier, const char *clin, json_t *detail)
{
	engine_event_id(e, ct->id, event, now, tier, clin, detail);
}

/* --- contacts in memory --- */

/* Make contact ct known and routable. */
void
engine_contact_add(struct engine *e, struct contact *ct)
{
	TAILQ_INIT(&ct->offers);
	ct->due.kind = DUE_CONTACT;
	HASH_ADD_STR(e->by_id, id, ct);
	ct->order = ++e->order_seq;
	TAILQ_INSERT_TAIL(&e->queue, ct, entry);
	if (ct->state == CONTACT_OPEN)
		intake_opened(e->intakes, ct->intake);
}

/* Forget a closed contact (its offers are gone already). */
void
engine_contact_remove(struct engine *e, struct contact *ct)
{
	HASH_DEL(e->by_id, ct);
	TAILQ_REMOVE(&e->queue, ct, entry);
	engine_heap_remove(e, ct);
	if (ct->state == CONTACT_OPEN)
		intake_closed(e->intakes, ct->intake);
	engine_due_clear(e, &ct->due);
	policy_unref(ct->policy);
	contact_free(ct);
}

/* The open or assigned contact with this id, or NULL. */
struct contact *
engine_find(const struct engine *e, const char *id)
{
	struct contact *ct;

	HASH_FIND_STR(e->by_id, id, ct);
	return ct;
}

/* Save the routing position (for a restart). */
void
engine_save_route(struct engine *e, struct contact *ct)
{
	char *text = contact_route_json(ct);
	int tier = ct->pos.stage == ROUTE_TIER
	    ? ct->policy->tiers[ct->pos.tier_index].tier
	    : 0;

	if (store_contact_set_route(e->st, ct->id, tier, text) == STORE_ERROR)
		engine_store_failed(e, "route");
	free(text);
}

/* Arm the contact's deadline: its next offer expiry or stage end. */
void
engine_arm(struct engine *e, struct contact *ct)
{
	int64_t at = route_wakeup(&ct->pos);
	struct offer *o;

	TAILQ_FOREACH (o, &ct->offers, by_contact) {
		if (o->expires_at < at)
			at = o->expires_at;
	}
	/*
	 * While the store fails only the overflow deadline acts, once: the
	 * retry routes the rest.
	 */
	if (e->store_down && !e->retrying)
		at = engine_told(e, ct) ? INT64_MAX : ct->pos.deadline;
	if (at == INT64_MAX || ct->state != CONTACT_OPEN) {
		engine_due_clear(e, &ct->due);
		return;
	}
	if (!engine_due_armed(&ct->due) || ct->due.at != at)
		engine_due_set(e, &ct->due, at);
}

/* --- offers --- */

/*
 * Tell a clinician about an offer, if it can hear it now.  A ring-all tier
 * offers one contact to many clinicians with the same tier and deadline:
 * the line is made once and reused while those stay the same.
 */
void
engine_offer_send(struct engine *e, struct offer *o, int64_t now)
{
	struct clin *c = o->clin;
	struct engine_offer_line *last = &e->offer_line;

	if (c->session == NULL || !c->available)
		return;
	if (last->line == NULL || last->tier != o->tier ||
	    last->continuity != o->continuity ||
	    last->expires_at != o->expires_at || last->now != now ||
	    strcmp(last->contact, o->contact->id) != 0) {
		free(last->line);
		last->line = wire_line(contact_offer_json(o, now));
		strlcpy_(last->contact, o->contact->id, sizeof(last->contact));
		last->tier = o->tier;
		last->continuity = o->continuity;
		last->expires_at = o->expires_at;
		last->now = now;
	}
	session_send_line(c->session, last->line);
	o->sent = true;
	heard_add(e->heard, o->contact->id, c->id);
}

/* Make one offer of the plan. */
static void
engine_offer(struct engine *e, struct contact *ct, struct clin *c,
    const struct route_offer *ro, int64_t now)
{
	struct offer *o = xcalloc(1, sizeof(*o));

	o->contact = ct;
	o->clin = c;
	o->tier = ro->tier;
	o->continuity = ro->continuity;
	o->offered_at = now;
	o->expires_at = ro->expires_at;
	TAILQ_INSERT_TAIL(&ct->offers, o, by_contact);
	TAILQ_INSERT_TAIL(&c->offers, o, by_clin);
	c->noffers++;
	c->last_offer = ++e->offer_seq;
	if (store_offer_open(e->st, ct->id, c->id, o->tier, now,
	        o->expires_at) == STORE_ERROR)
		engine_store_failed(e, "offer");
	engine_event(e, ct, "offered", now, o->tier, c->id,
	    o->continuity ? json_pack("{s:b}", "continuity", 1) : NULL);
	engine_offer_send(e, o, now);
}

static const char *const engine_withdraw_reasons[] = {
	[OFFER_TAKEN] = "taken",
	[OFFER_BUSY] = "busy",
	[OFFER_ABANDONED] = "abandoned",
	[OFFER_OVERFLOW] = "overflow",
	[OFFER_EXPIRED] = "expired",
};

/*
 * End one offer: record why, tell the clinician where the contract says
 * so, and mark the contact for routing.  reason is a decline's own words.
 */
void
engine_offer_end(struct engine *e, struct offer *o, enum offer_end why,
    const char *reason, int64_t now)
{
	struct contact *ct = o->contact;
	struct clin *c = o->clin;
	json_t *detail = NULL;

	TAILQ_REMOVE(&ct->offers, o, by_contact);
	TAILQ_REMOVE(&c->offers, o, by_clin);
	c->noffers--;
	if (o->sent)
		heard_end(e->heard, ct->id, c->id);
	/*
	 * When the contact leaves routing (accepted, taken, abandoned,
	 * overflow) its state change drops all its stored offers at once.
	 */
	if ((why == OFFER_DECLINED || why == OFFER_EXPIRED ||
	        why == OFFER_BUSY) &&
	    store_offer_close(e->st, ct->id, c->id) == STORE_ERROR)
		engine_store_failed(e, "offer close");
	switch (why) {
	case OFFER_DECLINED:
		contact_add_refused(ct, c->id);
		if (reason != NULL)
			detail = json_pack("{s:s}", "reason", reason);
		engine_event(e, ct, "declined", now, o->tier, c->id, detail);
		break;
	case OFFER_EXPIRED:
		contact_add_refused(ct, c->id);
		engine_event(e, ct, "expired", now, o->tier, c->id, NULL);
		c->missed++;
		break;
	case OFFER_ACCEPTED:
		break;
	case OFFER_TAKEN:
	case OFFER_BUSY:
	case OFFER_ABANDONED:
	case OFFER_OVERFLOW:
		break;
	}
	/* Refusals are kept in the saved route: a restart must not ask again.
	 */
	if (why == OFFER_DECLINED || why == OFFER_EXPIRED)
		engine_save_route(e, ct);
	if (why != OFFER_ACCEPTED && why != OFFER_DECLINED && o->sent &&
	    c->session != NULL) {
		char line[WIRE_WITHDRAWN_MAX];

		wire_withdrawn(line, ct->id, engine_withdraw_reasons[why]);
		session_send_line(c->session, line);
	}
	free(o);
	engine_mark_dirty(e, ct);
	/*
	 * Below the cap again: contacts walking the tiers may ring it; no
	 * longer rung for anything: waiting contacts may ring it too.
	 */
	if (c->noffers == 0 ||
	    (e->conf->max_offers_per_clinician > 0 &&
	        c->noffers + 1 == (size_t)e->conf->max_offers_per_clinician))
		engine_clin_freed(e, c);
	if (why == OFFER_EXPIRED && c->available &&
	    c->missed >= e->conf->max_missed_offers)
		engine_clin_away(e, c, ct, "missed_offers",
		    json_pack("{s:i}", "missed", c->missed), now);
}

/* End every offer a clinician holds, for one reason. */
void
engine_clin_offers_end(struct engine *e, struct clin *c, enum offer_end why,
    const char *reason, int64_t now)
{
	struct offer *o;

	while ((o = TAILQ_FIRST(&c->offers)) != NULL)
		engine_offer_end(e, o, why, reason, now);
}

/*
 * A clinician's connection is gone: the offers it heard of count as
 * declined; those it never heard of (after a restart) wait for it.
 */
void
engine_clin_heard_decline(struct engine *e, struct clin *c, int64_t now)
{
	struct offer *o, *next;

	for (o = TAILQ_FIRST(&c->offers); o != NULL; o = next) {
		next = TAILQ_NEXT(o, by_clin);
		if (o->sent)
			engine_offer_end(e, o, OFFER_DECLINED, "disconnected",
			    now);
	}
}

/* End every offer of a contact, for one reason. */
void
engine_contact_offers_end(struct engine *e, struct contact *ct,
    enum offer_end why, int64_t now)
{
	struct offer *o;

	while ((o = TAILQ_FIRST(&ct->offers)) != NULL)
		engine_offer_end(e, o, why, NULL, now);
}

/* The offer of ct held by c, or NULL. */
struct offer *
engine_offer_of(struct contact *ct, const struct clin *c)
{
	struct offer *o;

	if (ct == NULL)
		return NULL;
	TAILQ_FOREACH (o, &ct->offers, by_contact) {
		if (o->clin == c)
			return o;
	}
	return NULL;
}

/*
 * The clinician is set away for a reason (missed_offers, connect_failed)
 * that contact cause gave: told to it and, in cause's timeline, to the
 * supervisors (detail stolen).
 */
void
engine_clin_away(struct engine *e, struct clin *c, struct contact *cause,
    const char *reason, json_t *detail, int64_t now)
{
	c->available = false;
	/* Its status is not in the store: a failed commit keeps it away. */
	if (c->session != NULL)
		session_send_urgent(c->session, wire_status_away(reason));
	engine_event(e, cause, "clinician_away", now, 0, c->id, detail);
	log_contact(LOG_LEVEL_NOTICE, cause->id, c->id,
	    "clinician %s set away: %s", c->id, reason);
	engine_clin_offers_end(e, c, OFFER_DECLINED, "away", now);
	engine_clin_lost(e, c);
}

/* --- routing --- */

/* Grow the scratch arrays to hold every clinician. */
static void
engine_scratch(struct engine *e, size_t n)
{
	if (n <= e->ncap)
		return;
	e->ncap = n * 2;
	e->cands = xreallocarray(e->cands, e->ncap, sizeof(*e->cands));
	e->cand_clins =
	    xreallocarray(e->cand_clins, e->ncap, sizeof(*e->cand_clins));
	e->offers = xreallocarray(e->offers, e->ncap, sizeof(*e->offers));
}

/*
 * The tiers c is on call for at now.  Routing asks for every contact it
 * looks at in a pass, all at the same now: one roster walk serves them.
 */
uint32_t
engine_clin_tiers(struct engine *e, struct clin *c, int64_t now)
{
	if (c->tiers_at != now || c->tiers_gen != e->roster_gen) {
		c->tiers = roster_oncall_tiers(c->info, now);
		c->tiers_at = now;
		c->tiers_gen = e->roster_gen;
	}
	return c->tiers;
}

/*
 * Does c speak ct's language and have its needs?  Neither changes while
 * the roster stays, so each answer is worked out once per contact.
 */
static bool
engine_clin_matches(struct engine *e, struct contact *ct, const struct clin *c)
{
	size_t i = (size_t)(c->info - e->roster->clinicians);

	if (ct->matches == NULL || ct->matches_gen != e->roster_gen) {
		free(ct->matches);
		ct->matches = xcalloc(e->roster->nclinicians + 1, 1);
		ct->matches_gen = e->roster_gen;
	}
	if (ct->matches[i] == 0)
		ct->matches[i] = roster_speaks(c->info, ct->language) &&
		        roster_has_skills(c->info,
		            (const char *const *)ct->needs, ct->nneeds)
		    ? 2
		    : 1;
	return ct->matches[i] == 2;
}

/*
 * Does c hold as many offers of other contacts than the one routed (which
 * it holds if offered) as routing.max_offers_per_clinician allows?
 */
static bool
engine_clin_saturated(const struct engine *e, const struct clin *c,
    bool offered)
{
	int cap = e->conf->max_offers_per_clinician;

	return cap > 0 && c->noffers - (offered ? 1u : 0u) >= (size_t)cap;
}

/*
 * Describe every clinician as routing sees it for ct; returns the count.
 * The contact's own offers are marked from its offer list afterwards, so the
 * cost is one pass over the clinicians plus one over the offers.
 */
static size_t
engine_candidates(struct engine *e, struct contact *ct, int64_t now,
    int *primary)
{
	size_t n = 0;
	struct clin *c;
	struct offer *o;

	engine_scratch(e, clin_count(&e->clins));
	*primary = -1;
	for (c = clin_first(&e->clins); c != NULL; c = clin_next(c)) {
		struct route_cand *rc = &e->cands[n];

		c->cand = SIZE_MAX;
		if (c->info == NULL)
			continue;
		memset(rc, 0, sizeof(*rc));
		rc->id = c->id;
		rc->tiers = engine_clin_tiers(e, c, now);
		rc->eligible = clin_eligible(c, now);
		rc->waitable = clin_waitable(c, now);
		rc->matches = engine_clin_matches(e, ct, c);
		rc->refused = contact_refused_by(ct, c->id);
		rc->ringing = c->noffers > 0;
		rc->idle_since = c->idle_since;
		rc->last_offer = c->last_offer;
		rc->recent_contacts = c->recent_base + c->recent_since;
		if (ct->primary[0] != '\0' && strcmp(ct->primary, c->id) == 0)
			*primary = (int)n;
		c->cand = n;
		e->cand_clins[n++] = c;
	}
	TAILQ_FOREACH (o, &ct->offers, by_contact) {
		if (o->clin->cand != SIZE_MAX) {
			struct route_cand *rc = &e->cands[o->clin->cand];

			rc->offered = true;
			rc->ringing = o->clin->noffers > 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		e->cands[i].saturated = engine_clin_saturated(e,
		    e->cand_clins[i], e->cands[i].offered);
	return n;
}

/* Did routing move (so the saved position is out of date)? */
static bool
engine_pos_equal(const struct route_pos *a, const struct route_pos *b)
{
	return a->stage == b->stage && a->tier_index == b->tier_index &&
	    a->stage_deadline == b->stage_deadline &&
	    a->deadline == b->deadline && a->waiting_told == b->waiting_told;
}

/* Route one contact: ask route_next and carry out its plan. */
void
engine_route(struct engine *e, struct contact *ct, int64_t now)
{
	struct route_contact rct;
	struct route_plan plan;
	struct route_pos before = ct->pos;
	size_t n;

	ct->dirty = false;
	if (ct->state != CONTACT_OPEN)
		return;
	/*
	 * Its caller went to the overflow target while the store failed and
	 * the store gave the contact back: whatever rings for it rings for
	 * nobody, so it is withdrawn and the overflow recorded, now.
	 */
	if (engine_told(e, ct)) {
		engine_overflow(e, ct, now);
		return;
	}
	n = engine_candidates(e, ct, now, &rct.primary);
	rct.imminent = ct->risk == RISK_IMMINENT;
	plan.offers = e->offers;
	route_next(&ct->policy->route, &ct->pos, &rct, e->cands, n, now, &plan);
	for (size_t i = 0; i < plan.nevents; i++) {
		if (plan.events[i].kind == ROUTE_EV_ESCALATED)
			engine_event(e, ct, "escalated", now,
			    plan.events[i].tier, NULL, NULL);
		else
			engine_event(e, ct, "waiting", now, 0, NULL, NULL);
	}
	for (size_t i = 0; i < plan.noffers; i++)
		engine_offer(e, ct, e->cand_clins[plan.offers[i].cand],
		    &plan.offers[i], now);
	if (plan.overflow) {
		engine_overflow(e, ct, now);
		return;
	}
	if (!engine_pos_equal(&before, &ct->pos))
		engine_save_route(e, ct);
	engine_arm(e, ct);
}
