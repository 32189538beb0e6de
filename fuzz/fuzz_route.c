/*
 * fuzz_route.c: libFuzzer target for the routing state machine (issue 6).
 *
 * The input builds a small world (1-3 tiers with their strategies and
 * timeouts, 1-8 clinicians, 1-4 contacts) and then drives it with events
 * the way the engine would: route_next, accept, decline, expiry, abandon,
 * a clinician's status, call or roster changing, time passing (the
 * contacts' timers fire in order, sometimes late) and a new contact.
 *
 * The target keeps its own model of the open offers, who refused what and
 * who is busy, builds route_cand[] from it as engine_candidates() does,
 * carries out every plan as engine_route() does, and checks after every
 * call what CONTRACT §4 promises: offers only to eligible clinicians who
 * neither refused nor hold one, on a tier they are on call for, expiring
 * after now and not after the deadline; the right clinician for a
 * one-at-a-time strategy; a stage walk that never goes back; a timer that
 * is always ahead of now and none once the contact is done; overflow only
 * at the deadline or with nobody left.  At the end the clock runs past
 * every deadline: each contact must have ended in exactly one outcome.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "route.h"
#include "util.h"

#include "fuzz.h"
#include "fuzz_route.h"

#define FUZZ_LATE_MAX_MS 50 /* how late a timer may fire (CONTRACT §4) */
#define FUZZ_FIRINGS_MAX 100000 /* timers fired in one run, at most */
#define FUZZ_T0_MS INT64_C(1800000000000)
#define FUZZ_TIER_OFF_POLICY 12 /* a tier the policies here never walk */

/* An entry of a table, picked by the input. */
#define FUZZ_PICK(w, table) ((table)[fuzz_route_pick((w), nitems(table))])

/* Durations the input picks from, so that they collide now and then. */
static const int64_t fuzz_route_timeouts_ms[] = { 1, 50, 1000, 15000, 20000,
	60000 };
static const int64_t fuzz_route_continuity_ms[] = { 0, 0, 1, 5000, 10000,
	200000 };
static const int64_t fuzz_route_waits_ms[] = { 1, 1000, 30000, 90000, 120000,
	300000 };
static const int64_t fuzz_route_steps_ms[] = { 1, 10, 49, 100, 1000, 5000,
	20000, 60000 };

/* The next input byte; 0 once the input is used up. */
static uint8_t
fuzz_route_byte(struct fuzz_world *w)
{
	if (w->left == 0)
		return 0;
	w->left--;
	return *w->in++;
}

/* A number 0..n-1 from the input. */
static size_t
fuzz_route_pick(struct fuzz_world *w, size_t n)
{
	return fuzz_route_byte(w) % n;
}

/* Is the clinician eligible (clin_eligible)? */
static bool
fuzz_route_eligible(const struct fuzz_clin *c)
{
	return c->connected && c->available && c->assigned == FUZZ_FREE &&
	    !c->wrapup;
}

/* Is the clinician worth waiting for (clin_waitable)? */
static bool
fuzz_route_waitable(const struct fuzz_clin *c)
{
	return c->assigned != FUZZ_FREE || (c->connected && c->wrapup);
}

/* On-call tiers from an input byte: bits pick policy tiers and others. */
static uint32_t
fuzz_route_oncall(const struct fuzz_world *w, uint8_t b)
{
	uint32_t tiers = 0;

	for (size_t i = 0; i < w->pol.ntiers; i++) {
		if (b & (1u << i))
			tiers |= UINT32_C(1) << w->tiers[i].tier;
	}
	if (b & 0x08)
		tiers |= UINT32_C(1) << FUZZ_TIER_OFF_POLICY;
	if (b & 0x10)
		tiers |= UINT32_C(1) << 31;
	return tiers;
}

