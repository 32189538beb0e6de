/*
 * fuzz_route_check.c: what fuzz_route.c checks after every route_next()
 * call, from CONTRACT §4 and route.h.
 *
 * The offers: only to eligible clinicians who neither refused the contact
 * nor hold an offer of it, on a tier they are on call for, expiring after
 * now and not after the deadline; continuity alone and first; a ring-all
 * tier and an imminent contact offered to everyone offerable; a
 * one-at-a-time offer alone, for the tier's timeout, to the very clinician
 * the strategy names (computed here again, independently: matching first,
 * then not rung for another contact, then the strategy's order; waiting
 * leaves those rung for another contact alone).  The walk:
 * stages never go back, events name the tiers in order, "waiting" is told
 * once.  The timer: after now while the contact is open, none once done.
 * Overflow: only at the deadline or with nobody offerable, holding an
 * offer, or to wait for (busy, in wrap-up, or free but rung for another
 * contact).  A contact left open has an offer out or someone to wait for.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "route.h"

#include "fuzz.h"
#include "fuzz_route.h"

/* The lowest tier in a mask, 0 if none. */
static int
fuzz_route_lowest(uint32_t tiers)
{
	for (int t = 1; t < 32; t++) {
		if (tiers & (UINT32_C(1) << t))
			return t;
	}
	return 0;
}

/* The policy's settings of a tier it walks. */
static const struct conf_tier *
fuzz_route_tier(const struct fuzz_world *w, int tier)
{
	for (size_t i = 0; i < w->pol.ntiers; i++) {
		if (w->tiers[i].tier == tier)
			return &w->tiers[i];
	}
	FUZZ_CHECK(!"tier outside the policy");
	return NULL;
}

/* May cand be offered the contact on one of mask's tiers? */
static bool
fuzz_route_offerable(const struct route_cand *c, uint32_t mask)
{
	return c->eligible && !c->refused && !c->offered &&
	    (c->tiers & mask) != 0;
}

/* The strategy's own key of a candidate: smaller goes first. */
static int64_t
fuzz_route_key(const struct route_cand *c, enum strategy s)
{
	switch (s) {
	case STRATEGY_LONGEST_IDLE:
		return c->idle_since;
	case STRATEGY_ROUND_ROBIN:
		return (int64_t)c->last_offer;
	case STRATEGY_FEWEST_CONTACTS:
		return c->recent_contacts;
	case STRATEGY_SEQUENTIAL:
	case STRATEGY_RING_ALL:
		break;
	}
	return 0;
}

/*
 * Does a go before b?  Waiting (lowest_first): lowest on-call tier first,
 * then that tier's order.  Within a tier: those who match first, then
 * those not being rung for another contact, then the strategy's key, then
 * the id.
 */
static bool
fuzz_route_before(const struct fuzz_world *w, const struct route_cand *a,
    const struct route_cand *b, enum strategy s, bool lowest_first)
{
	int ta = fuzz_route_lowest(a->tiers & w->mask);
	int tb = fuzz_route_lowest(b->tiers & w->mask);

	if (lowest_first) {
		if (ta != tb)
			return ta < tb;
		s = fuzz_route_tier(w, ta)->strategy;
	}
	if (a->matches != b->matches)
		return a->matches;
	if (a->ringing != b->ringing)
		return !a->ringing;
	if (fuzz_route_key(a, s) != fuzz_route_key(b, s))
		return fuzz_route_key(a, s) < fuzz_route_key(b, s);
	return strcmp(a->id, b->id) < 0;
}

/*
 * The candidate a one-at-a-time offer must go to; -1 if nobody.  Waiting
 * leaves a clinician being rung for another contact to answer that one.
 */
static long
fuzz_route_best(const struct fuzz_world *w, const struct route_cand *cands,
    uint32_t mask, enum strategy s, bool lowest_first)
{
	long best = -1;

	for (size_t i = 0; i < w->nclins; i++) {
		if (!fuzz_route_offerable(&cands[i], mask) ||
		    (lowest_first && cands[i].ringing))
			continue;
		if (best < 0 ||
		    fuzz_route_before(w, &cands[i], &cands[best], s,
		        lowest_first))
			best = (long)i;
	}
	return best;
}

/*
 * Is anyone offerable, holding an offer, or worth waiting for on the
 * policy's tiers: busy, in wrap-up, or free but rung for another contact?
 */
static void
fuzz_route_who(const struct fuzz_world *w, const struct route_cand *cands,
    bool *offerable, bool *offered, bool *waitable)
{
	*offerable = *offered = *waitable = false;
	for (size_t i = 0; i < w->nclins; i++) {
		const struct route_cand *c = &cands[i];

		*offerable |= fuzz_route_offerable(c, w->mask);
		*offered |= c->offered;
		*waitable |= (c->waitable || (c->eligible && c->ringing)) &&
		    !c->refused && (c->tiers & w->mask) != 0;
	}
}

