/*
 * engine.h: the daemon's live state: contacts being routed or handled,
 * clinicians as the roster and their connections make them, and the offers
 * between the two.  engine.c runs the contact life cycle on top of the pure
 * decisions of route.c; clinician.c keeps the clinicians; contact.c holds
 * what a contact is; engine_outcome.c how a contact leaves routing; the
 * wire (proto.c) calls in through these functions, and every message the
 * engine sends is built by wire.c.
 *
 * The engine is an object (struct engine) passed to every call, and it
 * never reads the clock: each call is given the time, and its deadlines
 * are its own, run by engine_run_due() (engine_due.c).  So the unit test
 * (tests/unit/test_engine.c) and the fuzzer (fuzz/fuzz_engine.c) run it as
 * the daemon does, on a fake store, at the times they choose.
 *
 * Every change is written to the store before anything that depends on it
 * is sent: messages go out through the connections' outboxes (outbox.h),
 * which hold them until the loop turn's batch has committed.
 */
#ifndef CRISISD_ENGINE_H
#define CRISISD_ENGINE_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uthash.h>

#include "config.h"
#include "msg.h"
#include "roster.h"
#include "route.h"
#include "util.h"

struct session;
struct store;

/* A contact's state, as stored (CONTRACT §6 outcomes). */
enum contact_state {
	CONTACT_OPEN = 0,
	CONTACT_ASSIGNED,
	CONTACT_COMPLETED,
	CONTACT_OVERFLOW,
	CONTACT_ABANDONED,
};

/* Why an offer ended. */
enum offer_end {
	OFFER_ACCEPTED = 0,
	OFFER_DECLINED, /* decline, away or disconnect: refused */
	OFFER_EXPIRED, /* refused, and counts as missed */
	OFFER_TAKEN, /* someone else accepted: withdrawn "taken" */
	OFFER_BUSY, /* this clinician accepted another: withdrawn "busy" */
	OFFER_ABANDONED, /* the caller hung up: withdrawn "abandoned" */
	OFFER_OVERFLOW, /* the contact overflowed: withdrawn "overflow" */
};

struct clin;
struct contact;

/* What a deadline is for: the owner it is embedded in. */
enum engine_due_kind {
	DUE_CONTACT =
	    0, /* struct contact's due: an offer expires, a stage ends */
	DUE_WRAPUP, /* struct clin's wrapup_due: its wrap-up ends */
	DUE_SHIFT, /* the engine's: a shift starts or ends */
	DUE_POLL, /* the engine's: the roster poll, every second */
	DUE_RETRY, /* the engine's: the store is tried again */
};

/*
 * A deadline, embedded in what it belongs to, and kept on the engine's
 * heap of deadlines while armed (engine_due.c).
 */
struct engine_due {
	enum engine_due_kind kind;
	int64_t at; /* when it is due, while armed */
	uint64_t seq; /* arming order: the earlier armed acts first on a tie */
	size_t heap_idx; /* 1 + its place on the heap; 0 if not armed */
};

struct offer {
	struct contact *contact;
	struct clin *clin;
	int tier;
	bool continuity;
	int64_t offered_at;
	int64_t expires_at;
	bool sent; /* the clinician has been told (false after a restart) */
	TAILQ_ENTRY(offer) by_contact;
	TAILQ_ENTRY(offer) by_clin;
};
TAILQ_HEAD(offer_list, offer);

/* A routing policy version: the settings contacts keep for their life. */
struct policy {
	int version;
	int refs; /* contacts using it, plus one while it is current */
	struct conf_tier tiers[CONF_TIERS_MAX];
	struct route_policy route;
	int64_t max_wait_ms;
	int64_t imminent_max_wait_ms;
	char *overflow_target;
};

struct contact {
	char id[CONTACT_ID_MAX + 1];
	char intake[PRINCIPAL_ID_MAX + 1];
	char *ref;
	enum channel channel;
	enum risk risk;
	char *caller, *patient, *program, *language;
	char **needs;
	size_t nneeds;
	char primary[PRINCIPAL_ID_MAX + 1]; /* the patient's clinician, or "" */