/* Build the policy, the clinicians and the contacts from the input. */
static void
fuzz_route_build(struct fuzz_world *w)
{
	static const enum strategy strategies[] = { STRATEGY_RING_ALL,
		STRATEGY_LONGEST_IDLE, STRATEGY_ROUND_ROBIN,
		STRATEGY_SEQUENTIAL, STRATEGY_FEWEST_CONTACTS };
	size_t ntiers = 1 + fuzz_route_pick(w, FUZZ_TIERS_MAX), i, j, rot, step;
	int tier = 0;

	for (i = 0; i < ntiers; i++) {
		tier += 1 + (int)fuzz_route_pick(w, 4);
		w->tiers[i].tier = tier;
		w->tiers[i].strategy = strategies[fuzz_route_pick(w, 5)];
		w->tiers[i].offer_timeout_ms =
		    FUZZ_PICK(w, fuzz_route_timeouts_ms);
		w->mask |= UINT32_C(1) << tier;
	}
	w->pol.tiers = w->tiers;
	w->pol.ntiers = ntiers;
	w->pol.continuity_ms = FUZZ_PICK(w, fuzz_route_continuity_ms);
	w->max_wait_ms = FUZZ_PICK(w, fuzz_route_waits_ms);
	w->imminent_max_wait_ms = FUZZ_PICK(w, fuzz_route_waits_ms);
	w->max_missed = 1 + (int)fuzz_route_pick(w, 3);
	w->nclins = 1 + fuzz_route_pick(w, FUZZ_CLINS_MAX);
	/* Ids a permutation of c0..c7, so the array is not in id order. */
	rot = fuzz_route_pick(w, FUZZ_CLINS_MAX);
	step = 1 + 2 * fuzz_route_pick(w, 4);
	for (i = 0; i < w->nclins; i++) {
		struct fuzz_clin *c = &w->clins[i];
		uint8_t b = fuzz_route_byte(w);

		snprintf(c->id, sizeof(c->id), "c%zu",
		    (i * step + rot) % FUZZ_CLINS_MAX);
		c->tiers = fuzz_route_oncall(w, fuzz_route_byte(w));
		c->connected = (b & 1) == 0;
		c->available = c->connected && (b & 2) == 0;
		c->assigned = (b & 4) ? FUZZ_OTHER : FUZZ_FREE;
		c->wrapup = (b & 8) != 0;
		c->idle_since =
		    FUZZ_T0_MS - (int64_t)(fuzz_route_byte(w) % 4) * 1000;
		c->last_offer = fuzz_route_byte(w) % 4;
		c->recent = (int)(fuzz_route_byte(w) % 3);
	}
	w->ncontacts = 1 + fuzz_route_pick(w, FUZZ_CONTACTS_MAX);
	for (i = 0; i < w->ncontacts; i++) {
		struct fuzz_contact *ct = &w->contacts[i];
		uint8_t b = fuzz_route_byte(w);

		ct->imminent = (b & 3) == 3;
		ct->primary = (b & 4) ? (int)fuzz_route_pick(w, w->nclins) : -1;
		ct->assigned_to = FUZZ_FREE;
		for (j = 0; j < w->nclins; j++)
			ct->matches[j] = (fuzz_route_byte(w) & 1) != 0;
	}
	w->now = FUZZ_T0_MS;
}

/* Does clinician j hold an open offer of a contact other than ct? */
static bool
fuzz_route_ringing(const struct fuzz_world *w, const struct fuzz_contact *ct,
    size_t j)
{
	for (size_t k = 0; k < w->nqueued; k++) {
		if (&w->contacts[k] != ct && w->contacts[k].offers[j].open)
			return true;
	}
	return false;
}

/* Describe every clinician for ct, as engine_candidates() does. */
static void
fuzz_route_cands(const struct fuzz_world *w, const struct fuzz_contact *ct,
    struct route_cand *cands)
{
	for (size_t i = 0; i < w->nclins; i++) {
		const struct fuzz_clin *c = &w->clins[i];

		memset(&cands[i], 0, sizeof(cands[i]));
		cands[i].id = c->id;
		cands[i].tiers = c->tiers;
		cands[i].eligible = fuzz_route_eligible(c);
		cands[i].waitable = fuzz_route_waitable(c);
		cands[i].matches = ct->matches[i];
		cands[i].refused = ct->refused[i];
		cands[i].offered = ct->offers[i].open;
		cands[i].ringing = fuzz_route_ringing(w, ct, i);
		cands[i].idle_since = c->idle_since;
		cands[i].last_offer = c->last_offer;
		cands[i].recent_contacts = c->recent;
	}
}