/* The order of stages along the walk; imminent runs beside the tiers. */
static int
fuzz_route_rank(enum route_stage s)
{
	switch (s) {
	case ROUTE_START:
		return 0;
	case ROUTE_CONTINUITY:
		return 1;
	case ROUTE_TIER:
	case ROUTE_IMMINENT:
		return 2;
	case ROUTE_WAITING:
		return 3;
	case ROUTE_DONE:
		return 4;
	}
	return -1;
}

/* Check the stages, events and timer of one route_next() call. */
static void
fuzz_route_walk(const struct fuzz_world *w, const struct fuzz_contact *ct,
    const struct route_pos *before, const struct route_plan *plan)
{
	const struct route_pos *pos = &ct->pos;
	int last =
	    before->stage == ROUTE_TIER ? w->tiers[before->tier_index].tier : 0;

	FUZZ_CHECK(pos->deadline == before->deadline);
	FUZZ_CHECK(
	    fuzz_route_rank(pos->stage) >= fuzz_route_rank(before->stage));
	if (ct->imminent)
		FUZZ_CHECK(pos->stage == ROUTE_START ||
		    pos->stage == ROUTE_IMMINENT || pos->stage == ROUTE_DONE);
	else
		FUZZ_CHECK(pos->stage != ROUTE_IMMINENT);
	if (pos->stage == ROUTE_TIER) {
		FUZZ_CHECK(pos->tier_index >= 0 &&
		    (size_t)pos->tier_index < w->pol.ntiers);
		FUZZ_CHECK(before->stage != ROUTE_TIER ||
		    pos->tier_index >= before->tier_index);
	}
	FUZZ_CHECK(plan->nevents <= ROUTE_EVENT_MAX);
	for (size_t i = 0; i < plan->nevents; i++) {
		const struct route_event *ev = &plan->events[i];

		if (ev->kind == ROUTE_EV_WAITING) {
			FUZZ_CHECK(pos->stage == ROUTE_WAITING ||
			    pos->stage == ROUTE_IMMINENT);
			FUZZ_CHECK(pos->waiting_told && !before->waiting_told);
			continue;
		}
		FUZZ_CHECK(ev->kind == ROUTE_EV_ESCALATED);
		FUZZ_CHECK(
		    ev->tier > last && (w->mask & (UINT32_C(1) << ev->tier)));
		last = ev->tier;
	}
	if (pos->stage == ROUTE_DONE) {
		FUZZ_CHECK(route_wakeup(pos) == INT64_MAX);
		return;
	}
	/* No timer outlives its contact, and none is already due. */
	FUZZ_CHECK(route_wakeup(pos) > w->now);
	FUZZ_CHECK(route_wakeup(pos) <= pos->deadline);
}

/* Check one offer of a plan against the candidates it was made from. */
static void
fuzz_route_offer(const struct fuzz_world *w, const struct fuzz_contact *ct,
    const struct route_cand *cands, const struct route_plan *plan, size_t k)
{
	const struct route_offer *o = &plan->offers[k];
	const struct route_pos *pos = &ct->pos;
	const struct route_cand *c;

	FUZZ_CHECK(o->cand < w->nclins);
	for (size_t i = 0; i < k; i++)
		FUZZ_CHECK(plan->offers[i].cand != o->cand);
	c = &cands[o->cand];
	FUZZ_CHECK(c->eligible && !c->refused && !c->offered);
	FUZZ_CHECK(o->tier >= 1 && o->tier < 32);
	FUZZ_CHECK(c->tiers & w->mask & (UINT32_C(1) << o->tier));
	FUZZ_CHECK(o->expires_at > w->now && o->expires_at <= pos->deadline);
	if (o->continuity) {
		FUZZ_CHECK(plan->noffers == 1 && (int)o->cand == ct->primary);
		FUZZ_CHECK(!ct->imminent && w->pol.continuity_ms > 0);
		FUZZ_CHECK(pos->stage == ROUTE_CONTINUITY);
		FUZZ_CHECK(o->expires_at == pos->stage_deadline);
		FUZZ_CHECK(o->tier == fuzz_route_lowest(c->tiers & w->mask));
		return;
	}
	switch (pos->stage) {
	case ROUTE_IMMINENT:
		FUZZ_CHECK(o->expires_at == pos->deadline);
		FUZZ_CHECK(o->tier == fuzz_route_lowest(c->tiers & w->mask));
		break;
	case ROUTE_TIER:
		FUZZ_CHECK(o->tier == w->tiers[pos->tier_index].tier);
		if (w->tiers[pos->tier_index].strategy == STRATEGY_RING_ALL)
			FUZZ_CHECK(o->expires_at == pos->stage_deadline);
		break;
	case ROUTE_WAITING:
		FUZZ_CHECK(o->tier == fuzz_route_lowest(c->tiers & w->mask));
		break;
	case ROUTE_START:
	case ROUTE_CONTINUITY:
	case ROUTE_DONE:
		FUZZ_CHECK(!"an offer outside the tiers, waiting or imminent");
	}
}

