/*
 * engine_int.h: what engine*.c share and nobody else sees (but the engine's
 * unit test and fuzzer, which look inside): the engine's state and the
 * steps of the contact life cycle.
 */
#ifndef CRISISD_ENGINE_INT_H
#define CRISISD_ENGINE_INT_H

#include "engine.h"

struct engine_told;
struct heard;
struct intakes;

struct engine {
	struct store *st;
	const struct conf *conf;
	struct policy *policy; /* for new contacts */
	struct policies policies;
	struct clins clins;
	struct heard *heard; /* offers sent, across a failed commit */
	struct intakes *intakes; /* what each gateway has open */
	struct contact *by_id;
	struct contact_list queue; /* open and assigned, oldest first */
	uint64_t offer_seq;
	uint64_t order_seq; /* the last contact's queue order */
	/* Dirty contacts, a heap by queue order (engine_settle.c). */
	struct contact **heap;
	size_t nheap, heapcap;
	/* Clinicians who can take more offers, to settle. */
	struct clin **freed;
	size_t nfreed, freedcap;
	/* Scratch for route_next, grown to the number of clinicians. */
	struct route_cand *cands;
	struct clin **cand_clins;
	struct route_offer *offers;
	size_t ncap;
	/*
	 * The last offer line made: a ring-all tier offers one contact to
	 * many clinicians with the same line (engine_offer_send).
	 */
	struct engine_offer_line {
		char contact[CONTACT_ID_MAX + 1];
		int tier;
		bool continuity;
		int64_t expires_at, now;
		char *line;
	} offer_line;
	bool settling;
	bool stopping; /* shutting down: state stays as stored, for a restart */
	struct roster *roster;
	int64_t roster_until; /* the roster holds the shifts until then */
	uint64_t roster_gen; /* counts roster swaps: keys the match memos */
	/* Deadlines, a heap by time (engine_due.c), and the engine's own. */
	struct engine_due **dues;
	size_t ndues, duecap;
	uint64_t due_seq;
	struct engine_due poll_due; /* roster version, every second */
	struct engine_due shift_due; /* the next shift start or end */
	struct engine_due retry_due; /* the store, again, while it fails */
	int64_t last_recount;
	int64_t last_gap_check;
	/*
	 * The store failed to commit and has not committed since: only
	 * overflow deadlines act (the person before the record), and the
	 * retry deadline tries the rest with a backoff.
	 */
	bool store_down;
	uint64_t commits; /* commits that succeeded, for durable_at_commit */
	bool retrying; /* the retry is routing every contact */
	bool reload_needed; /* the state could not be read back yet */
	int64_t retry_ms;
	int64_t down_since;
	/* Overflows told to a gateway whose record is not yet durable. */
	struct engine_told *told;
};

/* --- engine.c: contacts in memory, offers, routing --- */

void engine_store_failed(struct engine *e, const char *what);
/* Record an event of contact cid, live or not, and show it to watchers. */
void engine_event_id(struct engine *e, const char *cid, const char *event,
    int64_t now, int tier, const char *clin, json_t *detail);
void engine_event(struct engine *e, struct contact *ct, const char *event,
    int64_t now, int tier, const char *clin, json_t *detail);
void engine_contact_add(struct engine *e, struct contact *ct);
void engine_contact_remove(struct engine *e, struct contact *ct);
struct contact *engine_find(const struct engine *e, const char *id);
void engine_save_route(struct engine *e, struct contact *ct);
void engine_route(struct engine *e, struct contact *ct, int64_t now);
uint32_t engine_clin_tiers(struct engine *e, struct clin *c, int64_t now);
void engine_arm(struct engine *e, struct contact *ct);
void engine_offer_send(struct engine *e, struct offer *o, int64_t now);
void engine_offer_end(struct engine *e, struct offer *o, enum offer_end why,
    const char *reason, int64_t now);
