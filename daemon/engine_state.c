/*
 * engine_state.c: the engine's set-up and its view of the world: the
 * routing policy from the config, the roster (polled every second and
 * re-read at every shift change), the contacts resumed from the store at
 * start and read back after a failed commit.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "gaps.h"
#include "heard.h"
#include "intake.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "util.h"

#define ENGINE_ROSTER_POLL_MS 1000
#define ENGINE_RECOUNT_MS (60 * 1000)
#define ENGINE_GAP_CHECK_MS (3600 * 1000)
/*
 * The roster in memory holds the shifts of the next 8 days (and of the gap
 * warning's window beyond that), and is read again a day before it runs
 * out: years of imported shifts cost the loop nothing until they come near.
 */
#define ENGINE_DAY_MS (86400 * 1000LL)
#define ENGINE_ROSTER_HORIZON_MS (8 * ENGINE_DAY_MS)
/* After a failed commit the store is tried again this soon, then slower. */
#define ENGINE_RETRY_FIRST_MS 100
#define ENGINE_RETRY_MAX_MS 1000
/*
 * How long writes wait for another process's write lock: a request up to
 * 100 ms; a retry while the store fails only briefly (a lock held by a
 * chunked crisisctl import is free again within milliseconds).
 */
#define ENGINE_LOCK_WAIT_MS 100
#define ENGINE_RETRY_LOCK_WAIT_MS 10

/*
 * Roster loading: one clinician.  Messages are JSON, which takes only
 * UTF-8: text that is not (written into the database by hand, say) would
 * make the routed message impossible to send, so it is left out, loudly.
 */
static int
engine_load_clinician(void *arg, const struct store_clinician *c)
{
	const char *name = c->name, *endpoint = c->endpoint;

	if (name != NULL && !util_utf8_valid(name)) {
		log_warnx("clinician %s: name is not UTF-8; not shown", c->id);
		name = NULL;
	}
	if (endpoint != NULL && !util_utf8_valid(endpoint)) {
		log_warnx("clinician %s: endpoint is not UTF-8; routed without "
		          "one",
		    c->id);
		endpoint = NULL;
	}
	return roster_add_clinician(arg, c->id, name, c->languages, c->skills,
	           endpoint) == -1
	    ? -1
	    : 0;
}

/* Roster loading: one shift (a shift of an unknown clinician is skipped). */
static int
engine_load_shift(void *arg, const struct store_shift *s)
{
	roster_add_shift(arg, s->clinician, s->tier, s->start_ms, s->end_ms);
	return 0;
}

/* Read the whole roster from the store; NULL if it cannot be read. */
static struct roster *
engine_roster_read(struct engine *e, int64_t version, int64_t now)
{
	struct roster *r = roster_new();
	struct store_roster_cbs cbs = { engine_load_clinician,
		engine_load_shift, r };
	int64_t until = now + ENGINE_ROSTER_HORIZON_MS +
	    (int64_t)e->conf->gap_warning_hours * 3600 * 1000;

	if (store_roster_load(e->st, now, until, &cbs) != STORE_OK) {
		log_warnx("roster not loaded: %s", store_error(e->st));
		roster_free(r);
		return NULL;
	}
	roster_finish(r);
	r->version = version;
	e->roster_until = until;
	return r;
}

/* Take a new roster: everyone re-pointed, every contact looked at again. */
static void
engine_roster_swap(struct engine *e, struct roster *r, int64_t now)
{
	int64_t next;

	clin_roster_changed(&e->clins, r, now);
	roster_free(e->roster);
	e->roster = r;
	e->roster_gen++;
	next = roster_next_change(r, now);
	if (next != INT64_MAX)
		engine_due_set(e, &e->shift_due, next);
	else
		engine_due_clear(e, &e->shift_due);
	log_info("roster version %lld: %zu clinicians", (long long)r->version,
	    r->nclinicians);
	gaps_check(r, now, e->conf->gap_warning_hours);
	e->last_gap_check = now;
	engine_dirty_all(e);
	engine_settle(e, now);
}