/* A one-at-a-time offer: alone, to the right clinician, for the timeout. */
static void
fuzz_route_single(const struct fuzz_world *w, const struct fuzz_contact *ct,
    const struct route_cand *cands, const struct route_plan *plan,
    bool offered_before)
{
	const struct route_offer *o = &plan->offers[0];
	const struct conf_tier *t;
	uint32_t mask;
	bool waiting = ct->pos.stage == ROUTE_WAITING;
	int64_t expires;

	FUZZ_CHECK(plan->noffers == 1 && !offered_before);
	t = waiting ? fuzz_route_tier(w, o->tier)
	            : &w->tiers[ct->pos.tier_index];
	mask = waiting ? w->mask : UINT32_C(1) << t->tier;
	FUZZ_CHECK(fuzz_route_best(w, cands, mask, t->strategy, waiting) ==
	    (long)o->cand);
	expires = w->now + t->offer_timeout_ms;
	if (expires > ct->pos.deadline)
		expires = ct->pos.deadline;
	FUZZ_CHECK(o->expires_at == expires);
}

/* Everyone the stage offers at once must have had the offer. */
static void
fuzz_route_all_offered(const struct fuzz_world *w,
    const struct route_cand *cands, const struct route_plan *plan,
    uint32_t mask)
{
	for (size_t i = 0; i < w->nclins; i++) {
		bool got = false;

		if (!fuzz_route_offerable(&cands[i], mask))
			continue;
		for (size_t k = 0; k < plan->noffers; k++)
			got |= plan->offers[k].cand == i;
		FUZZ_CHECK(got);
	}
}

/* Check a whole plan against the candidates it was made from. */
static void
fuzz_route_plan(const struct fuzz_world *w, const struct fuzz_contact *ct,
    const struct route_pos *before, const struct route_cand *cands,
    const struct route_plan *plan)
{
	const struct route_pos *pos = &ct->pos;
	bool offerable, offered, waitable, one_at_a_time;
	size_t k;

	FUZZ_CHECK(plan->noffers <= w->nclins);
	if (before->stage == ROUTE_DONE) {
		FUZZ_CHECK(plan->noffers == 0 && plan->nevents == 0 &&
		    !plan->overflow);
		FUZZ_CHECK(memcmp(before, pos, sizeof(*pos)) == 0);
		return;
	}
	fuzz_route_who(w, cands, &offerable, &offered, &waitable);
	if (plan->overflow) {
		FUZZ_CHECK(plan->noffers == 0 && pos->stage == ROUTE_DONE);
		FUZZ_CHECK(w->now >= pos->deadline ||
		    (!offerable && !offered && !waitable));
		return;
	}
	FUZZ_CHECK(pos->stage != ROUTE_DONE);
	for (k = 0; k < plan->noffers; k++)
		fuzz_route_offer(w, ct, cands, plan, k);
	one_at_a_time = pos->stage == ROUTE_WAITING ||
	    (pos->stage == ROUTE_TIER &&
	        w->tiers[pos->tier_index].strategy != STRATEGY_RING_ALL);
	if (plan->noffers > 0 && one_at_a_time)
		fuzz_route_single(w, ct, cands, plan, offered);
	if (pos->stage == ROUTE_TIER &&
	    w->tiers[pos->tier_index].strategy == STRATEGY_RING_ALL)
		fuzz_route_all_offered(w, cands, plan,
		    UINT32_C(1) << w->tiers[pos->tier_index].tier);
	if (pos->stage == ROUTE_IMMINENT)
		fuzz_route_all_offered(w, cands, plan, w->mask);
	/* A contact left open has an offer out or somebody to wait for. */
	FUZZ_CHECK(pos->stage != ROUTE_START);
	if (pos->stage == ROUTE_WAITING || pos->stage == ROUTE_IMMINENT)
		FUZZ_CHECK(plan->noffers > 0 || offered || waitable);
	else
		FUZZ_CHECK(plan->noffers > 0 || offered);
}

/* Check one route_next() call; see fuzz_route.h. */
void
fuzz_route_check(const struct fuzz_world *w, const struct fuzz_contact *ct,
    const struct route_pos *before, const struct route_cand *cands,
    const struct route_plan *plan)
{
	fuzz_route_plan(w, ct, before, cands, plan);
	fuzz_route_walk(w, ct, before, plan);
}
