/*
 * engine_settle.c: what routing looks at next, and in which order.
 *
 * Routing work is proportional to what an event changed, not to how many
 * contacts wait (CONTRACT §4):
 *   - a contact whose own routing may have moved (an offer of it ended, a
 *     deadline, a new contact) is marked dirty and goes on a heap ordered
 *     by queue age, so settling routes the dirty ones oldest first without
 *     walking the queue;
 *   - a clinician who can take more offers (came free, came back, dropped
 *     below the ringing cap) is queued as freed, and settling walks the
 *     queue from its oldest contact only until that clinician can take no
 *     more, skipping at a glance the contacts it cannot ring;
 *   - a clinician who is gone (away, disconnected) marks the contacts that
 *     wait for someone; that is a rare event, not the hot path.
 * Routing one contact never routes another: it only marks, so the order of
 * effects stays plain and recursion out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_int.h"
#include "util.h"

/* --- the heap of dirty contacts, oldest (lowest order) on top --- */

/* Is the heap entry at i younger than the one at j? */
static bool
engine_heap_after(const struct engine *e, size_t i, size_t j)
{
	return e->heap[i]->order > e->heap[j]->order;
}

/* Swap two heap entries, keeping their indexes (1-based) right. */
static void
engine_heap_swap(struct engine *e, size_t i, size_t j)
{
	struct contact *t = e->heap[i];

	e->heap[i] = e->heap[j];
	e->heap[j] = t;
	e->heap[i]->heap_idx = i + 1;
	e->heap[j]->heap_idx = j + 1;
}

/* Move the entry at i up or down to where it belongs. */
static void
engine_heap_fix(struct engine *e, size_t i)
{
	while (i > 0 && engine_heap_after(e, (i - 1) / 2, i)) {
		engine_heap_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->nheap && engine_heap_after(e, m, l))
			m = l;
		if (r < e->nheap && engine_heap_after(e, m, r))
			m = r;
		if (m == i)
			return;
		engine_heap_swap(e, i, m);
		i = m;
	}
}

/* Take a contact off the heap (it is closing, or being routed). */
void
engine_heap_remove(struct engine *e, struct contact *ct)
{
	size_t i;

	if (ct->heap_idx == 0)
		return;
	i = ct->heap_idx - 1;
	ct->heap_idx = 0;
	if (i != --e->nheap) {
		e->heap[i] = e->heap[e->nheap];
		e->heap[i]->heap_idx = i + 1;
		engine_heap_fix(e, i);
	}
}

/* Routing must look at ct again. */
void
engine_mark_dirty(struct engine *e, struct contact *ct)
{
	if (ct->state != CONTACT_OPEN)
		return;
	ct->dirty = true;
	if (ct->heap_idx != 0)
		return;
	if (e->nheap == e->heapcap) {
		e->heapcap = e->heapcap == 0 ? 64 : e->heapcap * 2;
		e->heap = xreallocarray(e->heap, e->heapcap, sizeof(*e->heap));
	}
	e->heap[e->nheap] = ct;
	ct->heap_idx = ++e->nheap;
	engine_heap_fix(e, e->nheap - 1);
}

/* The oldest dirty contact, off the heap; NULL if none. */
static struct contact *
engine_heap_pop(struct engine *e)
{
	struct contact *ct;

	if (e->nheap == 0)
		return NULL;
	ct = e->heap[0];
	engine_heap_remove(e, ct);
	return ct;
}

/* Mark every routable contact (a new roster, a new config, a recovery). */
void
engine_dirty_all(struct engine *e)
{
	struct contact *ct;

	TAILQ_FOREACH (ct, &e->queue, entry)
		engine_mark_dirty(e, ct);
}

/* --- clinicians --- */

/* Can c be offered one more contact now (by a tier walk)? */
static bool
engine_clin_takes_more(const struct engine *e, const struct clin *c,
    int64_t now)
{
	int cap = e->conf->max_offers_per_clinician;

	return clin_eligible(c, now) && (cap == 0 || c->noffers < (size_t)cap);
}

