/*
 * engine_state.c: the engine's set-up and its view of the world: the
 * routing policy from the config, the roster (polled every second and
 * re-read at every shift change), the contacts resumed from the store at
 * start, and the snapshot supervisors ask for.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
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
static void engine_retry_cb(evutil_socket_t, short, void *);

struct engine eng;

/* Arm a one-shot timer ms from now (now if ms is negative). */
void
engine_timer_in(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

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
engine_roster_read(int64_t version, int64_t now)
{
	struct roster *r = roster_new();
	struct store_roster_cbs cbs = { engine_load_clinician,
		engine_load_shift, r };
	int64_t until = now + ENGINE_ROSTER_HORIZON_MS +
	    (int64_t)eng.conf->gap_warning_hours * 3600 * 1000;

	if (store_roster_load(eng.st, now, until, &cbs) != STORE_OK) {
		log_warnx("roster not loaded: %s", store_error(eng.st));
		roster_free(r);
		return NULL;
	}
	roster_finish(r);
	r->version = version;
	eng.roster_until = until;
	return r;
}

/* Take a new roster: everyone re-pointed, every contact looked at again. */
static void
engine_roster_swap(struct roster *r, int64_t now)
{
	int64_t next;

	clin_roster_changed(r);
	roster_free(eng.roster);
	eng.roster = r;
	eng.roster_gen++;
	next = roster_next_change(r, now);
	evtimer_del(eng.shift_timer);
	if (next != INT64_MAX)
		engine_timer_in(eng.shift_timer, next - now);
	log_info("roster version %lld: %zu clinicians", (long long)r->version,
	    r->nclinicians);
	gaps_check(r, now, eng.conf->gap_warning_hours);
	eng.last_gap_check = now;
	engine_dirty_all();
	engine_settle(now);
}

/* Reload the roster if the store's version moved (or when forced). */
bool
engine_roster_poll(bool force)
{
	int64_t version, now = util_now_ms();
	struct roster *r;

	if (store_roster_version(eng.st, &version) != STORE_OK) {
		log_warnx("roster version: %s", store_error(eng.st));
		return false;
	}
	if (!force && eng.roster != NULL && version == eng.roster->version &&
	    now < eng.roster_until - ENGINE_ROSTER_HORIZON_MS + ENGINE_DAY_MS)
		return false;
	if ((r = engine_roster_read(version, now)) == NULL)
		return false;
	engine_roster_swap(r, now);
	return true;
}

/* Every second: a roster change made with crisisctl takes effect. */
static void
engine_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = util_now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	engine_roster_poll(false);
	engine_closes_poll(now);
	if (now - eng.last_recount >= ENGINE_RECOUNT_MS) {
		clin_recount(eng.st, now);
		eng.last_recount = now;
	}
	if (now - eng.last_gap_check >= ENGINE_GAP_CHECK_MS) {
		gaps_check(eng.roster, now, eng.conf->gap_warning_hours);
		eng.last_gap_check = now;
	}
}

/* A shift started or ended: on-call sets changed. */
static void
engine_shift_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = util_now_ms(), next;

	(void)fd;
	(void)what;
	(void)arg;
	next = roster_next_change(eng.roster, now);
	if (next != INT64_MAX)
		engine_timer_in(eng.shift_timer, next - now);
	gaps_check(eng.roster, now, eng.conf->gap_warning_hours);
	engine_dirty_all();
	engine_settle(now);
}

/* Resume one stored contact. */
static int
engine_resume_contact(void *arg, const struct store_contact *sc)
{
	struct contact *ct = xcalloc(1, sizeof(*ct));
	int risk = msg_risk_from_name(sc->risk);
	json_t *needs = json_loads(sc->needs, 0, NULL), *v;
	size_t i;

	(void)arg;
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
	ct->policy = policy_get(eng.st, sc->policy_version);
	if (ct->policy == NULL) {
		log_contact(LOG_LEVEL_WARNING, ct->id, NULL,
		    "contact %s: "
		    "routing policy %d unknown, using the current one",
		    ct->id, sc->policy_version);
		ct->policy = eng.policy;
		policy_ref(ct->policy);
	}
	if (sc->route == NULL || contact_route_parse(ct, sc->route) == -1)
		ct->pos.stage = ROUTE_START;
	ct->state = strcmp(sc->state, STORE_STATE_ASSIGNED) == 0
	    ? CONTACT_ASSIGNED
	    : CONTACT_OPEN;
	engine_contact_add(ct);
	if (ct->state == CONTACT_ASSIGNED && sc->clinician != NULL) {
		ct->assigned = clin_get(sc->clinician);
		ct->assigned->assigned = ct;
		ct->assigned_at = sc->assigned_at;
		ct->assigned_tier = sc->answered_tier;
		ct->pos.stage = ROUTE_DONE;
	} else
		engine_mark_dirty(ct);
	return 0;
}

