/*
 * engine_int.h: what engine*.c share and nobody else sees: the engine's
 * state and the steps of the contact life cycle.
 */
#ifndef CRISISD_ENGINE_INT_H
#define CRISISD_ENGINE_INT_H

#include "engine.h"

struct engine {
	struct event_base *base;
	struct store *st;
	const struct conf *conf;
	struct policy *policy; /* for new contacts */
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
	bool settling;
	bool stopping; /* shutting down: state stays as stored, for a restart */
	struct roster *roster;
	int64_t roster_until; /* the roster holds the shifts until then */
	uint64_t roster_gen; /* counts roster swaps: keys the match memos */
	struct event *poll_timer; /* roster version, every second */
	struct event *shift_timer; /* the next shift start or end */
	int64_t last_recount;
	int64_t last_gap_check;
	/*
	 * The store failed to commit and has not committed since: only
	 * overflow deadlines act (the person before the record), and a timer
	 * retries the rest with a backoff.
	 */
	bool store_down;
	bool retrying; /* the retry timer is routing every contact */
	bool reload_needed; /* the state could not be read back yet */
	int64_t retry_ms;
	int64_t down_since;
	struct event *retry_timer;
	/* Overflows told to a gateway whose record is not yet durable. */
	struct engine_told *told;
};

extern struct engine eng;

void engine_store_failed(const char *what);
/* Record an event of contact cid, live or not, and show it to watchers. */
void engine_event_id(const char *cid, const char *event, int64_t now, int tier,
    const char *clin, json_t *detail);
void engine_event(struct contact *ct, const char *event, int64_t now, int tier,
    const char *clin, json_t *detail);
void engine_contact_add(struct contact *ct);
void engine_contact_remove(struct contact *ct);
struct contact *engine_find(const char *id);
void engine_save_route(struct contact *ct);
void engine_dirty_all(void);
void engine_mark_dirty(struct contact *ct);
void engine_heap_remove(struct contact *ct);
void engine_clin_freed(struct clin *c);
void engine_clin_lost(struct clin *c);
void engine_route(struct contact *ct, int64_t now);
uint32_t engine_clin_tiers(struct clin *c, int64_t now);
void engine_arm(struct contact *ct, int64_t now);
void engine_offer_send(struct offer *o, int64_t now);
void engine_offer_end(struct offer *o, enum offer_end why, const char *reason,
    int64_t now);
void engine_clin_offers_end(struct clin *c, enum offer_end why,
    const char *reason, int64_t now);
void engine_clin_heard_decline(struct clin *c, int64_t now);
void
engine_contact_offers_end(struct contact *ct, enum offer_end why, int64_t now);
struct offer *engine_offer_of(struct contact *ct, const struct clin *c);
void engine_push(struct contact *ct, json_t *msg, bool urgent);
bool engine_told(const struct contact *ct);
void engine_told_prune(bool all);
void engine_settle(int64_t now);
void engine_timer_in(struct event *ev, int64_t ms);
void engine_followup(struct contact *ct, const char *reason, int64_t now);
void engine_clin_wrapup(struct clin *c, int64_t now);
void engine_overflow(struct contact *ct, int64_t now);
void engine_clin_away(struct clin *c, struct contact *cause, const char *reason,
    json_t *detail, int64_t now);
void engine_not_live(struct session *s, json_t *id, const char *cid,
    const char *owner);
struct contact *engine_intake_contact(struct session *s, const struct msg *m);
void engine_completed(struct contact *ct, const char *disposition,
    const char *notes, const struct msg_disclosure *d, int64_t now);
/* engine_close.c: carry out the supervisors' contact closes filed. */
void engine_closes_poll(int64_t now);

#endif