/* Reload the roster if the store's version moved (or when forced). */
bool
engine_roster_poll(struct engine *e, bool force, int64_t now)
{
	int64_t version;
	struct roster *r;

	if (store_roster_version(e->st, &version) != STORE_OK) {
		log_warnx("roster version: %s", store_error(e->st));
		return false;
	}
	if (!force && e->roster != NULL && version == e->roster->version &&
	    now < e->roster_until - ENGINE_ROSTER_HORIZON_MS + ENGINE_DAY_MS)
		return false;
	if ((r = engine_roster_read(e, version, now)) == NULL)
		return false;
	engine_roster_swap(e, r, now);
	return true;
}

/* Every second: a roster change made with crisisctl takes effect. */
void
engine_poll_due(struct engine *e, int64_t now)
{
	engine_due_set(e, &e->poll_due, now + ENGINE_ROSTER_POLL_MS);
	engine_roster_poll(e, false, now);
	engine_closes_poll(e, now);
	if (now - e->last_recount >= ENGINE_RECOUNT_MS) {
		clin_recount(&e->clins, e->st, now);
		e->last_recount = now;
	}
	if (now - e->last_gap_check >= ENGINE_GAP_CHECK_MS) {
		gaps_check(e->roster, now, e->conf->gap_warning_hours);
		e->last_gap_check = now;
	}
}

/* A shift started or ended: on-call sets changed. */
void
engine_shift_due(struct engine *e, int64_t now)
{
	int64_t next = roster_next_change(e->roster, now);

	if (next != INT64_MAX)
		engine_due_set(e, &e->shift_due, next);
	gaps_check(e->roster, now, e->conf->gap_warning_hours);
	engine_dirty_all(e);
	engine_settle(e, now);
}

/* What resuming needs: the engine, and the time it resumes at. */
struct engine_resuming {
	struct engine *e;
	int64_t now;
};

/* Resume one stored contact. */
static int
engine_resume_contact(void *arg, const struct store_contact *sc)
{
	struct engine_resuming *rs = arg;
	struct engine *e = rs->e;
	struct contact *ct = xcalloc(1, sizeof(*ct));
	int risk = msg_risk_from_name(sc->risk);
	json_t *needs = json_loads(sc->needs, 0, NULL), *v;
	size_t i;

	strlcpy_(ct->id, sc->id, sizeof(ct->id));
	strlcpy_(ct->intake, sc->intake, sizeof(ct->intake));
	ct->ref = xstrdup(sc->ref);
	ct->channel = strcmp(sc->channel, "text") == 0 ? CHANNEL_TEXT
	    : strcmp(sc->channel, "chat") == 0         ? CHANNEL_CHAT
	                                               : CHANNEL_VOICE;
	ct->risk = risk < 0 ? RISK_UNKNOWN : (enum risk)risk;
	ct->caller = xstrdup_null(sc->caller);
	ct->patient = xstrdup_null(sc->patient);
	ct->program = xstrdup_null(sc->program);
	ct->language = xstrdup_null(sc->language);
	if (json_is_array(needs)) {
		ct->needs = xcalloc(json_array_size(needs), sizeof(char *));
		json_array_foreach (needs, i, v) {
			if (json_is_string(v))
				ct->needs[ct->nneeds++] =
				    xstrdup(json_string_value(v));
		}
	}
	json_decref(needs);
	ct->queued_at = sc->queued_at;
	ct->pos.deadline = sc->deadline_at;
	/* The contact keeps the policy it was queued under. */
	ct->policy = policy_get(&e->policies, e->st, sc->policy_version);
	if (ct->policy == NULL) {
		log_contact(LOG_LEVEL_WARNING, ct->id, NULL,
		    "contact %s: "
		    "routing policy %d unknown, using the current one",
		    ct->id, sc->policy_version);
		ct->policy = e->policy;
		policy_ref(ct->policy);
	}
	if (sc->route == NULL || contact_route_parse(ct, sc->route) == -1)
		ct->pos.stage = ROUTE_START;
	ct->state = strcmp(sc->state, STORE_STATE_ASSIGNED) == 0
	    ? CONTACT_ASSIGNED
	    : CONTACT_OPEN;
	engine_contact_add(e, ct);
	if (ct->state == CONTACT_ASSIGNED && sc->clinician != NULL) {
		ct->assigned = clin_get(&e->clins, sc->clinician, rs->now);
		ct->assigned->assigned = ct;
		ct->assigned_at = sc->assigned_at;
		ct->assigned_tier = sc->answered_tier;
		ct->pos.stage = ROUTE_DONE;
	} else
		engine_mark_dirty(e, ct);
	return 0;
}

