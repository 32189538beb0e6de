/*
 * engine_ops.c: what gateways and clinicians ask of the engine: a new
 * contact, an abandon, status, accept, decline, complete, and their
 * connections coming and going.  Each handler checks the request against
 * the live state, applies it, replies, and settles routing.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "intake.h"
#include "log.h"
#include "results.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "wire.h"

/* Reply to a contact message with its id: the durable acknowledgement. */
static void
engine_ack(struct session *s, json_t *id, const char *ref, const char *cid)
{
	session_reply(s, id, wire_queued(ref, cid));
}

/*
 * The contact fields of a wire contact from intake as stored: what a new
 * contact writes and what a repeated ref is compared with.
 */
static void
engine_contact_fields(struct store_contact *sc, const char *intake,
    const struct msg_contact *mc, const char *needs_text)
{
	sc->intake = intake;
	sc->ref = mc->ref;
	sc->channel = msg_channel_name(mc->channel);
	sc->risk = msg_risk_name(mc->risk);
	sc->caller = mc->caller;
	sc->patient = mc->patient;
	sc->program = mc->program;
	sc->language = mc->language;
	sc->needs = needs_text;
}

/* The needs of a wire contact as stored: a JSON array (caller frees). */
static char *
engine_needs_text(const struct msg_contact *mc)
{
	json_t *a = json_array();
	char *text;

	for (size_t i = 0; i < mc->nneeds; i++)
		json_array_append_new(a, json_string(mc->needs[i]));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (text == NULL)
		fatalx("engine_needs_text: out of memory");
	return text;
}

/*
 * Has this principal sent this ref before?  The same fields again are the
 * same contact: its id, and its result if still owed (1).  Other fields are
 * another call under a reused ref: conflict, so the gateway routes that
 * caller itself at once (1).  0 if the ref is new, -1 if it cannot be told.
 */
static int
engine_contact_repeat(struct engine *e, struct session *s, const struct msg *m)
{
	const struct msg_contact *mc = &m->u.contact;
	char *needs_text = engine_needs_text(mc);
	struct store_contact want;
	char cid[CONTACT_ID_MAX + 1];
	bool same = false;
	int rc;

	memset(&want, 0, sizeof(want));
	engine_contact_fields(&want, session_principal(s), mc, needs_text);
	rc = store_contact_by_ref(e->st, &want, cid, &same);
	free(needs_text);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK) {
		session_error(s, m->id, CODE_INTERNAL, "contact not stored: %s",
		    store_error(e->st));
		return -1;
	}
	if (!same) {
		log_contact(LOG_LEVEL_NOTICE, cid, NULL,
		    "%s reused ref of contact %s for another call: conflict",
		    session_principal(s), cid);
		session_error(s, m->id, CODE_CONFLICT,
		    "ref already names another contact");
		return 1;
	}
	/*
	 * The row may be this turn's own, not yet committed: the answer
	 * waits for the commit like the first one did.
	 */
	session_request_depends(s);
	engine_ack(s, m->id, mc->ref, cid);
	results_resend(e->st, s, cid);
	return 1;
}

/* Copy the wire contact into a new contact. */
static struct contact *
engine_contact_from_msg(struct engine *e, const struct msg_contact *mc,
    const char *intake, int64_t now)
{
	struct contact *ct = xcalloc(1, sizeof(*ct));

	util_contact_id(now, ct->id);
	strlcpy_(ct->intake, intake, sizeof(ct->intake));
	ct->ref = xstrdup(mc->ref);
	ct->channel = mc->channel;
	ct->risk = mc->risk;
	ct->caller = xstrdup_null(mc->caller);
	ct->patient = xstrdup_null(mc->patient);
	ct->program = xstrdup_null(mc->program);
	ct->language = xstrdup_null(mc->language);
	ct->nneeds = mc->nneeds;
	ct->needs = xcalloc(mc->nneeds, sizeof(*ct->needs));
	for (size_t i = 0; i < mc->nneeds; i++)
		ct->needs[i] = xstrdup(mc->needs[i]);
	ct->state = CONTACT_OPEN;
	ct->queued_at = now;
	ct->policy = e->policy;
	policy_ref(ct->policy);
	route_start(&ct->pos, now, ct->risk == RISK_IMMINENT,
	    ct->policy->max_wait_ms, ct->policy->imminent_max_wait_ms);
	return ct;
}