/* Resume one stored open offer: sent again when its clinician is available. */
static int
engine_resume_offer(void *arg, const char *cid, const struct store_offer *so)
{
	struct contact *ct = engine_find(cid);
	struct clin *c;
	struct offer *o;

	(void)arg;
	if (ct == NULL || ct->state != CONTACT_OPEN)
		return 0;
	c = clin_get(so->clinician);
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
engine_resume(char **cause)
{
	struct store_resume_cbs cbs = { engine_resume_contact,
		engine_resume_offer, NULL };
	int64_t now = util_now_ms();
	struct contact *ct;

	if (store_resume_load(eng.st, &cbs) != STORE_OK) {
		xasprintf(cause, "resuming contacts: %s", store_error(eng.st));
		return -1;
	}
	if (!TAILQ_EMPTY(&eng.queue))
		log_notice("resumed %zu open contacts", engine_open_contacts());
	/* Deadlines that passed while we were down fire at once. */
	TAILQ_FOREACH (ct, &eng.queue, entry)
		engine_arm(ct, now);
	return 0;
}

/* Set up the engine: policy, roster, resumed contacts, timers. */
int
engine_init(struct event_base *base, struct store *st, const struct conf *conf,
    char **cause)
{
	int64_t now = util_now_ms();

	memset(&eng, 0, sizeof(eng));
	eng.base = base;
	eng.st = st;
	eng.conf = conf;
	TAILQ_INIT(&eng.queue);
	eng.policy = policy_from_conf(st, conf, now);
	eng.poll_timer = event_new(base, -1, EV_PERSIST, engine_poll_cb, NULL);
	eng.shift_timer = evtimer_new(base, engine_shift_cb, NULL);
	eng.retry_timer = evtimer_new(base, engine_retry_cb, NULL);
	if (eng.poll_timer == NULL || eng.shift_timer == NULL ||
	    eng.retry_timer == NULL) {
		*cause = xstrdup("cannot create timers");
		return -1;
	}
	engine_roster_poll(true);
	if (eng.roster == NULL) {
		xasprintf(cause, "roster: %s", store_error(st));
		return -1;
	}
	clin_recount(st, now);
	eng.last_recount = now;
	if (engine_resume(cause) == -1)
		return -1;
	engine_timer_in(eng.poll_timer, ENGINE_ROSTER_POLL_MS);
	engine_settle(now);
	return 0;
}

/* Forget every live contact and offer, without writing anything. */
static void
engine_drop_contacts(void)
{
	struct contact *ct;
	struct offer *o;

	while ((ct = TAILQ_FIRST(&eng.queue)) != NULL) {
		while ((o = TAILQ_FIRST(&ct->offers)) != NULL) {
			TAILQ_REMOVE(&ct->offers, o, by_contact);
			TAILQ_REMOVE(&o->clin->offers, o, by_clin);
			o->clin->noffers--;
			free(o);
		}
		if (ct->assigned != NULL)
			ct->assigned->assigned = NULL;
		engine_contact_remove(ct);
	}
}

/* Is the offer of contact to clin live? */
static bool
engine_offer_live(const char *contact, const char *clin)
{
	return engine_offer_of(engine_find(contact), clin_find(clin)) != NULL;
}

/*
 * After the state was read back: mark the offers that their clinicians
 * heard of before, and send the others to those who can hear them now, so
 * that no offer is sent twice for one failure.
 */
static void
engine_heard_restore(int64_t now)
{
	struct offer *o;

	heard_keep(engine_offer_live);
	for (struct clin *c = clin_first(); c != NULL; c = clin_next(c)) {
		TAILQ_FOREACH (o, &c->offers, by_clin) {
			if (heard_has(o->contact->id, c->id))
				o->sent = true;
			else
				engine_offer_send(o, now);
		}
	}
}

/* Drop the live state and read it back from the store; -1 if unreadable. */
static int
engine_reload(int64_t now)
{
	char *cause = NULL;

	engine_drop_contacts();
	if (engine_resume(&cause) == -1) {
		log_error("%s; trying again", cause);
		free(cause);
		eng.reload_needed = true;
		return -1;
	}
	eng.reload_needed = false;
	engine_heard_restore(now);
	engine_dirty_all();
	return 0;
}

/*
 * A clinician away or gone holds offers the store gave back after a failed
 * commit undid its decline: decline them again (a gone one, only those it
 * heard of; the others wait for it, as after a restart).
 */
static void
engine_clin_redecline(struct clin *c, int64_t now)
{
	if (c->session != NULL) {
		if (!c->available)
			engine_clin_offers_end(c, OFFER_DECLINED, "away", now);
		return;
	}
	engine_clin_heard_decline(c, now);
}

/* Try the store again after eng.retry_ms, slower each time it fails. */
static void
engine_retry_arm(void)
{
	engine_timer_in(eng.retry_timer, eng.retry_ms);
	eng.retry_ms *= 2;
	if (eng.retry_ms > ENGINE_RETRY_MAX_MS)
		eng.retry_ms = ENGINE_RETRY_MAX_MS;
}

/*
 * The store failed: route everything again, and prove with a small write
 * that it takes writes; the turn's commit says whether it is back.
 */
static void
engine_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = util_now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	if (eng.stopping)
		return;
	if (eng.reload_needed && engine_reload(now) == -1) {
		engine_retry_arm();
		return;
	}
	eng.retrying = true;
	store_wait_for_lock(eng.st, ENGINE_RETRY_LOCK_WAIT_MS);
	(void)store_alive(eng.st, now);
	/*
	 * Clinicians who went away or disconnected while the store failed
	 * decline again what the store gave back to them.
	 */
	for (struct clin *c = clin_first(); c != NULL; c = clin_next(c))
		engine_clin_redecline(c, now);
	engine_dirty_all();
	engine_settle(now);
	eng.retrying = false;
	store_wait_for_lock(eng.st, 0);
}

