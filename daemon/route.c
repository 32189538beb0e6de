/*
 * route.c: the routing decisions of CONTRACT §4, pure.
 *
 * route_next() is called whenever something may have changed for a contact:
 * it was queued, one of its offers ended, a deadline passed, a clinician
 * became eligible, the roster changed.  It walks the stages
 *
 *	START -> CONTINUITY -> TIER 1..n -> WAITING -> (overflow)
 *	START -> IMMINENT -> (overflow)
 *
 * moving on at once whenever the current stage has nobody left, and stops
 * as soon as the contact has an open offer, something to wait for, or has
 * overflowed.
 */
#include <stdint.h>
#include <string.h>

#include "route.h"
#include "util.h"

static const char *const route_stage_names[] = {
	[ROUTE_START] = "start",
	[ROUTE_CONTINUITY] = "continuity",
	[ROUTE_TIER] = "tier",
	[ROUTE_WAITING] = "waiting",
	[ROUTE_IMMINENT] = "imminent",
	[ROUTE_DONE] = "done",
};

/* The name of a stage, as saved with the contact. */
const char *
route_stage_name(enum route_stage s)
{
	return route_stage_names[s];
}

/* The stage of a saved name; -1 if unknown. */
int
route_stage_from_name(const char *name)
{
	for (size_t i = 0; i < nitems(route_stage_names); i++) {
		if (strcmp(name, route_stage_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* The smaller of two times. */
static int64_t
route_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Bits of the tiers the policy walks. */
static uint32_t
route_policy_mask(const struct route_policy *pol)
{
	uint32_t mask = 0;

	for (size_t i = 0; i < pol->ntiers; i++)
		mask |= UINT32_C(1) << pol->tiers[i].tier;
	return mask;
}

/* The lowest tier in a mask, 0 if empty. */
static int
route_lowest(uint32_t tiers)
{
	for (int t = 1; t < 32; t++) {
		if (tiers & (UINT32_C(1) << t))
			return t;
	}
	return 0;
}

/* The policy's settings for a tier, or the last tier's if it has none. */
static const struct conf_tier *
route_tier_conf(const struct route_policy *pol, int tier)
{
	for (size_t i = 0; i < pol->ntiers; i++) {
		if (pol->tiers[i].tier == tier)
			return &pol->tiers[i];
	}
	return &pol->tiers[pol->ntiers - 1];
}

/* May this clinician be offered the contact now, on one of mask's tiers? */
static bool
route_offerable(const struct route_cand *c, uint32_t mask)
{
	return c->eligible && !c->refused && !c->offered &&
	    (c->tiers & mask) != 0;
}

/*
 * May the tier walk offer this clinician the contact?  As route_offerable,
 * and not saturated: one who already holds as many offers of other
 * contacts as a clinician may is passed over, as if busy, so that a surge
 * of contacts does not ring every free clinician for every contact.
 * Continuity and imminent contacts are offered whatever the count.
 */
static bool
route_offerable_walk(const struct route_cand *c, uint32_t mask)
{
	return route_offerable(c, mask) && !c->saturated;
}

/* Does any clinician hold an open offer of this contact? */
static bool
route_any_offered(const struct route_cand *cands, size_t ncands)
{
	for (size_t i = 0; i < ncands; i++) {
		if (cands[i].offered)
			return true;
	}
	return false;
}

/*
 * Is anyone on call worth waiting for who has not refused this contact:
 * busy, in wrap-up, or free but being rung for another contact (waiting
 * leaves them to answer that one first, so they are not offered this one
 * now; overflowing would send the caller away from a free clinician)?
 */
static bool
route_any_waitable(const struct route_cand *cands, size_t ncands, uint32_t mask)
{
	for (size_t i = 0; i < ncands; i++) {
		const struct route_cand *c = &cands[i];

		if ((c->waitable || (c->eligible && c->ringing)) &&
		    !c->refused && (c->tiers & mask) != 0)
			return true;
	}
	return false;
}

/*
 * Order two candidates for a one-at-a-time strategy: those who speak the
 * language and have the needs first; then those not already being rung for
 * another contact, so that contacts spread over free clinicians instead of
 * piling onto the one the strategy ranks first; then the strategy's own
 * order; then by id so that equal candidates are taken in a stable order.
 */
static int
route_compare(const struct route_cand *a, const struct route_cand *b,
    enum strategy s)
{
	if (a->matches != b->matches)
		return a->matches ? -1 : 1;
	if (a->ringing != b->ringing)
		return a->ringing ? 1 : -1;
	switch (s) {
	case STRATEGY_LONGEST_IDLE:
		if (a->idle_since != b->idle_since)
			return a->idle_since < b->idle_since ? -1 : 1;
		break;
	case STRATEGY_ROUND_ROBIN:
		if (a->last_offer != b->last_offer)
			return a->last_offer < b->last_offer ? -1 : 1;
		break;
	case STRATEGY_FEWEST_CONTACTS:
		if (a->recent_contacts != b->recent_contacts)
			return a->recent_contacts < b->recent_contacts ? -1 : 1;
		break;
	case STRATEGY_SEQUENTIAL:
	case STRATEGY_RING_ALL:
		break;
	}
	return strcmp(a->id, b->id);
}

/*
 * The best candidate offerable on mask: lowest on-call tier first when
 * lowest_first (waiting), then route_compare under that tier's strategy;
 * with skip_ringing, nobody already rung for another contact.  -1 if nobody.
 */
static long
route_best(const struct route_policy *pol, const struct route_cand *cands,
    size_t ncands, uint32_t mask, enum strategy s, bool lowest_first,
    bool skip_ringing)
{
	long best = -1;

	for (size_t i = 0; i < ncands; i++) {
		const struct route_cand *c = &cands[i], *b;
		int tc, tb;

		if (!route_offerable_walk(c, mask) ||
		    (skip_ringing && c->ringing))
			continue;
		if (best < 0) {
			best = (long)i;
			continue;
		}
		b = &cands[best];
		tc = route_lowest(c->tiers & mask);
		tb = route_lowest(b->tiers & mask);
		if (lowest_first && tc != tb) {
			if (tc < tb)
				best = (long)i;
			continue;
		}
		if (lowest_first)
			s = route_tier_conf(pol, tc)->strategy;
		if (route_compare(c, b, s) < 0)
			best = (long)i;
	}
	return best;
}

/* Add an offer to the plan. */
static void
route_offer(struct route_plan *plan, size_t cand, int tier, int64_t expires_at,
    bool continuity)
{
	struct route_offer *o = &plan->offers[plan->noffers++];

	o->cand = cand;
	o->tier = tier;
	o->expires_at = expires_at;
	o->continuity = continuity;
}

/* Add an event to the plan. */
static void
route_event(struct route_plan *plan, enum route_event_kind kind, int tier)
{
	if (plan->nevents < ROUTE_EVENT_MAX) {
		plan->events[plan->nevents].kind = kind;
		plan->events[plan->nevents].tier = tier;
		plan->nevents++;
	}
}

/* Nobody answered in time or nobody is left: overflow. */
static void
route_overflow(struct route_pos *pos, struct route_plan *plan)
{
	pos->stage = ROUTE_DONE;
	pos->stage_deadline = 0;
	plan->overflow = true;
}

/* Move to the tier at index, or to waiting past the last one. */
static void
route_enter_tier(const struct route_policy *pol, struct route_pos *pos,
    size_t index, bool announce, struct route_plan *plan)
{
	pos->stage_deadline = 0;
	if (index >= pol->ntiers) {
		pos->stage = ROUTE_WAITING;
		return;
	}
	pos->stage = ROUTE_TIER;
	pos->tier_index = (int)index;
	if (announce)
		route_event(plan, ROUTE_EV_ESCALATED, pol->tiers[index].tier);
}

/* Offer the primary clinician alone, if continuity applies. */
static bool
route_start_continuity(const struct route_policy *pol, struct route_pos *pos,
    const struct route_contact *ct, const struct route_cand *cands, int64_t now,
    struct route_plan *plan)
{
	uint32_t mask = route_policy_mask(pol);
	const struct route_cand *c;
	int64_t expires;

	if (pol->continuity_ms <= 0 || ct->primary < 0)
		return false;
	c = &cands[ct->primary];
	if (!route_offerable(c, mask))
		return false;
	expires = route_min(now + pol->continuity_ms, pos->deadline);
	pos->stage = ROUTE_CONTINUITY;
	pos->stage_deadline = expires;
	route_offer(plan, (size_t)ct->primary, route_lowest(c->tiers & mask),
	    expires, true);
	return true;
}

/*
 * One step in the current tier.  Returns true if routing stays in the tier
 * (an offer is open or was just made), false when the tier has nobody left.
 */
static bool
route_step_tier(const struct route_policy *pol, struct route_pos *pos,
    const struct route_cand *cands, size_t ncands, int64_t now,
    struct route_plan *plan)
{
	const struct conf_tier *t = &pol->tiers[pos->tier_index];
	uint32_t mask = UINT32_C(1) << t->tier;
	long best;

	if (t->strategy == STRATEGY_RING_ALL) {
		if (pos->stage_deadline == 0)
			pos->stage_deadline =
			    route_min(now + t->offer_timeout_ms, pos->deadline);
		if (now >= pos->stage_deadline)
			return false;
		/* Everyone on the tier, and anyone who joins before it ends. */
		for (size_t i = 0; i < ncands; i++) {
			if (route_offerable_walk(&cands[i], mask))
				route_offer(plan, i, t->tier,
				    pos->stage_deadline, false);
		}
		return plan->noffers > 0 || route_any_offered(cands, ncands);
	}
	if (route_any_offered(cands, ncands))
		return true;
	best = route_best(pol, cands, ncands, mask, t->strategy, false, false);
	if (best < 0)
		return false;
	route_offer(plan, (size_t)best, t->tier,
	    route_min(now + t->offer_timeout_ms, pos->deadline), false);
	return true;
}

/*
 * Nobody to offer now: wait if someone on call is busy or in wrap-up and
 * has not refused (telling supervisors once), else overflow.
 */
static void
route_wait_or_overflow(struct route_pos *pos, const struct route_cand *cands,
    size_t ncands, uint32_t mask, struct route_plan *plan)
{
	if (!route_any_waitable(cands, ncands, mask)) {
		route_overflow(pos, plan);
		return;
	}
	if (!pos->waiting_told) {
		route_event(plan, ROUTE_EV_WAITING, 0);
		pos->waiting_told = true;
	}
}

/* Tiers exhausted: offer whoever became eligible, wait, or overflow. */
static void
route_step_waiting(const struct route_policy *pol, struct route_pos *pos,
    const struct route_cand *cands, size_t ncands, int64_t now,
    struct route_plan *plan)
{
	uint32_t mask = route_policy_mask(pol);
	const struct conf_tier *t;
	long best;
	int tier;

	if (route_any_offered(cands, ncands))
		return;
	/*
	 * A clinician already rung for another contact is left to answer that
	 * one: otherwise every clinician coming free would be offered every
	 * waiting contact at once, and under load the offers would outnumber
	 * the answers many times over.  Contacts are routed oldest first, so
	 * the oldest waiting contact gets the clinician.
	 */
	best = route_best(pol, cands, ncands, mask, STRATEGY_SEQUENTIAL, true,
	    true);
	if (best >= 0) {
		tier = route_lowest(cands[best].tiers & mask);
		t = route_tier_conf(pol, tier);
		route_offer(plan, (size_t)best, tier,
		    route_min(now + t->offer_timeout_ms, pos->deadline), false);
		return;
	}
	route_wait_or_overflow(pos, cands, ncands, mask, plan);
}

/* Imminent: everyone eligible at once, until the imminent deadline. */
static void
route_step_imminent(const struct route_policy *pol, struct route_pos *pos,
    const struct route_cand *cands, size_t ncands, struct route_plan *plan)
{
	uint32_t mask = route_policy_mask(pol);

	for (size_t i = 0; i < ncands; i++) {
		if (route_offerable(&cands[i], mask))
			route_offer(plan, i,
			    route_lowest(cands[i].tiers & mask), pos->deadline,
			    false);
	}
	if (plan->noffers > 0 || route_any_offered(cands, ncands))
		return;
	route_wait_or_overflow(pos, cands, ncands, mask, plan);
}

/* Set up the walk of a newly queued contact. */
void
route_start(struct route_pos *pos, int64_t queued_at, bool imminent,
    int64_t max_wait_ms, int64_t imminent_max_wait_ms)
{
	memset(pos, 0, sizeof(*pos));
	pos->stage = ROUTE_START;
	pos->deadline =
	    queued_at + (imminent ? imminent_max_wait_ms : max_wait_ms);
}

/* Decide the next step for one contact. */
void
route_next(const struct route_policy *pol, struct route_pos *pos,
    const struct route_contact *ct, const struct route_cand *cands,
    size_t ncands, int64_t now, struct route_plan *plan)
{
	plan->noffers = 0;
	plan->nevents = 0;
	plan->overflow = false;
	if (pos->stage == ROUTE_DONE)
		return;
	if (now >= pos->deadline) {
		route_overflow(pos, plan);
		return;
	}
	for (;;) {
		switch (pos->stage) {
		case ROUTE_START:
			if (ct->imminent) {
				pos->stage = ROUTE_IMMINENT;
				break;
			}
			if (route_start_continuity(pol, pos, ct, cands, now,
			        plan))
				return;
			route_enter_tier(pol, pos, 0, false, plan);
			break;
		case ROUTE_CONTINUITY:
			if (now < pos->stage_deadline && ct->primary >= 0 &&
			    cands[ct->primary].offered)
				return;
			route_enter_tier(pol, pos, 0, true, plan);
			break;
		case ROUTE_TIER:
			if (route_step_tier(pol, pos, cands, ncands, now, plan))
				return;
			route_enter_tier(pol, pos, (size_t)pos->tier_index + 1,
			    true, plan);
			break;
		case ROUTE_WAITING:
			route_step_waiting(pol, pos, cands, ncands, now, plan);
			return;
		case ROUTE_IMMINENT:
			route_step_imminent(pol, pos, cands, ncands, plan);
			return;
		case ROUTE_DONE:
			return;
		}
	}
}

/* Would route_next() look at the clinicians for this contact? */
bool
route_watches_clinicians(const struct route_policy *pol,
    const struct route_pos *pos, bool has_offer)
{
	switch (pos->stage) {
	case ROUTE_START:
	case ROUTE_IMMINENT:
		return true;
	case ROUTE_TIER:
		/* A ring-all tier rings whoever joins before it ends. */
		return pol->tiers[pos->tier_index].strategy ==
		    STRATEGY_RING_ALL ||
		    !has_offer;
	case ROUTE_CONTINUITY:
	case ROUTE_WAITING:
		return !has_offer;
	case ROUTE_DONE:
		return false;
	}
	return true;
}

/* When route_next() must run again if nothing else happens. */
int64_t
route_wakeup(const struct route_pos *pos)
{
	if (pos->stage == ROUTE_DONE)
		return INT64_MAX;
	if (pos->stage_deadline != 0 && pos->stage_deadline < pos->deadline)
		return pos->stage_deadline;
	return pos->deadline;
}
