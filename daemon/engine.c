/*
 * engine.c: the contact life cycle.
 *
 * Every public entry point does its own work, marks the contacts whose
 * routing may have changed as dirty, and ends in engine_settle(), which
 * routes the dirty ones, oldest first, until nothing changes.  Routing one
 * contact never calls back into another: that keeps the order of effects
 * plain and recursion out.
 *
 * Each step writes to the store (inside the loop turn's batch) before it
 * queues the messages that depend on it; session.c holds those messages
 * until the batch commits.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "heard.h"
#include "intake.h"
#include "log.h"
#include "results.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "wire.h"

static void engine_timer_cb(evutil_socket_t, short, void *);

/*
 * An overflow made while the store fails, not yet on record: sent to its
 * gateway (sent) or not yet, for want of a connection.
 */
struct engine_told {
	char id[CONTACT_ID_MAX + 1];
	bool sent;
	UT_hash_handle hh;
};

static struct log_limit engine_write_limit;

/* A failed store write; the turn's commit fails too, and says so at error. */
void
engine_store_failed(const char *what)
{
	log_limited(&engine_write_limit, LOG_LEVEL_WARNING, "store: %s: %s",
	    what, store_error(eng.st));
}

/* Record an event in the timeline and show it to watching supervisors. */
void
engine_event_id(const char *cid, const char *event, int64_t now, int tier,
    const char *clin, json_t *detail)
{
	char *text = NULL;

	if (detail != NULL)
		text = json_dumps(detail, JSON_COMPACT);
	if (store_event_add(eng.st, cid, now, event, tier, clin, text) ==
	    STORE_ERROR)
		engine_store_failed("event");
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
engine_event(struct contact *ct, const char *event, int64_t now, int tier,
    const char *clin, json_t *detail)
{
	engine_event_id(ct->id, event, now, tier, clin, detail);
}

/* --- contacts in memory --- */

/* Make contact ct known and routable. */
void
engine_contact_add(struct contact *ct)
{
	TAILQ_INIT(&ct->offers);
	ct->timer = evtimer_new(eng.base, engine_timer_cb, ct);
	if (ct->timer == NULL)
		fatalx("evtimer_new");
	HASH_ADD_STR(eng.by_id, id, ct);
	ct->order = ++eng.order_seq;
	TAILQ_INSERT_TAIL(&eng.queue, ct, entry);
	if (ct->state == CONTACT_OPEN)
		intake_opened(ct->intake);
}

/* Forget a closed contact (its offers are gone already). */
void
engine_contact_remove(struct contact *ct)
{
	HASH_DEL(eng.by_id, ct);
	TAILQ_REMOVE(&eng.queue, ct, entry);
	engine_heap_remove(ct);
	if (ct->state == CONTACT_OPEN)
		intake_closed(ct->intake);
	event_free(ct->timer);
	policy_unref(ct->policy);
	contact_free(ct);
}

/* The open or assigned contact with this id, or NULL. */
struct contact *
engine_find(const char *id)
{
	struct contact *ct;

	HASH_FIND_STR(eng.by_id, id, ct);
	return ct;
}

/* Save the routing position (for a restart). */
void
engine_save_route(struct contact *ct)
{
	char *text = contact_route_json(ct);
	int tier = ct->pos.stage == ROUTE_TIER
	    ? ct->policy->tiers[ct->pos.tier_index].tier
	    : 0;

	if (store_contact_set_route(eng.st, ct->id, tier, text) == STORE_ERROR)
		engine_store_failed("route");
	free(text);
}

/* Arm the contact's timer for its next deadline. */
void
engine_arm(struct contact *ct, int64_t now)
{
	int64_t at = route_wakeup(&ct->pos);
	struct offer *o;

	TAILQ_FOREACH (o, &ct->offers, by_contact) {
		if (o->expires_at < at)
			at = o->expires_at;
	}
	/*
	 * While the store fails only the overflow deadline acts, once: the
	 * retry timer routes the rest.
	 */
	if (eng.store_down && !eng.retrying)
		at = engine_told(ct) ? INT64_MAX : ct->pos.deadline;
	if (at == ct->timer_at && evtimer_pending(ct->timer, NULL))
		return;
	evtimer_del(ct->timer);
	ct->timer_at = at;
	if (at == INT64_MAX || ct->state != CONTACT_OPEN)
		return;
	engine_timer_in(ct->timer, at - now);
}

/* --- offers --- */

/*
 * Tell a clinician about an offer, if it can hear it now.  A ring-all tier
 * offers one contact to many clinicians with the same tier and deadline:
 * the line is made once and reused while those stay the same.
 */
void
engine_offer_send(struct offer *o, int64_t now)
{
	static struct {
		char contact[CONTACT_ID_MAX + 1];
		int tier;
		bool continuity;
		int64_t expires_at, now;
		char *line;
	} last;
	struct clin *c = o->clin;

	if (c->session == NULL || !c->available)
		return;
	if (last.line == NULL || last.tier != o->tier ||
	    last.continuity != o->continuity ||
	    last.expires_at != o->expires_at || last.now != now ||
	    strcmp(last.contact, o->contact->id) != 0) {
		free(last.line);
		last.line = wire_line(contact_offer_json(o, now));
		strlcpy_(last.contact, o->contact->id, sizeof(last.contact));
		last.tier = o->tier;
		last.continuity = o->continuity;
		last.expires_at = o->expires_at;
		last.now = now;
	}
	session_send_line(c->session, last.line);
	o->sent = true;
	heard_add(o->contact->id, c->id);
}

/* Make one offer of the plan. */
static void
engine_offer(struct contact *ct, struct clin *c, const struct route_offer *ro,
    int64_t now)
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
	c->last_offer = ++eng.offer_seq;
	if (store_offer_open(eng.st, ct->id, c->id, o->tier, now,
	        o->expires_at) == STORE_ERROR)
		engine_store_failed("offer");
	engine_event(ct, "offered", now, o->tier, c->id,
	    o->continuity ? json_pack("{s:b}", "continuity", 1) : NULL);
	engine_offer_send(o, now);
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
engine_offer_end(struct offer *o, enum offer_end why, const char *reason,
    int64_t now)
{
	struct contact *ct = o->contact;
	struct clin *c = o->clin;
	json_t *detail = NULL;

	TAILQ_REMOVE(&ct->offers, o, by_contact);
	TAILQ_REMOVE(&c->offers, o, by_clin);
	c->noffers--;
	if (o->sent)
		heard_end(ct->id, c->id);
	/*
	 * When the contact leaves routing (accepted, taken, abandoned,
	 * overflow) its state change drops all its stored offers at once.
	 */
	if ((why == OFFER_DECLINED || why == OFFER_EXPIRED ||
	        why == OFFER_BUSY) &&
	    store_offer_close(eng.st, ct->id, c->id) == STORE_ERROR)
		engine_store_failed("offer close");
	switch (why) {
	case OFFER_DECLINED:
		contact_add_refused(ct, c->id);
		if (reason != NULL)
			detail = json_pack("{s:s}", "reason", reason);
		engine_event(ct, "declined", now, o->tier, c->id, detail);
		break;
	case OFFER_EXPIRED:
		contact_add_refused(ct, c->id);
		engine_event(ct, "expired", now, o->tier, c->id, NULL);
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
		engine_save_route(ct);
	if (why != OFFER_ACCEPTED && why != OFFER_DECLINED && o->sent &&
	    c->session != NULL) {
		char line[WIRE_WITHDRAWN_MAX];

		wire_withdrawn(line, ct->id, engine_withdraw_reasons[why]);
		session_send_line(c->session, line);
	}
	free(o);
	engine_mark_dirty(ct);
	/*
	 * Below the cap again: contacts walking the tiers may ring it; no
	 * longer rung for anything: waiting contacts may ring it too.
	 */
	if (c->noffers == 0 ||
	    (eng.conf->max_offers_per_clinician > 0 &&
	        c->noffers + 1 == (size_t)eng.conf->max_offers_per_clinician))
		engine_clin_freed(c);
	if (why == OFFER_EXPIRED && c->available &&
	    c->missed >= eng.conf->max_missed_offers)
		engine_clin_away(c, ct, "missed_offers",
		    json_pack("{s:i}", "missed", c->missed), now);
}

/* End every offer a clinician holds, for one reason. */
void
engine_clin_offers_end(struct clin *c, enum offer_end why, const char *reason,
    int64_t now)
{
	struct offer *o;

	while ((o = TAILQ_FIRST(&c->offers)) != NULL)
		engine_offer_end(o, why, reason, now);
}

/*
 * A clinician's connection is gone: the offers it heard of count as
 * declined; those it never heard of (after a restart) wait for it.
 */
void
engine_clin_heard_decline(struct clin *c, int64_t now)
{
	struct offer *o, *next;

	for (o = TAILQ_FIRST(&c->offers); o != NULL; o = next) {
		next = TAILQ_NEXT(o, by_clin);
		if (o->sent)
			engine_offer_end(o, OFFER_DECLINED, "disconnected",
			    now);
	}
}

/* End every offer of a contact, for one reason. */
void
engine_contact_offers_end(struct contact *ct, enum offer_end why, int64_t now)
{
	struct offer *o;

	while ((o = TAILQ_FIRST(&ct->offers)) != NULL)
		engine_offer_end(o, why, NULL, now);
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
engine_clin_away(struct clin *c, struct contact *cause, const char *reason,
    json_t *detail, int64_t now)
{
	c->available = false;
	if (c->session != NULL)
		session_send(c->session, wire_status_away(reason));
	engine_event(cause, "clinician_away", now, 0, c->id, detail);
	log_contact(LOG_LEVEL_NOTICE, cause->id, c->id,
	    "clinician %s set away: %s", c->id, reason);
	engine_clin_offers_end(c, OFFER_DECLINED, "away", now);
	engine_clin_lost(c);
}

/* --- results for the intake --- */

/* The entry of ct's overflow made while the store fails, or NULL. */
static struct engine_told *
engine_told_find(const struct contact *ct)
{
	struct engine_told *t;

	HASH_FIND_STR(eng.told, ct->id, t);
	return t;
}

/*
 * Has ct overflowed while the store failed, with the record still to be
 * made?  Its caller is gone to the overflow target: nobody may accept it,
 * and only the retry that records it routes it again.
 */
bool
engine_told(const struct contact *ct)
{
	return engine_told_find(ct) != NULL;
}

/* Remember ct's overflow until it is on record, and whether it was sent. */
static void
engine_tell(const struct contact *ct, bool sent)
{
	struct engine_told *t = engine_told_find(ct);

	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		strlcpy_(t->id, ct->id, sizeof(t->id));
		HASH_ADD_STR(eng.told, id, t);
	}
	t->sent = t->sent || sent;
}

/*
 * After a commit: an overflow whose contact is no longer live is on
 * record; the others wait for the retry that records them.
 */
void
engine_told_prune(bool all)
{
	struct engine_told *t, *tmp;

	HASH_ITER (hh, eng.told, t, tmp) {
		if (all || engine_find(t->id) == NULL) {
			HASH_DEL(eng.told, t);
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
void
engine_push(struct contact *ct, json_t *msg, bool urgent)
{
	char *text = wire_line(msg);
	struct engine_told *t = engine_told_find(ct);
	bool quiet = urgent && eng.store_down && t != NULL && t->sent, sent;

	if (results_push(eng.st, ct->origin, ct->intake, ct->id, text, urgent,
	        quiet, &sent) == -1)
		engine_store_failed("push");
	if (urgent)
		engine_tell(ct, sent);
	free(text);
}

/* A caller we can reach again is owed a callback after abandon or overflow. */
void
engine_followup(struct contact *ct, const char *reason, int64_t now)
{
	if (ct->caller == NULL && ct->patient == NULL)
		return;
	if (store_followup_open(eng.st, ct->id, reason, now) == STORE_ERROR)
		engine_store_failed("follow-up");
}

/* Nobody took it in time: withdraw, tell the intake, close. */
void
engine_overflow(struct contact *ct, int64_t now)
{
	const char *target = ct->policy->overflow_target;

	engine_contact_offers_end(ct, OFFER_OVERFLOW, now);
	if (contact_set_state(ct, CONTACT_OVERFLOW) == -1)
		return;
	ct->pos.stage = ROUTE_DONE;
	if (store_contact_set_state(eng.st, ct->id, STORE_STATE_OVERFLOW, NULL,
	        now) == STORE_ERROR)
		engine_store_failed("overflow");
	engine_event(ct, "overflow", now, 0, NULL,
	    json_pack("{s:s}", "target", target));
	engine_followup(ct, "overflow", now);
	log_contact(LOG_LEVEL_NOTICE, ct->id, NULL,
	    "contact %s overflowed to %s", ct->id, target);
	engine_push(ct, wire_overflow(ct->id, ct->ref, target), true);
	engine_contact_remove(ct);
}

/* --- routing --- */

/* Grow the scratch arrays to hold every clinician. */
static void
engine_scratch(size_t n)
{
	if (n <= eng.ncap)
		return;
	eng.ncap = n * 2;
	eng.cands = xreallocarray(eng.cands, eng.ncap, sizeof(*eng.cands));
	eng.cand_clins =
	    xreallocarray(eng.cand_clins, eng.ncap, sizeof(*eng.cand_clins));
	eng.offers = xreallocarray(eng.offers, eng.ncap, sizeof(*eng.offers));
}

/*
 * The tiers c is on call for at now.  Routing asks for every contact it
 * looks at in a pass, all at the same now: one roster walk serves them.
 */
uint32_t
engine_clin_tiers(struct clin *c, int64_t now)
{
	if (c->tiers_at != now || c->tiers_gen != eng.roster_gen) {
		c->tiers = roster_oncall_tiers(c->info, now);
		c->tiers_at = now;
		c->tiers_gen = eng.roster_gen;
	}
	return c->tiers;
}

/*
 * Does c speak ct's language and have its needs?  Neither changes while
 * the roster stays, so each answer is worked out once per contact.
 */
static bool
engine_clin_matches(struct contact *ct, const struct clin *c)
{
	size_t i = (size_t)(c->info - eng.roster->clinicians);

	if (ct->matches == NULL || ct->matches_gen != eng.roster_gen) {
		free(ct->matches);
		ct->matches = xcalloc(eng.roster->nclinicians + 1, 1);
		ct->matches_gen = eng.roster_gen;
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
engine_clin_saturated(const struct clin *c, bool offered)
{
	int cap = eng.conf->max_offers_per_clinician;

	return cap > 0 && c->noffers - (offered ? 1u : 0u) >= (size_t)cap;
}

/*
 * Describe every clinician as routing sees it for ct; returns the count.
 * The contact's own offers are marked from its offer list afterwards, so the
 * cost is one pass over the clinicians plus one over the offers.
 */
static size_t
engine_candidates(struct contact *ct, int64_t now, int *primary)
{
	size_t n = 0;
	struct clin *c;
	struct offer *o;

	engine_scratch(clin_count());
	*primary = -1;
	for (c = clin_first(); c != NULL; c = clin_next(c)) {
		struct route_cand *rc = &eng.cands[n];

		c->cand = SIZE_MAX;
		if (c->info == NULL)
			continue;
		memset(rc, 0, sizeof(*rc));
		rc->id = c->id;
		rc->tiers = engine_clin_tiers(c, now);
		rc->eligible = clin_eligible(c, now);
		rc->waitable = clin_waitable(c, now);
		rc->matches = engine_clin_matches(ct, c);
		rc->refused = contact_refused_by(ct, c->id);
		rc->ringing = c->noffers > 0;
		rc->idle_since = c->idle_since;
		rc->last_offer = c->last_offer;
		rc->recent_contacts = c->recent_base + c->recent_since;
		if (ct->primary[0] != '\0' && strcmp(ct->primary, c->id) == 0)
			*primary = (int)n;
		c->cand = n;
		eng.cand_clins[n++] = c;
	}
	TAILQ_FOREACH (o, &ct->offers, by_contact) {
		if (o->clin->cand != SIZE_MAX) {
			struct route_cand *rc = &eng.cands[o->clin->cand];

			rc->offered = true;
			rc->ringing = o->clin->noffers > 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		eng.cands[i].saturated =
		    engine_clin_saturated(eng.cand_clins[i],
		        eng.cands[i].offered);
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
engine_route(struct contact *ct, int64_t now)
{
	struct route_contact rct;
	struct route_plan plan;
	struct route_pos before = ct->pos;
	size_t n;

	ct->dirty = false;
	if (ct->state != CONTACT_OPEN)
		return;
	n = engine_candidates(ct, now, &rct.primary);
	rct.imminent = ct->risk == RISK_IMMINENT;
	plan.offers = eng.offers;
	route_next(&ct->policy->route, &ct->pos, &rct, eng.cands, n, now,
	    &plan);
	for (size_t i = 0; i < plan.nevents; i++) {
		if (plan.events[i].kind == ROUTE_EV_ESCALATED)
			engine_event(ct, "escalated", now, plan.events[i].tier,
			    NULL, NULL);
		else
			engine_event(ct, "waiting", now, 0, NULL, NULL);
	}
	for (size_t i = 0; i < plan.noffers; i++)
		engine_offer(ct, eng.cand_clins[plan.offers[i].cand],
		    &plan.offers[i], now);
	if (plan.overflow) {
		engine_overflow(ct, now);
		return;
	}
	if (!engine_pos_equal(&before, &ct->pos))
		engine_save_route(ct);
	engine_arm(ct, now);
}

/* A contact's deadline: expire its due offers, then route it. */
static void
engine_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct contact *ct = arg;
	int64_t now = util_now_ms();
	struct offer *o, *next;

	(void)fd;
	(void)what;
	ct->timer_at = 0;
	if (eng.store_down) {
		/* Only the overflow deadline acts until the store is back. */
		engine_mark_dirty(ct);
		if (now >= ct->pos.deadline)
			engine_settle(now);
		else
			engine_arm(ct, now);
		return;
	}
	/* At the overflow deadline offers are withdrawn as overflow, not
	 * expired. */
	for (o = TAILQ_FIRST(&ct->offers); now < ct->pos.deadline && o != NULL;
	     o = next) {
		next = TAILQ_NEXT(o, by_contact);
		if (o->expires_at <= now)
			engine_offer_end(o, OFFER_EXPIRED, NULL, now);
	}
	engine_mark_dirty(ct);
	engine_settle(now);
}

/* A clinician's wrap-up ended: it may take contacts again. */
static void
engine_wrapup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct clin *c = arg;
	int64_t now = util_now_ms();

	(void)fd;
	(void)what;
	/* The timer is the end of wrap-up, even if it fires a hair early. */
	c->wrapup_until = 0;
	c->idle_since = now;
	engine_clin_freed(c);
	engine_settle(now);
}

/* Start a clinician's wrap-up; at its end the clinician is eligible again. */
void
engine_clin_wrapup(struct clin *c, int64_t now)
{
	int64_t ms = eng.conf->wrapup_ms;

	c->wrapup_until = now + ms;
	if (c->wrapup_timer == NULL) {
		c->wrapup_timer = evtimer_new(eng.base, engine_wrapup_cb, c);
		if (c->wrapup_timer == NULL)
			fatalx("evtimer_new");
	}
	engine_timer_in(c->wrapup_timer, ms);
}