/* Resume one stored open offer: sent again when its clinician is available. */
static int
engine_resume_offer(void *arg, const char *cid, const struct store_offer *so)
{
	struct engine_resuming *rs = arg;
	struct contact *ct = engine_find(rs->e, cid);
	struct clin *c;
	struct offer *o;

	if (ct == NULL || ct->state != CONTACT_OPEN)
		return 0;
	c = clin_get(&rs->e->clins, so->clinician, rs->now);
	o = xcalloc(1, sizeof(*o));
	o->contact = ct;
	o->clin = c;
	o->tier = so->tier;
	o->offered_at = so->offered_at;
	o->expires_at = so->expires_at;
	o->continuity = ct->pos.stage == ROUTE_CONTINUITY;
	TAILQ_INSERT_TAIL(&ct->offers, o, by_contact);
	TAILQ_INSERT_TAIL(&c->offers, o, by_clin);
	c->noffers++;
	return 0;
}

/* Bring back every open contact and offer the store holds. */
static int
engine_resume(struct engine *e, int64_t now, char **cause)
{
	struct engine_resuming rs = { e, now };
	struct store_resume_cbs cbs = { engine_resume_contact,
		engine_resume_offer, &rs };
	struct contact *ct;

	if (store_resume_load(e->st, &cbs) != STORE_OK) {
		xasprintf(cause, "resuming contacts: %s", store_error(e->st));
		return -1;
	}
	if (!TAILQ_EMPTY(&e->queue))
		log_notice("resumed %zu open contacts",
		    engine_open_contacts(e));
	/* Deadlines that passed while we were down come due at once. */
	TAILQ_FOREACH (ct, &e->queue, entry)
		engine_arm(e, ct);
	return 0;
}

/* Set up the engine: policy, roster, resumed contacts, deadlines. */
struct engine *
engine_new(struct store *st, const struct conf *conf, int64_t now, char **cause)
{
	struct engine *e = xcalloc(1, sizeof(*e));

	e->st = st;
	e->conf = conf;
	TAILQ_INIT(&e->queue);
	e->heard = heard_new();
	e->intakes = intake_new();
	e->poll_due.kind = DUE_POLL;
	e->shift_due.kind = DUE_SHIFT;
	e->retry_due.kind = DUE_RETRY;
	e->policy = policy_from_conf(&e->policies, st, conf, now);
	engine_roster_poll(e, true, now);
	if (e->roster == NULL) {
		xasprintf(cause, "roster: %s", store_error(st));
		engine_free(e);
		return NULL;
	}
	clin_recount(&e->clins, st, now);
	e->last_recount = now;
	if (engine_resume(e, now, cause) == -1) {
		engine_free(e);
		return NULL;
	}
	engine_due_set(e, &e->poll_due, now + ENGINE_ROSTER_POLL_MS);
	engine_settle(e, now);
	return e;
}

/* Forget one live contact and its offers, without writing anything. */
static void
engine_drop_contact(struct engine *e, struct contact *ct)
{
	struct offer *o;

	while ((o = TAILQ_FIRST(&ct->offers)) != NULL) {
		TAILQ_REMOVE(&ct->offers, o, by_contact);
		TAILQ_REMOVE(&o->clin->offers, o, by_clin);
		o->clin->noffers--;
		free(o);
	}
	if (ct->assigned != NULL)
		ct->assigned->assigned = NULL;
	engine_contact_remove(e, ct);
}

