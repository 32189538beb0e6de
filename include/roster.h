/*
 * roster.h: the on-call roster in memory, built from the store's rows and
 * rebuilt when the roster changes.  Pure: time is always a parameter.
 */
#ifndef CRISISD_ROSTER_H
#define CRISISD_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tiers are numbered 1..ROSTER_TIER_MAX; on-call sets are bitmasks. */
#define ROSTER_TIER_MAX 31

struct roster_shift {
	int tier;
	int64_t start_ms; /* inclusive */
	int64_t end_ms; /* exclusive */
};

struct roster_clinician {
	char *id;
	char *name;
	char **languages; /* lower-cased, e.g. "en", "es" */
	size_t nlanguages;
	char **skills; /* lower-cased, e.g. "mat", "family" */
	size_t nskills;
	char *endpoint; /* NULL if none */
	struct roster_shift *shifts; /* sorted by start_ms */
	size_t nshifts;
};

struct roster {
	struct roster_clinician *clinicians; /* sorted by id after finish */
	size_t nclinicians;
	int64_t version; /* the store's roster version it was built from */
};

/* A time window [start_ms, end_ms). */
struct roster_window {
	int64_t start_ms;
	int64_t end_ms;
};

struct roster *roster_new(void);
void roster_free(struct roster *r);

/*
 * Add a clinician; languages and skills are comma-separated lists ("en,es"),
 * either may be NULL or empty.  Returns -1 if the id is already there.
 */
int roster_add_clinician(struct roster *r, const char *id, const char *name,
    const char *languages, const char *skills, const char *endpoint);

/* Add a shift of a clinician already added; -1 if unknown or bad. */
int roster_add_shift(struct roster *r, const char *clinician, int tier,
    int64_t start_ms, int64_t end_ms);

/* Sort everything for lookups; call once after the adds. */
void roster_finish(struct roster *r);

const struct roster_clinician *
roster_find(const struct roster *r, const char *id);

/* The tiers c is on call for at t, bit n for tier n (0 when off call). */
uint32_t roster_oncall_tiers(const struct roster_clinician *c, int64_t t);

/* The lowest tier in a mask, 0 for an empty mask. */
int roster_lowest_tier(uint32_t tiers);

/* The first moment after t at which anyone's on-call set changes, or INT64_MAX.
 */
int64_t roster_next_change(const struct roster *r, int64_t t);

/* Does c speak language (NULL or "" matches everyone)?  Case-insensitive. */
bool roster_speaks(const struct roster_clinician *c, const char *language);

/* Does c have every one of needs?  Case-insensitive. */
bool roster_has_skills(const struct roster_clinician *c,
    const char *const *needs, size_t nneeds);

/*
 * Windows within [from_ms, to_ms) where no shift of shifts[] on tier covers
 * the time.  Writes at most max windows to out and returns how many there
 * are in all (which may be more than max).
 */
size_t roster_gaps(const struct roster_shift *shifts, size_t nshifts, int tier,
    int64_t from_ms, int64_t to_ms, struct roster_window *out, size_t max);

#endif