/* Write a new contact's row; -1 if the store refused it. */
static int
engine_contact_store(struct engine *e, struct contact *ct,
    const struct msg_contact *mc)
{
	struct store_contact sc;
	char *needs_text = engine_needs_text(mc);
	char *route = contact_route_json(ct);
	int rc;

	memset(&sc, 0, sizeof(sc));
	strlcpy_(sc.id, ct->id, sizeof(sc.id));
	engine_contact_fields(&sc, ct->intake, mc, needs_text);
	sc.state = STORE_STATE_OPEN;
	sc.route = route;
	sc.queued_at = ct->queued_at;
	sc.deadline_at = ct->pos.deadline;
	sc.policy_version = ct->policy->version;
	rc = store_contact_insert(e->st, &sc);
	free(needs_text);
	free(route);
	return rc == STORE_OK ? 0 : -1;
}

/* An intake's new contact: store it, acknowledge it, route it. */
void
engine_contact(struct engine *e, struct session *s, const struct msg *m,
    int64_t now)
{
	const struct msg_contact *mc = &m->u.contact;
	const char *intake = session_principal(s);
	struct intake_limits limits = { e->conf->max_contacts_per_second,
		e->conf->max_open_contacts, e->conf->max_open_contacts_total };
	struct contact *ct;

	/* The same ref again is never a second contact. */
	if (engine_contact_repeat(e, s, m) != 0)
		return;
	switch (intake_admit(e->intakes, intake, now, &limits)) {
	case INTAKE_TOO_MANY_TOTAL:
		session_error(s, m->id, CODE_OVERLOADED,
		    "%d contacts are being routed: route this caller to "
		    "the overflow target",
		    intake_open_total(e->intakes));
		return;
	case INTAKE_TOO_FAST:
		session_error(s, m->id, CODE_OVERLOADED,
		    "more than %d "
		    "contacts a second from %s",
		    e->conf->max_contacts_per_second, intake);
		return;
	case INTAKE_TOO_MANY_OPEN:
		session_error(s, m->id, CODE_OVERLOADED,
		    "%d contacts from %s "
		    "are still being routed",
		    intake_open_count(e->intakes, intake), intake);
		return;
	case INTAKE_ADMIT:
		break;
	}
	ct = engine_contact_from_msg(e, mc, intake, now);
	if (ct->patient != NULL &&
	    store_patient_primary(e->st, ct->patient, ct->primary) ==
	        STORE_ERROR)
		ct->primary[0] = '\0';
	if (engine_contact_store(e, ct, mc) == -1) {
		session_error(s, m->id, CODE_INTERNAL, "contact not stored: %s",
		    store_error(e->st));
		policy_unref(ct->policy);
		contact_free(ct);
		return;
	}
	engine_contact_add(e, ct);
	ct->origin = s;
	ct->durable_at_commit = e->commits + 1;
	engine_event(e, ct, "queued", now, 0, NULL,
	    json_pack("{s:s, s:i}", "risk", msg_risk_name(ct->risk), "policy",
	        ct->policy->version));
	log_contact(LOG_LEVEL_INFO, ct->id, NULL, "contact %s queued, risk %s",
	    ct->id, msg_risk_name(ct->risk));
	engine_ack(s, m->id, ct->ref, ct->id);
	engine_mark_dirty(e, ct);
	engine_settle(e, now);
}

/* Answer a request about a contact that is not live: conflict or not_found. */
void
engine_not_live(struct engine *e, struct session *s, json_t *id,
    const char *cid, const char *owner)
{
	char state[16], intake[PRINCIPAL_ID_MAX + 1];
	int rc = store_contact_state(e->st, cid, state, intake);

	if (rc == STORE_ERROR)
		session_error(s, id, CODE_INTERNAL, "%s", store_error(e->st));
	else if (rc == STORE_NOTFOUND ||
	    (owner != NULL && strcmp(owner, intake) != 0))
		session_error(s, id, CODE_NOT_FOUND, "no contact %s", cid);
	else
		session_error(s, id, CODE_CONFLICT, "contact %s is %s", cid,
		    state);
}

/*
 * The live contact a gateway's message names, if it is that gateway's;
 * else NULL, with not_found or conflict answered.
 */
struct contact *
engine_intake_contact(struct engine *e, struct session *s, const struct msg *m)
{
	const char *cid = m->u.ref.contact;
	struct contact *ct = engine_find(e, cid);

	if (ct == NULL || strcmp(ct->intake, session_principal(s)) != 0) {
		engine_not_live(e, s, m->id, cid, session_principal(s));
		return NULL;
	}
	return ct;
}

/* The caller hung up before anyone took the contact. */
void
engine_abandon(struct engine *e, struct session *s, const struct msg *m,
    int64_t now)
{
	const char *cid = m->u.ref.contact;
	struct contact *ct = engine_intake_contact(e, s, m);

	if (ct == NULL)
		return;
	if (ct->state != CONTACT_OPEN) {
		session_error(s, m->id, CODE_CONFLICT, "contact %s is %s", cid,
		    contact_state_name(ct->state));
		return;
	}
	engine_abandoned(e, ct, now);
	session_ok(s, m->id);
	engine_settle(e, now);
}

