/*
 * engine_close.c: a supervisor closes a stuck contact (crisisctl contact
 * close).  crisisctl files the request in the store; the engine's poll
 * finds it within a second and closes the contact the way the daemon
 * closes any contact, so nobody is left ringing or waiting on it:
 *
 * - an open contact never got a result, so its gateway is told `overflow`
 *   (the caller goes to the outside crisis line), its offers are withdrawn
 *   and a follow-up is owed, exactly as at its max-wait deadline;
 * - an assigned one (its clinician vanished, say) is completed with
 *   disposition `other` and the reason as its notes, and its clinician is
 *   free again after wrap-up.
 *
 * Either way the timeline gets a `closed` event naming the supervisor and
 * the reason, and the request is marked done with what was done, in the
 * same commit.
 */
#include <stdio.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* Requests handled per poll: a pile of them waits for the next second. */
#define ENGINE_CLOSES_PER_POLL 16

/* Close one contact as rq asks; what was done into result. */
static void
engine_close_one(struct engine *e, const struct store_close *rq, int64_t now,
    char *result, size_t len)
{
	struct contact *ct = engine_find(e, rq->contact);
	const char *target, *clin;

	if (ct == NULL) {
		snprintf(result, len, "not open: nothing to close");
		return;
	}
	engine_event(e, ct, "closed", now, 0, NULL,
	    json_pack("{s:s, s:s}", "by", rq->supervisor, "reason",
	        rq->reason));
	log_contact(LOG_LEVEL_NOTICE, ct->id, NULL,
	    "contact %s closed by supervisor %s (request %lld)", ct->id,
	    rq->supervisor, (long long)rq->id);
	if (ct->state == CONTACT_ASSIGNED && ct->assigned != NULL) {
		clin = ct->assigned->id;
		snprintf(result, len, "completed; %s was assigned", clin);
		engine_completed(e, ct, "other", rq->reason, NULL, now);
		return;
	}
	target = ct->policy->overflow_target;
	/* Told while the store failed: the caller is already there. */
	if (engine_told(e, ct))
		snprintf(result, len, "overflow; the gateway already had it");
	else
		snprintf(result, len, "overflow; gateway told %s", target);
	engine_overflow(e, ct, now);
}

/* Carry out the closes filed since the last poll (a few at a time). */
void
engine_closes_poll(struct engine *e, int64_t now)
{
	struct store_close rq[ENGINE_CLOSES_PER_POLL];
	char result[128];
	size_t n;

	if (e->stopping || e->store_down)
		return;
	if (store_close_pending(e->st, rq, ENGINE_CLOSES_PER_POLL, &n) !=
	    STORE_OK) {
		log_warnx("contact closes: %s", store_error(e->st));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		engine_close_one(e, &rq[i], now, result, sizeof(result));
		if (store_close_done(e->st, rq[i].id, now, result) ==
		    STORE_ERROR)
			engine_store_failed(e, "contact close");
	}
	store_close_pending_free(rq, n);
	if (n > 0)
		engine_settle(e, now);
}