/* Forget every live contact and offer, without writing anything. */
static void
engine_drop_contacts(struct engine *e)
{
	struct contact *ct;

	while ((ct = TAILQ_FIRST(&e->queue)) != NULL)
		engine_drop_contact(e, ct);
}

/*
 * The store cannot even be read (its server is gone, not just its disk
 * full): keep the live state, so that overflow deadlines still act
 * (CONTRACT §5), less the contacts the failed turn queued, which are not
 * on record (their gateways were told "internal").  The state is read
 * back once the store works again.
 */
static void
engine_keep_live(struct engine *e)
{
	struct contact *ct, *next;

	for (ct = TAILQ_FIRST(&e->queue); ct != NULL; ct = next) {
		next = TAILQ_NEXT(ct, entry);
		if (ct->durable_at_commit > e->commits)
			engine_drop_contact(e, ct);
	}
	e->reload_needed = true;
}

/* Is the offer of contact to clin live? */
static bool
engine_offer_live(void *arg, const char *contact, const char *clin)
{
	struct engine *e = arg;

	return engine_offer_of(engine_find(e, contact),
	           clin_find(&e->clins, clin)) != NULL;
}

/*
 * After the state was read back: mark the offers that their clinicians
 * heard of before, and send the others to those who can hear them now, so
 * that no offer is sent twice for one failure.
 */
static void
engine_heard_restore(struct engine *e, int64_t now)
{
	struct offer *o;

	heard_keep(e->heard, engine_offer_live, e);
	for (struct clin *c = clin_first(&e->clins); c != NULL;
	     c = clin_next(c)) {
		TAILQ_FOREACH (o, &c->offers, by_clin) {
			if (heard_has(e->heard, o->contact->id, c->id))
				o->sent = true;
			else
				engine_offer_send(e, o, now);
		}
	}
}

/* Drop the live state and read it back from the store; -1 if unreadable. */
static int
engine_reload(struct engine *e, int64_t now)
{
	char *cause = NULL;
	int64_t version;

	if (store_roster_version(e->st, &version) != STORE_OK) {
		log_error("the database cannot be read: %s; the contacts in "
		          "memory keep their overflow deadlines",
		    store_error(e->st));
		engine_keep_live(e);
		return -1;
	}
	engine_drop_contacts(e);
	if (engine_resume(e, now, &cause) == -1) {
		log_error("%s; trying again", cause);
		free(cause);
		e->reload_needed = true;
		return -1;
	}
	e->reload_needed = false;
	engine_heard_restore(e, now);
	engine_dirty_all(e);
	return 0;
}

/*
 * A clinician away or gone holds offers the store gave back after a failed
 * commit undid its decline: decline them again (a gone one, only those it
 * heard of; the others wait for it, as after a restart).
 */
static void
engine_clin_redecline(struct engine *e, struct clin *c, int64_t now)
{
	if (c->session != NULL) {
		if (!c->available)
			engine_clin_offers_end(e, c, OFFER_DECLINED, "away",
			    now);
		return;
	}
	engine_clin_heard_decline(e, c, now);
}

/* Try the store again after e->retry_ms, slower each time it fails. */
static void
engine_retry_arm(struct engine *e, int64_t now)
{
	engine_due_set(e, &e->retry_due, now + e->retry_ms);
	e->retry_ms *= 2;
	if (e->retry_ms > ENGINE_RETRY_MAX_MS)
		e->retry_ms = ENGINE_RETRY_MAX_MS;
}

/*
 * Route everything again after a failure: clinicians who went away or
 * disconnected while the store failed decline again what the store gave
 * back to them, then every contact is looked at.
 */
static void
engine_route_again(struct engine *e, int64_t now)
{
	for (struct clin *c = clin_first(&e->clins); c != NULL;
	     c = clin_next(c))
		engine_clin_redecline(e, c, now);
	engine_dirty_all(e);
	engine_settle(e, now);
}

/*
 * The store failed: route everything again, and prove with a small write
 * that it takes writes; the turn's commit says whether it is back.
 */