	enum contact_state state;
	struct route_pos pos;
	struct policy *policy;
	char **refused; /* clinicians who declined or let it expire */
	size_t nrefused;
	struct offer_list offers;
	struct clin *assigned;
	int assigned_tier; /* the tier of the accepted offer */
	int64_t queued_at;
	int64_t assigned_at;
	/*
	 * It is open on record once the engine's count of good commits
	 * reaches this: set when it is queued or opened again (0: read from
	 * the store, on record already).
	 */
	uint64_t durable_at_commit;
	/* the next deadline: offer expiry or route wakeup */
	struct engine_due due;
	struct session
	    *origin; /* the intake connection that sent it, if open */
	bool dirty; /* routing must look at it again */
	uint64_t order; /* queue order, for routing the oldest first */
	size_t heap_idx; /* 1 + its place on the dirty heap; 0 if not on it */
	/*
	 * Does each roster clinician speak the language and have the needs?
	 * 0 not known yet, 1 no, 2 yes; indexed like the roster, valid for
	 * the roster swap matches_gen counts.
	 */
	uint8_t *matches;
	uint64_t matches_gen;

	UT_hash_handle hh;
	TAILQ_ENTRY(contact) entry; /* in queue order */
};
TAILQ_HEAD(contact_list, contact);

struct clin {
	char id[PRINCIPAL_ID_MAX + 1];
	const struct roster_clinician *info; /* NULL if gone from the roster */
	struct session *session; /* NULL when not connected */
	bool dropped; /* its connection closed while we ran */
	bool available;
	struct contact *assigned; /* busy with this contact */
	int64_t wrapup_until; /* in wrap-up until then (0: not) */
	struct engine_due wrapup_due;
	int missed; /* offers expired in a row */
	int64_t idle_since; /* free since, for longest-idle */
	uint64_t last_offer; /* offer sequence number, for round-robin */
	int recent_base; /* assigned in the 24 h before the last count */
	int recent_since; /* assigned since that count */
	struct offer_list offers;
	size_t noffers; /* in offers */
	bool freed; /* queued for offers of the contacts it can now take */
	/* index in the engine's candidate scratch; SIZE_MAX: none */
	size_t cand;
	uint32_t tiers; /* on call at tiers_at under roster swap tiers_gen */
	int64_t tiers_at;
	uint64_t tiers_gen;
	UT_hash_handle hh;
};

/*
 * The engine's state: made by engine_new(), passed to every entry point,
 * freed by engine_free().  Nothing in it is global, and the engine never
 * reads the clock: every entry point is told the time (now, ms since the
 * epoch) by its caller, the edge of the daemon that read it.
 */
struct engine;

/* --- engine_state.c: set-up, the store's failures, the roster --- */

struct engine *engine_new(struct store *st, const struct conf *conf,
    int64_t now, char **cause);
void engine_free(struct engine *e);
/*
 * Shutting down: from now on nothing is routed, no deadline acts, and a
 * clinician's disconnect declines nothing, so the store keeps every contact
 * and offer exactly as they stood for the next start.
 */
void engine_stop(struct engine *e);
/* A new config (SIGHUP): new contacts take the new policy. */
void engine_set_conf(struct engine *e, const struct conf *conf, int64_t now);
const struct conf *engine_conf(const struct engine *e);
struct store *engine_store(const struct engine *e);
/*
 * A commit failed: drop the live contacts and offers and read them back
 * from the store, as after a restart (connections stay); until a commit
 * succeeds only overflow deadlines act, and a retry deadline routes the
 * rest.
 */
void engine_resync(struct engine *e, int64_t now);
/*
 * The loop turn's commit is done: ok or not, and whether a batch was
 * written at all (only a written one proves the store works again).  True
 * if the engine queued writes or lines (a recovery routes everything
 * again) to flush at once.
 */
bool engine_committed(struct engine *e, bool ok, bool wrote, int64_t now);
/*
 * Reload the roster now if the store says it changed (or force); true if a
 * new roster was taken (every contact was routed again).
 */
bool engine_roster_poll(struct engine *e, bool force, int64_t now);

/* --- engine_due.c: deadlines --- */

/*
 * The engine's deadlines (offers expiring, tiers escalating, overflow,
 * wrap-ups ending, shifts changing, the roster poll, the store retry) are
 * kept in the engine, not in timers: the daemon arms one timer for
 * engine_next_due() after each loop turn and calls engine_run_due() when it
 * fires; a test calls engine_run_due() with the time it wants.
 */
int64_t engine_next_due(const struct engine *e); /* INT64_MAX: none */
/* Act on every deadline at or before now, earliest first. */
void engine_run_due(struct engine *e, int64_t now);

/* --- engine_ops.c: what gateways and clinicians ask --- */

/* Intake: a contact (replies queued or an error); abandon. */
void engine_contact(struct engine *e, struct session *s, const struct msg *m,
    int64_t now);
void engine_abandon(struct engine *e, struct session *s, const struct msg *m,
    int64_t now);
/*
 * Intake, after a routed: the call ended; the caller could not be
 * connected to the clinician, so the contact is routed again (§4 rule 8).
 * engine_call.c.
 */
