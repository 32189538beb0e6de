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
engine_heap_after(size_t i, size_t j)
{
	return eng.heap[i]->order > eng.heap[j]->order;
}

/* Swap two heap entries, keeping their indexes (1-based) right. */
static void
engine_heap_swap(size_t i, size_t j)
{
	struct contact *t = eng.heap[i];

	eng.heap[i] = eng.heap[j];
	eng.heap[j] = t;
	eng.heap[i]->heap_idx = i + 1;
	eng.heap[j]->heap_idx = j + 1;
}

/* Move the entry at i up or down to where it belongs. */
static void
engine_heap_fix(size_t i)
{
	while (i > 0 && engine_heap_after((i - 1) / 2, i)) {
		engine_heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < eng.nheap && engine_heap_after(m, l))
			m = l;
		if (r < eng.nheap && engine_heap_after(m, r))
			m = r;
		if (m == i)
			return;
		engine_heap_swap(i, m);
		i = m;
	}
}

/* Take a contact off the heap (it is closing, or being routed). */
void
engine_heap_remove(struct contact *ct)
{
	size_t i;

	if (ct->heap_idx == 0)
		return;
	i = ct->heap_idx - 1;
	ct->heap_idx = 0;
	if (i != --eng.nheap) {
		eng.heap[i] = eng.heap[eng.nheap];
		eng.heap[i]->heap_idx = i + 1;
		engine_heap_fix(i);
	}
}

/* Routing must look at ct again. */
void
engine_mark_dirty(struct contact *ct)
{
	if (ct->state != CONTACT_OPEN)
		return;
	ct->dirty = true;
	if (ct->heap_idx != 0)
		return;
	if (eng.nheap == eng.heapcap) {
		eng.heapcap = eng.heapcap == 0 ? 64 : eng.heapcap * 2;
		eng.heap =
		    xreallocarray(eng.heap, eng.heapcap, sizeof(*eng.heap));
	}
	eng.heap[eng.nheap] = ct;
	ct->heap_idx = ++eng.nheap;
	engine_heap_fix(eng.nheap - 1);
}

/* The oldest dirty contact, off the heap; NULL if none. */
static struct contact *
engine_heap_pop(void)
{
	struct contact *ct;

	if (eng.nheap == 0)
		return NULL;
	ct = eng.heap[0];
	engine_heap_remove(ct);
	return ct;
}

/* Mark every routable contact (a new roster, a new config, a recovery). */
void
engine_dirty_all(void)
{
	struct contact *ct;

	TAILQ_FOREACH (ct, &eng.queue, entry)
		engine_mark_dirty(ct);
}

/* --- clinicians --- */

/* Can c be offered one more contact now (by a tier walk)? */
static bool
engine_clin_takes_more(const struct clin *c, int64_t now)
{
	int cap = eng.conf->max_offers_per_clinician;

	return clin_eligible(c, now) && (cap == 0 || c->noffers < (size_t)cap);
}

/* c may take more offers: settling offers it the oldest contacts it can. */
void
engine_clin_freed(struct clin *c)
{
	if (c->freed)
		return;
	if (eng.nfreed == eng.freedcap) {
		eng.freedcap = eng.freedcap == 0 ? 16 : eng.freedcap * 2;
		eng.freed =
		    xreallocarray(eng.freed, eng.freedcap, sizeof(*eng.freed));
	}
	c->freed = true;
	eng.freed[eng.nfreed++] = c;
}

/*
 * c is gone (away, disconnected): contacts that wait for someone, or that
 * ring everyone, may have nobody left and overflow now.
 */
void
engine_clin_lost(struct clin *c)
{
	struct contact *ct;

	(void)c;
	TAILQ_FOREACH (ct, &eng.queue, entry) {
		if (ct->state == CONTACT_OPEN &&
		    (ct->pos.stage == ROUTE_WAITING ||
		        ct->pos.stage == ROUTE_IMMINENT))
			engine_mark_dirty(ct);
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
engine_may_ring(struct contact *ct, struct clin *c, int64_t now)
{
	uint32_t tiers;

	if (ct->state != CONTACT_OPEN || ct->dirty ||
	    !route_watches_clinicians(&ct->policy->route, &ct->pos,
	        engine_has_routable_offer(ct)) ||
	    engine_offer_of(ct, c) != NULL || contact_refused_by(ct, c->id))
		return false;
	tiers = engine_clin_tiers(c, now);
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
engine_offer_freed(struct clin *c, int64_t now)
{
	struct contact *ct, *next;

	c->freed = false;
	for (ct = TAILQ_FIRST(&eng.queue);
	     ct != NULL && engine_clin_takes_more(c, now); ct = next) {
		next = TAILQ_NEXT(ct, entry);
		if (engine_may_ring(ct, c, now))
			engine_route(ct, now);
	}
}

/* --- settling --- */

/* While the store fails, only contacts past their overflow deadline act. */
static void
engine_settle_due(int64_t now)
{
	struct contact *ct, *next;

	for (ct = TAILQ_FIRST(&eng.queue); ct != NULL; ct = next) {
		next = TAILQ_NEXT(ct, entry);
		if (ct->dirty && now >= ct->pos.deadline)
			engine_route(ct, now);
	}
}

/*
 * Route the dirty contacts, oldest first, then offer each freed clinician
 * what it can take, until nothing is left to do.
 */
void
engine_settle(int64_t now)
{
	struct contact *ct;

	if (eng.settling || eng.stopping)
		return;
	eng.settling = true;
	if (eng.store_down && !eng.retrying) {
		engine_settle_due(now);
		eng.settling = false;
		return;
	}
	for (;;) {
		if ((ct = engine_heap_pop()) != NULL) {
			if (ct->dirty)
				engine_route(ct, now);
			continue;
		}
		if (eng.nfreed == 0)
			break;
		engine_offer_freed(eng.freed[--eng.nfreed], now);
	}
	eng.settling = false;
}