/* Close one open offer; refused when declined or expired. */
static void
fuzz_route_offer_end(struct fuzz_world *w, size_t k, size_t j, bool refused)
{
	struct fuzz_contact *ct = &w->contacts[k];

	FUZZ_CHECK(ct->offers[j].open);
	ct->offers[j].open = false;
	if (refused)
		ct->refused[j] = true;
}

/* End every open offer of a contact (taken, abandoned, overflow). */
static void
fuzz_route_contact_offers_end(struct fuzz_world *w, size_t k)
{
	for (size_t j = 0; j < w->nclins; j++) {
		if (w->contacts[k].offers[j].open)
			fuzz_route_offer_end(w, k, j, false);
	}
}

/* End every open offer a clinician holds (away, busy, disconnected). */
static void
fuzz_route_clin_offers_end(struct fuzz_world *w, size_t j, bool refused)
{
	for (size_t k = 0; k < w->nqueued; k++) {
		if (w->contacts[k].offers[j].open)
			fuzz_route_offer_end(w, k, j, refused);
	}
}

/* Give a contact its one outcome. */
static void
fuzz_route_close(struct fuzz_world *w, size_t k, enum fuzz_outcome outcome)
{
	struct fuzz_contact *ct = &w->contacts[k];

	FUZZ_CHECK(ct->outcome == OUTCOME_NONE);
	ct->outcome = outcome;
	fuzz_route_contact_offers_end(w, k);
	ct->pos.stage = ROUTE_DONE;
	FUZZ_CHECK(route_wakeup(&ct->pos) == INT64_MAX);
}

/* Route one contact now, check the plan and carry it out. */
static void
fuzz_route_next(struct fuzz_world *w, size_t k)
{
	struct fuzz_contact *ct = &w->contacts[k];
	struct route_cand cands[FUZZ_CLINS_MAX];
	struct route_offer offers[FUZZ_CLINS_MAX];
	struct route_plan plan;
	struct route_contact rct;
	struct route_pos before = ct->pos;

	fuzz_route_cands(w, ct, cands);
	rct.imminent = ct->imminent;
	rct.primary = ct->primary;
	memset(&plan, 0, sizeof(plan));
	plan.offers = offers;
	route_next(&w->pol, &ct->pos, &rct, cands, w->nclins, w->now, &plan);
	fuzz_route_check(w, ct, &before, cands, &plan);
	for (size_t i = 0; i < plan.nevents; i++)
		ct->nwaiting += plan.events[i].kind == ROUTE_EV_WAITING;
	FUZZ_CHECK(ct->nwaiting <= 1);
	for (size_t i = 0; i < plan.noffers; i++) {
		struct fuzz_offer *o = &ct->offers[plan.offers[i].cand];

		o->open = true;
		o->expires_at = plan.offers[i].expires_at;
		w->clins[plan.offers[i].cand].last_offer = ++w->offer_seq;
	}
	if (plan.overflow)
		fuzz_route_close(w, k, OUTCOME_OVERFLOW);
}

/* Route every open contact once, oldest first (engine_settle). */
static void
fuzz_route_settle(struct fuzz_world *w)
{
	for (size_t k = 0; k < w->nqueued; k++) {
		if (w->contacts[k].outcome == OUTCOME_NONE)
			fuzz_route_next(w, k);
	}
}

/* When a contact's timer fires: its wakeup or its first offer expiry. */
static int64_t
fuzz_route_due(const struct fuzz_world *w, const struct fuzz_contact *ct)
{
	int64_t at = route_wakeup(&ct->pos);

	for (size_t j = 0; j < w->nclins; j++) {
		if (ct->offers[j].open && ct->offers[j].expires_at < at)
			at = ct->offers[j].expires_at;
	}
	return at;
}

/* An offer expired unanswered: refused, and maybe one miss too many. */
static void
fuzz_route_expire(struct fuzz_world *w, size_t k, size_t j)
{
	struct fuzz_clin *c = &w->clins[j];

	fuzz_route_offer_end(w, k, j, true);
	c->missed++;
	if (c->available && c->missed >= w->max_missed) {
		c->available = false;
		fuzz_route_clin_offers_end(w, j, true);
	}
}