/* A clinician's status: available takes offers, away declines its open ones. */
void
engine_status(struct engine *e, struct session *s, struct clin *c,
    bool available, json_t *id, int64_t now)
{
	struct offer *o;

	session_ok(s, id);
	if (available && !c->available) {
		c->available = true;
		c->missed = 0;
		if (c->assigned == NULL && c->wrapup_until <= now)
			c->idle_since = now;
		/* Offers kept over a restart or reconnect are sent now. */
		TAILQ_FOREACH (o, &c->offers, by_clin) {
			if (!o->sent)
				engine_offer_send(e, o, now);
		}
		engine_clin_freed(e, c);
	} else if (!available && c->available) {
		c->available = false;
		engine_clin_offers_end(e, c, OFFER_DECLINED, "away", now);
		engine_clin_lost(e, c);
	}
	engine_settle(e, now);
}

/* The first accept wins; everything else about the contact is withdrawn. */
void
engine_accept(struct engine *e, struct session *s, struct clin *c,
    const struct msg *m, int64_t now)
{
	const char *cid = m->u.ref.contact;
	struct contact *ct = engine_find(e, cid);
	struct offer *o = engine_offer_of(ct, c);

	if (o == NULL || ct->state != CONTACT_OPEN) {
		session_error(s, m->id, CODE_CONFLICT,
		    "contact %s is not offered to you", cid);
		return;
	}
	/* Its caller went to the overflow target while the store failed. */
	if (engine_told(e, ct)) {
		session_error(s, m->id, CODE_CONFLICT, "contact %s overflowed",
		    cid);
		return;
	}
	engine_assigned(e, o, s, m->id, now);
	engine_settle(e, now);
}

/* A decline: the contact moves on, the clinician is not asked again. */
void
engine_decline(struct engine *e, struct session *s, struct clin *c,
    const struct msg *m, int64_t now)
{
	const char *cid = m->u.ref.contact;
	struct offer *o = engine_offer_of(engine_find(e, cid), c);

	if (o == NULL) {
		session_error(s, m->id, CODE_CONFLICT,
		    "contact %s is not offered to you", cid);
		return;
	}
	c->missed = 0;
	engine_offer_end(e, o, OFFER_DECLINED, m->u.ref.reason, now);
	session_ok(s, m->id);
	engine_settle(e, now);
}

/* The assigned clinician is done: record it, start the wrap-up. */
void
engine_complete(struct engine *e, struct session *s, struct clin *c,
    const struct msg *m, int64_t now)
{
	const char *cid = m->u.complete.contact;
	struct contact *ct = engine_find(e, cid);

	if (ct == NULL) {
		engine_not_live(e, s, m->id, cid, NULL);
		return;
	}
	if (ct->state != CONTACT_ASSIGNED || ct->assigned != c) {
		session_error(s, m->id, CODE_CONFLICT,
		    "contact %s is not assigned to you", cid);
		return;
	}
	engine_completed(e, ct, msg_disposition_name(m->u.complete.disposition),
	    m->u.complete.notes,
	    m->u.complete.has_disclosure ? &m->u.complete.disclosure : NULL,
	    now);
	session_ok(s, m->id);
	engine_settle(e, now);
}

/*
 * A clinician's hello succeeded.  An older connection of the same
 * clinician is closed first: one connection speaks for a clinician.
 */
struct clin *
engine_clinician_connected(struct engine *e, const char *id, struct session *s,
    int64_t now)
{
	struct clin *c = clin_get(&e->clins, id, now);

	if (c->session != NULL && c->session != s)
		conn_close(session_conn(c->session),
		    "replaced by a new connection");
	c->info = e->roster != NULL ? roster_find(e->roster, id) : NULL;
	c->session = s;
	c->dropped = false;
	c->available = false;
	return c;
}

/* Tell a reconnected clinician again which contact it is assigned. */
void
engine_clinician_welcomed(struct engine *e, struct clin *c)
{
	(void)e;
	if (c->assigned != NULL && c->session != NULL)
		session_send(c->session,
		    contact_assigned_json(c->assigned,
		        c->assigned->assigned_tier));
}

/* A clinician's connection closed: its open offers count as declined. */
void
engine_clinician_disconnected(struct engine *e, struct clin *c, int64_t now)
{
	c->session = NULL;
	c->available = false;
	c->dropped = true;
	if (e->stopping)
		return;
	engine_clin_heard_decline(e, c, now);
	engine_clin_lost(e, c);
	engine_settle(e, now);
}

/* An intake connection closed: its contacts' results go elsewhere. */
void
engine_intake_disconnected(struct engine *e, struct session *s)
{
	struct contact *ct;

	TAILQ_FOREACH (ct, &e->queue, entry) {
		if (ct->origin == s)
			ct->origin = NULL;
	}
}