/* c may take more offers: settling offers it the oldest contacts it can. */
void
engine_clin_freed(struct engine *e, struct clin *c)
{
	if (c->freed)
		return;
	if (e->nfreed == e->freedcap) {
		e->freedcap = e->freedcap == 0 ? 16 : e->freedcap * 2;
		e->freed =
		    xreallocarray(e->freed, e->freedcap, sizeof(*e->freed));
	}
	c->freed = true;
	e->freed[e->nfreed++] = c;
}

/*
 * c is gone (away, disconnected): contacts that wait for someone, or that
 * ring everyone, may have nobody left and overflow now.
 */
void
engine_clin_lost(struct engine *e, struct clin *c)
{
	struct contact *ct;

	(void)c;
	TAILQ_FOREACH (ct, &e->queue, entry) {
		if (ct->state == CONTACT_OPEN &&
		    (ct->pos.stage == ROUTE_WAITING ||
		        ct->pos.stage == ROUTE_IMMINENT))
			engine_mark_dirty(e, ct);
	}
}

/*
 * Does ct hold an open offer routing can see?  An offer to a clinician gone
 * from the roster is not among the candidates, so route_next does not count
 * it as open either.
 */
static bool
engine_has_routable_offer(const struct contact *ct)
{
	const struct offer *o;

	TAILQ_FOREACH (o, &ct->offers, by_contact) {
		if (o->clin->info != NULL)
			return true;
	}
	return false;
}

/*
 * Could routing ct now offer it to c?  A cheap test that passes every
 * contact that could, so the walk for a freed clinician routes few others.
 */
static bool
engine_may_ring(struct engine *e, struct contact *ct, struct clin *c,
    int64_t now)
{
	uint32_t tiers;

	if (ct->state != CONTACT_OPEN || ct->dirty ||
	    !route_watches_clinicians(&ct->policy->route, &ct->pos,
	        engine_has_routable_offer(ct)) ||
	    engine_offer_of(ct, c) != NULL || contact_refused_by(ct, c->id))
		return false;
	tiers = engine_clin_tiers(e, c, now);
	switch (ct->pos.stage) {
	case ROUTE_TIER:
		return (tiers &
		           (UINT32_C(1) << ct->policy->tiers[ct->pos.tier_index]
		                               .tier)) != 0;
	case ROUTE_WAITING:
		/* Waiting contacts ring only those rung for nothing else. */
		return tiers != 0 && c->noffers == 0;
	case ROUTE_CONTINUITY:
		return strcmp(ct->primary, c->id) == 0;
	case ROUTE_START:
	case ROUTE_IMMINENT:
		return tiers != 0;
	case ROUTE_DONE:
		return false;
	}
	return false;
}

/* Offer a freed clinician the oldest contacts it can take, while it can. */
static void
engine_offer_freed(struct engine *e, struct clin *c, int64_t now)
{
	struct contact *ct, *next;

	c->freed = false;
	for (ct = TAILQ_FIRST(&e->queue);
	     ct != NULL && engine_clin_takes_more(e, c, now); ct = next) {
		next = TAILQ_NEXT(ct, entry);
		if (engine_may_ring(e, ct, c, now))
			engine_route(e, ct, now);
	}
}

/* --- settling --- */

/* While the store fails, only contacts past their overflow deadline act. */
static void
engine_settle_due(struct engine *e, int64_t now)
{
	struct contact *ct, *next;

	for (ct = TAILQ_FIRST(&e->queue); ct != NULL; ct = next) {
		next = TAILQ_NEXT(ct, entry);
		if (ct->dirty && now >= ct->pos.deadline)
			engine_route(e, ct, now);
	}
}

/*
 * Route the dirty contacts, oldest first, then offer each freed clinician
 * what it can take, until nothing is left to do.
 */
void
engine_settle(struct engine *e, int64_t now)
{
	struct contact *ct;

	if (e->settling || e->stopping)
		return;
	e->settling = true;
	if (e->store_down && !e->retrying) {
		engine_settle_due(e, now);
		e->settling = false;
		return;
	}
	for (;;) {
		if ((ct = engine_heap_pop(e)) != NULL) {
			if (ct->dirty)
				engine_route(e, ct, now);
			continue;
		}
		if (e->nfreed == 0)
			break;
		engine_offer_freed(e, e->freed[--e->nfreed], now);
	}
	e->settling = false;
}
