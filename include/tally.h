/*
 * tally.h: what crisisctl stats counts with, in memory: growable arrays of
 * durations with their mean and quantiles, and maps from a key (a
 * clinician, a program, a period's start) to a tally of contacts.  Plain
 * C and jansson values: no SQLite, no I/O.
 */
#ifndef CRISISD_TALLY_H
#define CRISISD_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Slots of a tally map's lookup cache (a power of two). */
#define TALLY_CACHE_SLOTS 1024
/* Room for a key made from a number, as zero-padded text. */
#define TALLY_NUM_KEY_BYTES 24
/* Kinds of clinician events a tally counts (store_stats.c names them). */
#define TALLY_EVENTS 4

/* A growable array of durations. */
struct tally_times {
	int64_t *v;
	size_t n;
	size_t cap;
};

/* What is counted of a set of contacts: the totals, a group, a clinician. */
struct tally {
	json_int_t total;
	json_int_t answered;
	json_int_t within; /* answered within the service level */
	json_int_t open; /* still waiting, outcome unknown */
	json_int_t abandoned;
	json_int_t short_abandons; /* abandoned within short_abandon_ms */
	json_int_t overflows;
	struct tally_times answer; /* queued to assigned */
	struct tally_times talk; /* assigned to the call's end ("ended") */
	/* A clinician's offers, by store_stats_events, and accept times. */
	json_int_t events[TALLY_EVENTS];
	struct tally_times accept; /* their offer to their accept */
};

/* A tally under a key (a clinician id, a program, a period's start...). */
struct tally_entry {
	char *key; /* NULL: the contacts without one */
	int64_t num; /* the key as a number, for periods and tiers */
	struct tally t;
};

/*
 * Entries sorted by key.  Entries never move (the array holds pointers),
 * so a cache slot can hold one: millions of contacts name a few hundred
 * keys, and most lookups are one hash and one comparison.
 */
struct tally_map {
	struct tally_entry **v;
	size_t n;
	size_t cap;
	struct tally_entry *none;
	struct tally_entry *last; /* the last number looked up */
	struct tally_entry *cache[TALLY_CACHE_SLOTS];
};

/* Append one duration. */
void tally_times_add(struct tally_times *t, int64_t v);

/*
 * Quantile q of the durations in whole ms, interpolated between the
 * closest ranks (numpy's default), or null if there are none.  Reorders
 * them.
 */
json_t *tally_quantile(struct tally_times *t, double q);

/* The mean in whole ms, or null if there are none. */
json_t *tally_mean(const struct tally_times *t);

/* The entry of key, added on first sight (NULL: the entry of no key). */
struct tally_entry *
tally_map_get(struct tally_map *m, const char *key, int64_t num);

/* The entry of a number; the map's order is the numbers' order. */
struct tally_entry *tally_map_num(struct tally_map *m, int64_t num);

/* Free a tally's arrays; a map's entries. */
void tally_free(struct tally *t);
void tally_map_free(struct tally_map *m);

#endif