void engine_clin_offers_end(struct engine *e, struct clin *c,
    enum offer_end why, const char *reason, int64_t now);
void engine_clin_heard_decline(struct engine *e, struct clin *c, int64_t now);
void engine_contact_offers_end(struct engine *e, struct contact *ct,
    enum offer_end why, int64_t now);
struct offer *engine_offer_of(struct contact *ct, const struct clin *c);
/*
 * Set c away for a reason (missed_offers, connect_failed) that contact
 * cause gave: told to it and, in cause's timeline, to supervisors (detail
 * stolen); its open offers are declined.
 */
void engine_clin_away(struct engine *e, struct clin *c, struct contact *cause,
    const char *reason, json_t *detail, int64_t now);

/* --- engine_outcome.c: how a contact leaves routing, one function each --- */

/*
 * The one place the engine moves a contact's state (contact_set_state
 * checks it is legal): a contact that stops or starts being open counts
 * against its gateway's budget accordingly.  -1 if the move is illegal.
 */
int
engine_set_state(struct engine *e, struct contact *ct, enum contact_state to);
/*
 * Offer o was accepted: the contact is its clinician's, everyone else's
 * offers of it and the clinician's other offers are withdrawn, the accept
 * (request id on s) gets the assigned reply, the gateway is told.
 */
void engine_assigned(struct engine *e, struct offer *o, struct session *s,
    json_t *id, int64_t now);
/*
 * An assigned contact is over (its clinician completed it, or a supervisor
 * closed it): recorded with its disposition (notes and d may be NULL), and
 * the clinician's wrap-up starts.
 */
void
engine_completed(struct engine *e, struct contact *ct, const char *disposition,
    const char *notes, const struct msg_disclosure *d, int64_t now);
/* Nobody took it in time: withdrawn, the gateway told where to send it. */
void engine_overflow(struct engine *e, struct contact *ct, int64_t now);
/* The caller hung up while it was open. */
void engine_abandoned(struct engine *e, struct contact *ct, int64_t now);
bool engine_told(const struct engine *e, const struct contact *ct);
void engine_told_prune(struct engine *e, bool all);

/* --- engine_ops.c, engine_call.c, engine_close.c: requests --- */

/* Answer a request about a contact that is not live: conflict or not_found. */
void engine_not_live(struct engine *e, struct session *s, json_t *id,
    const char *cid, const char *owner);
/*
 * The live contact a gateway's message names, if it is that gateway's;
 * else NULL, with not_found or conflict answered.
 */
struct contact *
engine_intake_contact(struct engine *e, struct session *s, const struct msg *m);
/* Carry out the supervisors' contact closes filed (every poll). */
void engine_closes_poll(struct engine *e, int64_t now);

/* --- engine_settle.c: what routing looks at next --- */

void engine_dirty_all(struct engine *e);
void engine_mark_dirty(struct engine *e, struct contact *ct);
void engine_heap_remove(struct engine *e, struct contact *ct);
void engine_clin_freed(struct engine *e, struct clin *c);
void engine_clin_lost(struct engine *e, struct clin *c);
void engine_settle(struct engine *e, int64_t now);

/* --- engine_due.c: deadlines --- */

/* Arm d for at (re-arming it if armed); disarm it. */
void engine_due_set(struct engine *e, struct engine_due *d, int64_t at);
void engine_due_clear(struct engine *e, struct engine_due *d);
bool engine_due_armed(const struct engine_due *d);
/* Start a clinician's wrap-up; at its end it is eligible again. */
void engine_clin_wrapup(struct engine *e, struct clin *c, int64_t now);

/* --- engine_state.c: the roster, the store's failures --- */

/* The roster poll's deadline (every second), its shift and retry ones. */
void engine_poll_due(struct engine *e, int64_t now);
void engine_shift_due(struct engine *e, int64_t now);
void engine_retry_due(struct engine *e, int64_t now);

#endif
