/*
 * engine_call.c: what a gateway reports after `routed` (CONTRACT §3, §4
 * rule 8).
 *
 * `ended`: the call between caller and clinician is over.  It goes into the
 * timeline as `call_ended` (once: a gateway that reconnects may say it
 * again), whether the clinician has completed the contact yet or not.
 *
 * `failed`: the gateway could not connect the caller to the clinician it
 * was routed to (the phone did not answer, was busy, failed).  The person
 * in crisis is still waiting, so the contact is routed again at once with
 * its first `queued` time (max_wait_ms still counts from then); that
 * clinician is set `away` (their phone is not working) and is not offered
 * this contact again.  The gateway later gets a new `routed` or an
 * `overflow` for the same contact id; the first `routed` counts as acted
 * on.
 */
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "util.h"

/*
 * The state of cid as stored, if intake owns it: STORE_OK, or the reply
 * to s has been sent.
 */
static int
engine_call_state(struct engine *e, struct session *s, json_t *id,
    const char *cid, char state[16])
{
	char intake[PRINCIPAL_ID_MAX + 1];
	int rc = store_contact_state(e->st, cid, state, intake);

	if (rc == STORE_OK && strcmp(intake, session_principal(s)) != 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND)
		session_error(s, id, CODE_NOT_FOUND, "no contact %s", cid);
	else if (rc == STORE_ERROR)
		session_error(s, id, CODE_INTERNAL, "%s", store_error(e->st));
	return rc;
}

/* The call between caller and clinician is over. */
void
engine_ended(struct engine *e, struct session *s, const struct msg *m,
    int64_t now)
{
	const char *cid = m->u.ref.contact;
	struct contact *ct = engine_find(e, cid);
	char state[16];
	int rc;

	if (engine_call_state(e, s, m->id, cid, state) != STORE_OK)
		return;
	if (strcmp(state, STORE_STATE_ASSIGNED) != 0 &&
	    strcmp(state, STORE_STATE_COMPLETED) != 0) {
		session_error(s, m->id, CODE_CONFLICT,
		    "contact %s is %s: it was not routed", cid, state);
		return;
	}
	rc = store_event_exists(e->st, cid, "call_ended");
	if (rc == STORE_ERROR) {
		session_error(s, m->id, CODE_INTERNAL, "%s",
		    store_error(e->st));
		return;
	}
	if (rc == STORE_NOTFOUND) {
		if (store_contact_ended(e->st, cid, now) == STORE_ERROR)
			engine_store_failed(e, "call ended");
		engine_event_id(e, cid, "call_ended", now, 0,
		    ct != NULL && ct->assigned != NULL ? ct->assigned->id
		                                       : NULL,
		    NULL);
		log_contact(LOG_LEVEL_INFO, cid, NULL, "contact %s: call ended",
		    cid);
	}
	session_ok(s, m->id);
}

/* Route ct again: the gateway could not connect it to its clinician. */
static void
engine_reroute(struct engine *e, struct contact *ct, const char *reason,
    int64_t now)
{
	struct clin *c = ct->assigned;

	/* The gateway acted on the routed it had: it is no longer owed. */
	if (store_push_ack(e->st, ct->intake, ct->id, now) == STORE_ERROR)
		engine_store_failed(e, "ack routed");
	if (store_contact_reopen(e->st, ct->id) == STORE_ERROR)
		engine_store_failed(e, "reopen");
	engine_event(e, ct, "connect_failed", now, ct->assigned_tier, c->id,
	    json_pack("{s:s}", "reason", reason));
	log_contact(LOG_LEVEL_NOTICE, ct->id, c->id,
	    "contact %s: the caller could not be connected to %s (%s); "
	    "routing again",
	    ct->id, c->id, reason);
	engine_set_state(e, ct, CONTACT_OPEN);
	ct->assigned = NULL;
	ct->assigned_at = 0;
	ct->assigned_tier = 0;
	c->assigned = NULL;
	contact_add_refused(ct, c->id);
	route_start(&ct->pos, ct->queued_at, ct->risk == RISK_IMMINENT,
	    ct->policy->max_wait_ms, ct->policy->imminent_max_wait_ms);
	engine_save_route(e, ct);
	/* Their phone does not work: ringing them again would lose time. */
	engine_clin_away(e, c, ct, "connect_failed",
	    json_pack("{s:s}", "reason", "connect_failed"), now);
	engine_mark_dirty(e, ct);
	engine_arm(e, ct);
}

/* The caller could not be connected to its clinician: route it again. */
void
engine_failed(struct engine *e, struct session *s, const struct msg *m,
    int64_t now)
{
	const char *cid = m->u.ref.contact;
	struct contact *ct = engine_intake_contact(e, s, m);

	if (ct == NULL)
		return;
	if (ct->state != CONTACT_ASSIGNED || ct->assigned == NULL) {
		session_error(s, m->id, CODE_CONFLICT,
		    "contact %s is %s: it was not routed", cid,
		    contact_state_name(ct->state));
		return;
	}
	engine_reroute(e, ct, m->u.ref.reason, now);
	session_ok(s, m->id);
	engine_settle(e, now);
}