/* A contact's deadline (engine_due.c's engine_contact_due): expire, route. */
static void
fuzz_route_fire(struct fuzz_world *w, size_t k)
{
	struct fuzz_contact *ct = &w->contacts[k];

	/* At the overflow deadline offers are withdrawn, not expired. */
	for (size_t j = 0; j < w->nclins && w->now < ct->pos.deadline; j++) {
		if (ct->offers[j].open && ct->offers[j].expires_at <= w->now)
			fuzz_route_expire(w, k, j);
	}
	fuzz_route_next(w, k);
}

/*
 * Let time pass until target, firing every timer due on the way in time
 * order, each up to FUZZ_LATE_MAX_MS late.  Every firing leaves its
 * contact's next timer after now, so this ends.
 */
static void
fuzz_route_advance(struct fuzz_world *w, int64_t target)
{
	for (int n = 0;; n++) {
		int64_t due = INT64_MAX;
		size_t first = 0;

		FUZZ_CHECK(n < FUZZ_FIRINGS_MAX);
		for (size_t k = 0; k < w->nqueued; k++) {
			if (w->contacts[k].outcome == OUTCOME_NONE &&
			    fuzz_route_due(w, &w->contacts[k]) < due) {
				due = fuzz_route_due(w, &w->contacts[k]);
				first = k;
			}
		}
		if (due > target)
			break;
		if (due > w->now)
			w->now = due +
			    (int64_t)fuzz_route_pick(w, FUZZ_LATE_MAX_MS + 1);
		fuzz_route_fire(w, first);
	}
	if (target > w->now)
		w->now = target;
}

/* An accept by clinician j of contact k, if j holds its offer. */
static void
fuzz_route_accept(struct fuzz_world *w, size_t k, size_t j)
{
	struct fuzz_contact *ct = &w->contacts[k];
	struct fuzz_clin *c = &w->clins[j];

	if (ct->outcome != OUTCOME_NONE || !ct->offers[j].open)
		return;
	/* Offers go to the eligible only; going away or busy ends them. */
	FUZZ_CHECK(fuzz_route_eligible(c));
	c->missed = 0;
	fuzz_route_offer_end(w, k, j, false);
	fuzz_route_close(w, k, OUTCOME_ASSIGNED);
	ct->assigned_to = (int)j;
	c->assigned = (int)k;
	c->recent++;
	fuzz_route_clin_offers_end(w, j, false);
}

/* A change to clinician j: status, connection, a call, wrap-up, roster. */
static void
fuzz_route_clin_event(struct fuzz_world *w, size_t j, uint8_t what)
{
	struct fuzz_clin *c = &w->clins[j];

	switch (what % 7) {
	case 0: /* status available */
		if (!c->connected || c->available)
			break;
		c->available = true;
		c->missed = 0;
		if (c->assigned == FUZZ_FREE && !c->wrapup)
			c->idle_since = w->now;
		break;
	case 1: /* status away: its open offers count as declined */
		if (!c->available)
			break;
		c->available = false;
		fuzz_route_clin_offers_end(w, j, true);
		break;
	case 2: /* disconnect */
		c->connected = c->available = false;
		fuzz_route_clin_offers_end(w, j, true);
		break;
	case 3: /* connect: away until it says otherwise */
		c->connected = true;
		break;
	case 4: /* accepts a contact outside this world */
		if (!fuzz_route_eligible(c))
			break;
		c->assigned = FUZZ_OTHER;
		c->recent++;
		fuzz_route_clin_offers_end(w, j, false);
		break;
	case 5: /* completes its contact, or its wrap-up ends */
		if (c->assigned != FUZZ_FREE) {
			c->assigned = FUZZ_FREE;
			c->wrapup = true;
		} else if (c->wrapup) {
			c->wrapup = false;
			c->idle_since = w->now;
		}
		break;
	case 6: /* the roster changes its on-call tiers */
		c->tiers = fuzz_route_oncall(w, fuzz_route_byte(w));
		break;
	}
}

