/*
 * route.h: the routing decisions of CONTRACT §4, as a pure function.
 *
 * The engine describes one contact (its position in the walk and what it
 * asks for) and every clinician as routing sees them at time now; route_next()
 * says what to do: which offers to make, which tier routing moved to, whether
 * the contact now waits or overflows.  No sockets, no SQLite, no clock: the
 * unit tests drive it with tables.
 *
 * Offers ending (accept, decline, expiry, withdrawal) are the engine's to
 * apply; it calls route_next() again afterwards.
 */
#ifndef CRISISD_ROUTE_H
#define CRISISD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum route_stage {
	ROUTE_START = 0, /* not routed yet */
	ROUTE_CONTINUITY, /* the primary clinician alone */
	ROUTE_TIER, /* walking the tiers */
	ROUTE_WAITING, /* tiers exhausted, waiting for a busy clinician */
	ROUTE_IMMINENT, /* everyone at once until the imminent deadline */
	ROUTE_DONE, /* assigned or closed: nothing more to route */
};

/* Where a contact stands in its walk; saved with the contact for restarts. */
struct route_pos {
	enum route_stage stage;
	int tier_index; /* into the policy's tiers, in ROUTE_TIER */
	int64_t stage_deadline; /* continuity or ring-all end; 0 if none yet */
	int64_t deadline; /* overflow, whatever happens (queued + max wait) */
	bool waiting_told; /* the "waiting" event was emitted */
};

/* The routing settings a contact was queued under. */
struct route_policy {
	const struct conf_tier *tiers; /* ascending */
	size_t ntiers;
	int64_t continuity_ms; /* 0: off */
};

/* What the contact asks of routing. */
struct route_contact {
	bool imminent;
	int primary; /* index of the patient's primary clinician in cands, or -1
	              */
};

/* A clinician as routing sees it, at now, for this contact. */
struct route_cand {
	const char *id;
	uint32_t tiers; /* on call now: bit n for tier n; 0 when off call */
	bool eligible; /* connected, available, not busy, not in wrap-up */
	bool waitable; /* connected and busy or in wrap-up */
	bool matches; /* speaks the language and has every need */
	bool refused; /* declined this contact or let its offer expire */
	bool offered; /* holds an open offer of this contact now */
	bool ringing; /* holds an open offer of another contact */
	/*
	 * holds max_offers_per_clinician open offers of other contacts: the
	 * tier walk and waiting pass it over (continuity and imminent do not)
	 */
	bool saturated;
	int64_t idle_since; /* longest-idle: free since (smaller = longer) */
	uint64_t
	    last_offer; /* round-robin: when last offered anything (0 never) */
	int recent_contacts; /* fewest-contacts: assigned in the last 24 h */
};

#define ROUTE_EVENT_MAX 34 /* a tier entry each, at most, plus waiting */

enum route_event_kind {
	ROUTE_EV_ESCALATED, /* routing moved to tier */
	ROUTE_EV_WAITING, /* tiers exhausted: waiting for a busy clinician */
};

struct route_event {
	enum route_event_kind kind;
	int tier;
};

struct route_offer {
	size_t cand; /* index into cands */
	int tier; /* the tier shown to the clinician */
	int64_t expires_at;
	bool continuity;
};

/* What to do.  offers has room for ncands entries (caller allocates). */
struct route_plan {
	struct route_offer *offers;
	size_t noffers;
	struct route_event events[ROUTE_EVENT_MAX];
	size_t nevents;
	bool overflow; /* withdraw everything, tell the intake, close */
};

/* Fill pos for a contact queued at queued_at. */
void route_start(struct route_pos *pos, int64_t queued_at, bool imminent,
    int64_t max_wait_ms, int64_t imminent_max_wait_ms);

/*
 * Decide the next step for one contact at now, updating pos.  cands[] is
 * every known clinician; plan->offers must have room for ncands.
 */
void route_next(const struct route_policy *pol, struct route_pos *pos,
    const struct route_contact *ct, const struct route_cand *cands,
    size_t ncands, int64_t now, struct route_plan *plan);

/*
 * Could a change in the clinicians alone (one freed, gone away, newly
 * connected) change what route_next() decides for this contact?  False
 * where route_next() returns at once whoever the clinicians are: an open
 * offer holds continuity, a one-at-a-time tier or waiting, or the contact
 * is done.  has_offer: the contact holds an open offer now.  Deadlines are
 * not clinician changes: route_wakeup() covers those.
 */
bool route_watches_clinicians(const struct route_policy *pol,
    const struct route_pos *pos, bool has_offer);

/*
 * The earliest moment route_next() must be called again even if nothing
 * else happens (stage deadline or overflow deadline); INT64_MAX if none.
 * Offer expiries are the engine's own timers.
 */
int64_t route_wakeup(const struct route_pos *pos);

const char *route_stage_name(enum route_stage s);
int route_stage_from_name(const char *name);

#endif