void engine_ended(struct engine *e, struct session *s, const struct msg *m,
    int64_t now);
void engine_failed(struct engine *e, struct session *s, const struct msg *m,
    int64_t now);

/* Clinician requests; each replies on s. */
void engine_status(struct engine *e, struct session *s, struct clin *c,
    bool available, json_t *id, int64_t now);
void engine_accept(struct engine *e, struct session *s, struct clin *c,
    const struct msg *m, int64_t now);
void engine_decline(struct engine *e, struct session *s, struct clin *c,
    const struct msg *m, int64_t now);
void engine_complete(struct engine *e, struct session *s, struct clin *c,
    const struct msg *m, int64_t now);

/* A clinician's connection was welcomed / closed. */
struct clin *engine_clinician_connected(struct engine *e, const char *id,
    struct session *s, int64_t now);
/*
 * After the welcome: a clinician that reconnects while assigned (its reply
 * may have been lost to a crash or a dropped connection) is told again.
 */
void engine_clinician_welcomed(struct engine *e, struct clin *c);
void
engine_clinician_disconnected(struct engine *e, struct clin *c, int64_t now);
/* An intake connection closed: forget it as a contact's origin. */
void engine_intake_disconnected(struct engine *e, struct session *s);

/*
 * A supervisor's snapshot, built a slice of contacts per loop turn
 * (engine_snapshot.c): start it for a request id (may be NULL), step it
 * until it says every contact is in, then finish it into one line (caller
 * frees; the snapshot is freed).
 */
struct snapshot;
struct snapshot *engine_snapshot_start(json_t *id);
bool engine_snapshot_step(struct engine *e, struct snapshot *sn, size_t n,
    int64_t now);
char *
engine_snapshot_finish(struct engine *e, struct snapshot *sn, int64_t now);
void engine_snapshot_free(struct snapshot *sn);

/* How many contacts are open or assigned, and clinicians connected. */
size_t engine_open_contacts(const struct engine *e);
size_t engine_connected_clinicians(const struct engine *e);

/* --- policy.c --- */

/* The policies in use, each stored version once (the engine holds one). */
struct policies {
	struct policy **cache; /* each holds a reference */
	size_t n;
};

/* The policy of the config's routing settings (a reference), stored if new. */
struct policy *policy_from_conf(struct policies *ps, struct store *st,
    const struct conf *conf, int64_t now);
/* The policy of a stored version (a new reference), or NULL if unknown. */
struct policy *policy_get(struct policies *ps, struct store *st, int version);
void policy_ref(struct policy *p);
void policy_unref(struct policy *p);
/* Drop the cache's references (shutdown). */
void policy_free_all(struct policies *ps);

/* --- clinician.c --- */

/* Every clinician known: in the roster or connected (the engine holds it). */
struct clins {
	struct clin *by_id;
};

struct clin *clin_find(const struct clins *cs, const char *id);
/* Find or create; a new clinician counts as idle since now. */
struct clin *clin_get(struct clins *cs, const char *id, int64_t now);
void clin_free_all(struct clins *cs);
/* Point every clinician at the new roster (NULL info if gone). */
void clin_roster_changed(struct clins *cs, const struct roster *r, int64_t now);
bool clin_eligible(const struct clin *c, int64_t now);
bool clin_waitable(const struct clin *c, int64_t now);
/* Recount assignments of the last 24 h from the store (every minute). */
void clin_recount(struct clins *cs, struct store *st, int64_t now);
/* Iterate: for (c = clin_first(cs); c != NULL; c = clin_next(c)). */
struct clin *clin_first(const struct clins *cs);
struct clin *clin_next(const struct clin *c);
size_t clin_count(const struct clins *cs);
const char *clin_status_name(const struct clin *c, int64_t now);

/* --- contact.c --- */

const char *contact_state_name(enum contact_state s);
/*
 * Move to a new state if the transition is legal; -1 (and a log) if not.
 * Only the engine's outcomes call it (engine_outcome.c).
 */
int contact_set_state(struct contact *ct, enum contact_state to);
bool contact_refused_by(const struct contact *ct, const char *clin);
void contact_add_refused(struct contact *ct, const char *clin);
/* The routing position and refusals as JSON text (caller frees). */
char *contact_route_json(const struct contact *ct);
/* Read them back; -1 if the text is not ours. */
int contact_route_parse(struct contact *ct, const char *text);
/* The offer message for a clinician (no caller identity), from wire.c. */
json_t *contact_offer_json(const struct offer *o, int64_t now);
/* The assigned reply: the offer's fields plus ref and caller (wire.c). */
json_t *contact_assigned_json(const struct contact *ct, int tier);
void contact_free(struct contact *ct);

#endif
