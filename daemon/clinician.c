/*
 * clinician.c: clinicians as routing needs them: who they are in the
 * roster, whether they are connected and available, busy or in wrap-up,
 * and the counters the strategies order them by.
 *
 * A clinician object exists for everyone in the roster and for anyone
 * connected; it outlives connections so that idle time and counts carry
 * over a reconnect.  The engine holds the registry (struct clins).
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define CLIN_RECENT_WINDOW_MS (24 * 3600 * 1000LL)

/* The clinician with this id, or NULL. */
struct clin *
clin_find(const struct clins *cs, const char *id)
{
	struct clin *c;

	HASH_FIND_STR(cs->by_id, id, c);
	return c;
}

/* The clinician with this id, created if new (idle since now). */
struct clin *
clin_get(struct clins *cs, const char *id, int64_t now)
{
	struct clin *c = clin_find(cs, id);

	if (c != NULL)
		return c;
	c = xcalloc(1, sizeof(*c));
	strlcpy_(c->id, id, sizeof(c->id));
	TAILQ_INIT(&c->offers);
	c->idle_since = now;
	c->wrapup_due.kind = DUE_WRAPUP;
	HASH_ADD_STR(cs->by_id, id, c);
	return c;
}

/*
 * Free every clinician (shutdown; their offers are gone already, and the
 * engine's deadlines with them).
 */
void
clin_free_all(struct clins *cs)
{
	struct clin *c, *tmp;

	HASH_ITER (hh, cs->by_id, c, tmp) {
		HASH_DEL(cs->by_id, c);
		free(c);
	}
}

/* Point every clinician at its entry in the new roster. */
void
clin_roster_changed(struct clins *cs, const struct roster *r, int64_t now)
{
	struct clin *c, *tmp;

	for (size_t i = 0; i < r->nclinicians; i++)
		clin_get(cs, r->clinicians[i].id, now);
	HASH_ITER (hh, cs->by_id, c, tmp)
		c->info = roster_find(r, c->id);
}

/* Connected, available, not busy, not in wrap-up (on call is routing's). */
bool
clin_eligible(const struct clin *c, int64_t now)
{
	return c->info != NULL && c->session != NULL && c->available &&
	    c->assigned == NULL && c->wrapup_until <= now;
}

/*
 * Connected, and busy or in wrap-up: worth waiting for (CONTRACT §4 rule
 * 4).  A busy clinician whose connection dropped is not: nobody can say
 * when it comes back, and a caller must not wait out max_wait_ms for it.
 * One that has not reconnected since our own restart still is: its call
 * went on while we were down, and it is on its way back.
 */
bool
clin_waitable(const struct clin *c, int64_t now)
{
	if (c->info == NULL)
		return false;
	if (c->session == NULL)
		return c->assigned != NULL && !c->dropped;
	return c->assigned != NULL || c->wrapup_until > now;
}

/* Take one clinician's count from the store's answer. */
static int
clin_recount_one(void *arg, const char *id, int count)
{
	struct clin *c = clin_find(arg, id);

	if (c != NULL)
		c->recent_base = count;
	return 0;
}

/* Recount assignments of the last 24 h from the store. */
void
clin_recount(struct clins *cs, struct store *st, int64_t now)
{
	struct clin *c, *tmp;

	HASH_ITER (hh, cs->by_id, c, tmp) {
		c->recent_base = 0;
		c->recent_since = 0;
	}
	if (store_assigned_counts(st, now - CLIN_RECENT_WINDOW_MS,
	        clin_recount_one, cs) != STORE_OK)
		log_warnx("counting recent contacts: %s", store_error(st));
}

/* The first clinician, in no particular order. */
struct clin *
clin_first(const struct clins *cs)
{
	return cs->by_id;
}

/* The clinician after c. */
struct clin *
clin_next(const struct clin *c)
{
	return c->hh.next;
}

/* How many clinicians are known. */
size_t
clin_count(const struct clins *cs)
{
	return HASH_COUNT(cs->by_id);
}

/* What a supervisor sees: available, away, busy or wrapup. */
const char *
clin_status_name(const struct clin *c, int64_t now)
{
	if (c->assigned != NULL)
		return "busy";
	if (c->wrapup_until > now)
		return "wrapup";
	return c->available ? "available" : "away";
}
