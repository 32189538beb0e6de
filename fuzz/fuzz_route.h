/*
 * fuzz_route.h: the small world fuzz_route.c plays routing in, shared with
 * the invariant checks of fuzz_route_check.c.
 */
#ifndef CRISISD_FUZZ_ROUTE_H
#define CRISISD_FUZZ_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "route.h"

#define FUZZ_TIERS_MAX 3
#define FUZZ_CLINS_MAX 8
#define FUZZ_CONTACTS_MAX 4

/* The contact a clinician is busy with: one of ours, or another one. */
#define FUZZ_FREE (-1)
#define FUZZ_OTHER (-2)

/* How a contact ended; exactly one, once. */
enum fuzz_outcome {
	OUTCOME_NONE = 0,
	OUTCOME_ASSIGNED,
	OUTCOME_OVERFLOW,
	OUTCOME_ABANDONED,
};

/* A clinician, as the engine keeps it (struct clin). */
struct fuzz_clin {
	char id[4];
	uint32_t tiers; /* on call now */
	bool connected;
	bool available; /* status available */
	int assigned; /* a contact index, FUZZ_OTHER or FUZZ_FREE */
	bool wrapup;
	int missed; /* offers expired in a row */
	int64_t idle_since;
	uint64_t last_offer;
	int recent;
};

/* An offer of one contact to one clinician. */
struct fuzz_offer {
	bool open;
	int64_t expires_at;
};

/* A contact, its walk and its offers, by clinician index. */
struct fuzz_contact {
	bool imminent;
	int primary;
	struct route_pos pos;
	enum fuzz_outcome outcome;
	int assigned_to;
	int nwaiting; /* "waiting" events told */
	bool matches[FUZZ_CLINS_MAX];
	bool refused[FUZZ_CLINS_MAX];
	struct fuzz_offer offers[FUZZ_CLINS_MAX];
};

/* Everything: the input being read, the policy, the people, the clock. */
struct fuzz_world {
	const uint8_t *in;
	size_t left;
	struct conf_tier tiers[FUZZ_TIERS_MAX];
	struct route_policy pol;
	uint32_t mask; /* the policy's tiers */
	int64_t max_wait_ms;
	int64_t imminent_max_wait_ms;
	int max_missed;
	struct fuzz_clin clins[FUZZ_CLINS_MAX];
	size_t nclins;
	struct fuzz_contact contacts[FUZZ_CONTACTS_MAX];
	size_t ncontacts;
	size_t nqueued;
	int64_t now;
	uint64_t offer_seq;
};

/*
 * Check one route_next() call for contact ct: the plan it made from cands
 * and where it left ct->pos (before: where it stood).  Aborts on a broken
 * invariant.
 */
void fuzz_route_check(const struct fuzz_world *w, const struct fuzz_contact *ct,
    const struct route_pos *before, const struct route_cand *cands,
    const struct route_plan *plan);

#endif
