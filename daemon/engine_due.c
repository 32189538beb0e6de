/*
 * engine_due.c: the engine's deadlines.
 *
 * Every deadline (a contact's next offer expiry or stage end, a clinician's
 * wrap-up end, the next shift change, the roster poll, the store retry) is
 * a struct engine_due embedded in what it belongs to, kept on one heap by
 * time.  The engine never reads the clock and owns no timer: the daemon
 * arms one libevent timer for engine_next_due() after each loop turn and,
 * when it fires, calls engine_run_due() with the time it read; the unit
 * test and the fuzzer call engine_run_due() with the time they choose, so
 * offers expire and tiers escalate without anyone sleeping.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine.h"
#include "engine_int.h"
#include "util.h"

/* The struct that embeds deadline d as its member. */
#define ENGINE_DUE_OWNER(d, type, member)                                      \
	((type *)(void *)((char *)(d)-offsetof(type, member)))

/* --- the heap, earliest (then first armed) on top --- */

/* Is the heap entry at i due after the one at j? */
static bool
engine_due_after(const struct engine *e, size_t i, size_t j)
{
	const struct engine_due *a = e->dues[i], *b = e->dues[j];

	return a->at > b->at || (a->at == b->at && a->seq > b->seq);
}

/* Swap two heap entries, keeping their indexes (1-based) right. */
static void
engine_due_swap(struct engine *e, size_t i, size_t j)
{
	struct engine_due *t = e->dues[i];

	e->dues[i] = e->dues[j];
	e->dues[j] = t;
	e->dues[i]->heap_idx = i + 1;
	e->dues[j]->heap_idx = j + 1;
}

/* Move the entry at i up or down to where it belongs. */
static void
engine_due_fix(struct engine *e, size_t i)
{
	while (i > 0 && engine_due_after(e, (i - 1) / 2, i)) {
		engine_due_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->ndues && engine_due_after(e, m, l))
			m = l;
		if (r < e->ndues && engine_due_after(e, m, r))
			m = r;
		if (m == i)
			return;
		engine_due_swap(e, i, m);
		i = m;
	}
}

/* Is d armed? */
bool
engine_due_armed(const struct engine_due *d)
{
	return d->heap_idx != 0;
}

/* Arm d for at, or move it there if it is armed already. */
void
engine_due_set(struct engine *e, struct engine_due *d, int64_t at)
{
	d->at = at;
	d->seq = ++e->due_seq;
	if (engine_due_armed(d)) {
		engine_due_fix(e, d->heap_idx - 1);
		return;
	}
	if (e->ndues == e->duecap) {
		e->duecap = e->duecap == 0 ? 64 : e->duecap * 2;
		e->dues = xreallocarray(e->dues, e->duecap, sizeof(*e->dues));
	}
	e->dues[e->ndues] = d;
	d->heap_idx = ++e->ndues;
	engine_due_fix(e, e->ndues - 1);
}

/* Disarm d, if armed. */
void
engine_due_clear(struct engine *e, struct engine_due *d)
{
	size_t i;

	if (!engine_due_armed(d))
		return;
	i = d->heap_idx - 1;
	d->heap_idx = 0;
	if (i != --e->ndues) {
		e->dues[i] = e->dues[e->ndues];
		e->dues[i]->heap_idx = i + 1;
		engine_due_fix(e, i);
	}
}

/* --- what each deadline does --- */

/*
 * A contact's deadline: expire its due offers, then route it (which moves
 * it on a stage, or overflows it at its overflow deadline).
 */
static void
engine_contact_due(struct engine *e, struct contact *ct, int64_t now)
{
	struct offer *o, *next;

	if (e->store_down) {
		/* Only the overflow deadline acts until the store is back. */
		engine_mark_dirty(e, ct);
		if (now >= ct->pos.deadline)
			engine_settle(e, now);
		else
			engine_arm(e, ct);
		return;
	}
	/* At the overflow deadline offers are withdrawn as overflow, not
	 * expired. */
	for (o = TAILQ_FIRST(&ct->offers); now < ct->pos.deadline && o != NULL;
	     o = next) {
		next = TAILQ_NEXT(o, by_contact);
		if (o->expires_at <= now)
			engine_offer_end(e, o, OFFER_EXPIRED, NULL, now);
	}
	engine_mark_dirty(e, ct);
	engine_settle(e, now);
}

/* A clinician's wrap-up ended: it may take contacts again. */
static void
engine_wrapup_due(struct engine *e, struct clin *c, int64_t now)
{
	c->wrapup_until = 0;
	c->idle_since = now;
	engine_clin_freed(e, c);
	engine_settle(e, now);
}

/* Start a clinician's wrap-up; at its end the clinician is eligible again. */
void
engine_clin_wrapup(struct engine *e, struct clin *c, int64_t now)
{
	c->wrapup_until = now + e->conf->wrapup_ms;
	engine_due_set(e, &c->wrapup_due, c->wrapup_until);
}

/* Act on one deadline that came due. */
static void
engine_due_fire(struct engine *e, struct engine_due *d, int64_t now)
{
	switch (d->kind) {
	case DUE_CONTACT:
		engine_contact_due(e, ENGINE_DUE_OWNER(d, struct contact, due),
		    now);
		break;
	case DUE_WRAPUP:
		engine_wrapup_due(e,
		    ENGINE_DUE_OWNER(d, struct clin, wrapup_due), now);
		break;
	case DUE_SHIFT:
		engine_shift_due(e, now);
		break;
	case DUE_POLL:
		engine_poll_due(e, now);
		break;
	case DUE_RETRY:
		engine_retry_due(e, now);
		break;
	}
}

/* --- the daemon's (and the tests') side --- */

/* When the earliest deadline is due; INT64_MAX if none is. */
int64_t
engine_next_due(const struct engine *e)
{
	if (e->stopping || e->ndues == 0)
		return INT64_MAX;
	return e->dues[0]->at;
}

/*
 * Act on every deadline due at now, earliest first.  One armed while this
 * runs waits for the next run, as a timer added in a callback waits for
 * the next loop turn: a deadline that keeps coming due at once cannot hold
 * the loop.
 */
void
engine_run_due(struct engine *e, int64_t now)
{
	uint64_t armed_before = e->due_seq;
	struct engine_due *d;

	while (!e->stopping && e->ndues > 0) {
		d = e->dues[0];
		if (d->at > now || d->seq > armed_before)
			break;
		engine_due_clear(e, d);
		engine_due_fire(e, d, now);
	}
}