/*
 * A commit failed: the store is the truth, so the live state is read back
 * from it, as after a restart (connections stay), and until a commit
 * succeeds only overflow deadlines act.
 */
void
engine_resync(void)
{
	int64_t now = util_now_ms();

	if (!eng.store_down) {
		eng.store_down = true;
		eng.down_since = now;
		eng.retry_ms = ENGINE_RETRY_FIRST_MS;
		store_wait_for_lock(eng.st, 0);
	}
	/* Resuming arms each contact for its overflow deadline alone. */
	(void)engine_reload(now);
	if (!evtimer_pending(eng.retry_timer, NULL))
		engine_retry_arm();
}

/*
 * The turn's commit is done.  After a failure, read the state back; after
 * a success that ends a failure, route everything again.  True if that
 * queued writes or lines the loop should flush now.
 */
bool
engine_committed(bool ok, bool wrote)
{
	int64_t now = util_now_ms();

	if (eng.stopping)
		return false;
	heard_committed(ok);
	if (!ok) {
		engine_resync();
		return false;
	}
	if (!wrote)
		return false;
	engine_told_prune(false);
	if (!eng.store_down)
		return false;
	eng.store_down = false;
	store_wait_for_lock(eng.st, ENGINE_LOCK_WAIT_MS);
	evtimer_del(eng.retry_timer);
	log_notice("database takes writes again after %lld ms",
	    (long long)(now - eng.down_since));
	engine_dirty_all();
	engine_settle(now);
	return true;
}

/* Free everything (shutdown; the store keeps the truth). */
void
engine_free(void)
{
	engine_drop_contacts();
	clin_free_all();
	intake_free_all();
	roster_free(eng.roster);
	policy_unref(eng.policy);
	policy_free_all();
	if (eng.poll_timer != NULL)
		event_free(eng.poll_timer);
	if (eng.shift_timer != NULL)
		event_free(eng.shift_timer);
	if (eng.retry_timer != NULL)
		event_free(eng.retry_timer);
	engine_told_prune(true);
	heard_free_all();
	free(eng.cands);
	free(eng.cand_clins);
	free(eng.offers);
	free(eng.heap);
	free(eng.freed);
	memset(&eng, 0, sizeof(eng));
}

/* Freeze the live state for shutdown. */
void
engine_stop(void)
{
	struct contact *ct;

	eng.stopping = true;
	TAILQ_FOREACH (ct, &eng.queue, entry)
		evtimer_del(ct->timer);
	evtimer_del(eng.shift_timer);
	evtimer_del(eng.poll_timer);
	evtimer_del(eng.retry_timer);
}

/* A reloaded config: new contacts get the new policy, old ones keep theirs. */
void
engine_set_conf(const struct conf *conf)
{
	eng.conf = conf;
	policy_unref(eng.policy);
	eng.policy = policy_from_conf(eng.st, conf, util_now_ms());
	/*
	 * Global routing settings (the offer cap) apply to every contact at
	 * once: the roster swap routes them all again, and if the roster
	 * could not be read, so does this.
	 */
	if (!engine_roster_poll(true)) {
		engine_dirty_all();
		engine_settle(util_now_ms());
	}
}

/* The config in force. */
const struct conf *
engine_conf(void)
{
	return eng.conf;
}

/* The store the engine writes to. */
struct store *
engine_store(void)
{
	return eng.st;
}

/* How many contacts are open or assigned. */
size_t
engine_open_contacts(void)
{
	return HASH_COUNT(eng.by_id);
}

/* How many clinicians are connected. */
size_t
engine_connected_clinicians(void)
{
	size_t n = 0;

	for (struct clin *c = clin_first(); c != NULL; c = clin_next(c))
		n += c->session != NULL;
	return n;
}