void
engine_retry_due(struct engine *e, int64_t now)
{
	if (e->reload_needed && engine_reload(e, now) == -1) {
		engine_retry_arm(e, now);
		return;
	}
	e->retrying = true;
	store_wait_for_lock(e->st, ENGINE_RETRY_LOCK_WAIT_MS);
	(void)store_alive(e->st, now);
	engine_route_again(e, now);
	e->retrying = false;
	store_wait_for_lock(e->st, 0);
}

/*
 * A commit failed: the store is the truth, so the live state is read back
 * from it, as after a restart (connections stay), and until a commit
 * succeeds only overflow deadlines act.
 */
void
engine_resync(struct engine *e, int64_t now)
{
	if (!e->store_down) {
		e->store_down = true;
		e->down_since = now;
		e->retry_ms = ENGINE_RETRY_FIRST_MS;
		store_wait_for_lock(e->st, 0);
	}
	/* Resuming arms each contact for its overflow deadline alone. */
	(void)engine_reload(e, now);
	if (!engine_due_armed(&e->retry_due))
		engine_retry_arm(e, now);
}

/*
 * The turn's commit is done.  After a failure, read the state back; after
 * a success that ends a failure, route everything again.  True if that
 * queued writes or lines the loop should flush now.
 */
bool
engine_committed(struct engine *e, bool ok, bool wrote, int64_t now)
{
	if (e->stopping)
		return false;
	heard_committed(e->heard, ok);
	if (ok)
		e->commits++;
	if (!ok) {
		engine_resync(e, now);
		return false;
	}
	if (!wrote)
		return false;
	engine_told_prune(e, false);
	if (!e->store_down)
		return false;
	e->store_down = false;
	store_wait_for_lock(e->st, ENGINE_LOCK_WAIT_MS);
	engine_due_clear(e, &e->retry_due);
	log_notice("database takes writes again after %lld ms",
	    (long long)(now - e->down_since));
	/* The state kept while the store could not be read goes now. */
	if (e->reload_needed)
		(void)engine_reload(e, now);
	/* A request's commit may end the failure before the retry does. */
	engine_route_again(e, now);
	return true;
}

/* Free everything (shutdown; the store keeps the truth). */
void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	engine_drop_contacts(e);
	clin_free_all(&e->clins);
	intake_free(e->intakes);
	roster_free(e->roster);
	policy_unref(e->policy);
	policy_free_all(&e->policies);
	engine_told_prune(e, true);
	heard_free(e->heard);
	free(e->offer_line.line);
	free(e->cands);
	free(e->cand_clins);
	free(e->offers);
	free(e->heap);
	free(e->freed);
	free(e->dues);
	free(e);
}

/*
 * Freeze the live state for shutdown: no deadline is due any more
 * (engine_next_due() says none), nothing settles.
 */
void
engine_stop(struct engine *e)
{
	e->stopping = true;
}

/* A reloaded config: new contacts get the new policy, old ones keep theirs. */
void
engine_set_conf(struct engine *e, const struct conf *conf, int64_t now)
{
	e->conf = conf;
	policy_unref(e->policy);
	e->policy = policy_from_conf(&e->policies, e->st, conf, now);
	/*
	 * Global routing settings (the offer cap) apply to every contact at
	 * once: the roster swap routes them all again, and if the roster
	 * could not be read, so does this.
	 */
	if (!engine_roster_poll(e, true, now)) {
		engine_dirty_all(e);
		engine_settle(e, now);
	}
}

/* The config in force. */
const struct conf *
engine_conf(const struct engine *e)
{
	return e->conf;
}

/* The store the engine writes to. */
struct store *
engine_store(const struct engine *e)
{
	return e->st;
}

/* How many contacts are open or assigned. */
size_t
engine_open_contacts(const struct engine *e)
{
	return HASH_COUNT(e->by_id);
}

/* How many clinicians are connected. */
size_t
engine_connected_clinicians(const struct engine *e)
{
	size_t n = 0;

	for (struct clin *c = clin_first(&e->clins); c != NULL;
	     c = clin_next(c))
		n += c->session != NULL;
	return n;
}