/* Start the next contact's walk, as engine_ops does when it is queued. */
static void
fuzz_route_queue(struct fuzz_world *w)
{
	struct fuzz_contact *ct;

	if (w->nqueued == w->ncontacts)
		return;
	ct = &w->contacts[w->nqueued++];
	route_start(&ct->pos, w->now, ct->imminent, w->max_wait_ms,
	    w->imminent_max_wait_ms);
	FUZZ_CHECK(ct->pos.stage == ROUTE_START);
	FUZZ_CHECK(ct->pos.deadline ==
	    w->now + (ct->imminent ? w->imminent_max_wait_ms : w->max_wait_ms));
	fuzz_route_next(w, w->nqueued - 1);
}

/* One event from the input; the top bit settles every contact after. */
static void
fuzz_route_event(struct fuzz_world *w)
{
	uint8_t op = fuzz_route_byte(w);
	size_t k = fuzz_route_pick(w, w->nqueued), j;
	int64_t at;

	switch (op % 9) {
	case 0:
		fuzz_route_next(w, k);
		break;
	case 1:
		fuzz_route_accept(w, k, fuzz_route_pick(w, w->nclins));
		break;
	case 2:
		j = fuzz_route_pick(w, w->nclins);
		if (w->contacts[k].offers[j].open) {
			w->clins[j].missed = 0;
			fuzz_route_offer_end(w, k, j, true);
		}
		break;
	case 3: /* time passes to the contact's next timer */
		at = fuzz_route_due(w, &w->contacts[k]);
		if (w->contacts[k].outcome == OUTCOME_NONE)
			fuzz_route_advance(w, at);
		break;
	case 4:
		if (w->contacts[k].outcome == OUTCOME_NONE)
			fuzz_route_close(w, k, OUTCOME_ABANDONED);
		break;
	case 5:
		j = fuzz_route_pick(w, w->nclins);
		fuzz_route_clin_event(w, j, fuzz_route_byte(w));
		break;
	case 6:
		fuzz_route_advance(w,
		    w->now + FUZZ_PICK(w, fuzz_route_steps_ms));
		break;
	case 7: /* a timer is late: time moves, nothing fires yet */
		w->now += 1 + (int64_t)fuzz_route_pick(w, FUZZ_LATE_MAX_MS);
		break;
	case 8:
		fuzz_route_queue(w);
		break;
	}
	if (op & 0x80)
		fuzz_route_settle(w);
}

/*
 * The end: the clock runs past every deadline, firing every timer.  Each
 * contact must then be done with exactly one outcome and no offer out.
 */
static void
fuzz_route_finish(struct fuzz_world *w)
{
	int64_t last = w->now;
	size_t k, j, outcomes = 0;

	for (k = 0; k < w->nqueued; k++) {
		if (w->contacts[k].pos.deadline > last)
			last = w->contacts[k].pos.deadline;
	}
	fuzz_route_advance(w, last + 1);
	for (k = 0; k < w->nqueued; k++) {
		struct fuzz_contact *ct = &w->contacts[k];

		FUZZ_CHECK(ct->outcome != OUTCOME_NONE);
		FUZZ_CHECK(ct->pos.stage == ROUTE_DONE);
		FUZZ_CHECK(route_wakeup(&ct->pos) == INT64_MAX);
		for (j = 0; j < w->nclins; j++)
			FUZZ_CHECK(!ct->offers[j].open);
		FUZZ_CHECK((ct->outcome == OUTCOME_ASSIGNED) ==
		    (ct->assigned_to != FUZZ_FREE));
		if (ct->outcome == OUTCOME_ASSIGNED)
			FUZZ_CHECK(ct->assigned_to >= 0 &&
			    (size_t)ct->assigned_to < w->nclins);
		/* Routing a closed contact again changes nothing. */
		fuzz_route_next(w, k);
		outcomes++;
	}
	FUZZ_CHECK(outcomes == w->nqueued);
}

/* Build a world from the input, play its events, then run out the clock. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_world w;

	memset(&w, 0, sizeof(w));
	w.in = data;
	w.left = size;
	fuzz_route_build(&w);
	fuzz_route_queue(&w);
	while (w.left > 0)
		fuzz_route_event(&w);
	fuzz_route_finish(&w);
	return 0;
}
