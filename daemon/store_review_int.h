/*
 * store_review_int.h: what the review's store files (store_review.c,
 * store_stats.c, store_tally.c, store_followup.c) share: a query built
 * from whichever filters are set, rows handed back as jansson objects,
 * and the tallies stats counts with.  Nothing outside those files
 * includes it.
 */
#ifndef CRISISD_STORE_REVIEW_INT_H
#define CRISISD_STORE_REVIEW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"

/* Longest SQL text a filtered query is built into. */
#define STORE_REVIEW_SQL_MAX_BYTES 1024
/* Most parameters a filtered query binds. */
#define STORE_REVIEW_BINDS_MAX 12

/* A query with a WHERE clause built from whichever filters are set. */
struct store_review_query {
	char sql[STORE_REVIEW_SQL_MAX_BYTES];
	size_t len;
	bool where; /* a condition is already there */
	int nbinds;
	struct {
		const char *text; /* NULL: bind num */
		int64_t num;
	} binds[STORE_REVIEW_BINDS_MAX];
};

/* Append SQL text to q. */
void store_review_sql(struct store_review_query *q, const char *text);

/* Append a condition with one "?" bound to text (or, if NULL, to num). */
void store_review_cond(struct store_review_query *q, const char *cond,
    const char *text, int64_t num);

/* Append a text condition if value is set. */
void store_review_cond_text(struct store_review_query *q, const char *cond,
    const char *value);

/* Append "column in [since, until)" for the bounds that are not 0. */
void store_review_cond_window(struct store_review_query *q, const char *column,
    int64_t since_ms, int64_t until_ms);

/* Bind one more parameter (after a "?" already in the SQL). */
void
store_review_bind(struct store_review_query *q, const char *text, int64_t num);

/* Prepare q's SQL and bind its parameters; NULL (error set) on failure. */
sqlite3_stmt *
store_review_prepare(struct store *st, const struct store_review_query *q);

/*
 * Step s to the end, calling fn for each row, then finalize it.  fn
 * returning -1 stops with STORE_ERROR.
 */
int store_review_each(struct store *st, sqlite3_stmt *s,
    int (*fn)(void *, sqlite3_stmt *), void *arg, const char *what);

/* The current row as an object keyed by column name. */
json_t *store_review_row(sqlite3_stmt *s);

/* Run q and collect its rows as an array; NULL on failure. */
json_t *store_review_rows(struct store *st, const struct store_review_query *q,
    const char *what);

/* Run q and return its first row, or NULL with "not found" or the error. */
json_t *store_review_first(struct store *st, const struct store_review_query *q,
    const char *what);

/* --- tallies for stats (store_tally.c) --- */

/* Slots of a tally map's lookup cache (a power of two). */
#define STORE_TALLY_CACHE_SLOTS 1024
/* Room for a key made from a number, as zero-padded text. */
#define STORE_TALLY_NUM_KEY_BYTES 24
/* Kinds of clinician events a tally counts (store_stats.c names them). */
#define STORE_TALLY_EVENTS 4

/* A growable array of durations. */
struct store_tally_times {
	int64_t *v;
	size_t n;
	size_t cap;
};

/* What is counted of a set of contacts: the totals, a group, a clinician. */
struct store_tally {
	json_int_t total;
	json_int_t answered;
	json_int_t within; /* answered within the service level */
	json_int_t open; /* still waiting, outcome unknown */
	json_int_t abandoned;
	json_int_t short_abandons; /* abandoned within short_abandon_ms */
	json_int_t overflows;
	struct store_tally_times answer; /* queued to assigned */
	/* A clinician's offers, by store_stats_events, and accept times. */
	json_int_t events[STORE_TALLY_EVENTS];
	struct store_tally_times accept; /* their offer to their accept */
};

/* A tally under a key (a clinician id, a program, a period's start...). */
struct store_tally_entry {
	char *key; /* NULL: the contacts without one */
	int64_t num; /* the key as a number, for periods and tiers */
	struct store_tally t;
};

/*
 * Entries sorted by key.  Entries never move (the array holds pointers),
 * so a cache slot can hold one: millions of contacts name a few hundred
 * keys, and most lookups are one hash and one comparison.
 */
struct store_tally_map {
	struct store_tally_entry **v;
	size_t n;
	size_t cap;
	struct store_tally_entry *none;
	struct store_tally_entry *last; /* the last number looked up */
	struct store_tally_entry *cache[STORE_TALLY_CACHE_SLOTS];
};

/* Append one duration. */
void store_tally_times_add(struct store_tally_times *t, int64_t v);

/*
 * Quantile q of the durations in whole ms, interpolated between the
 * closest ranks (numpy's default), or null if there are none.  Reorders
 * them.
 */
json_t *store_tally_quantile(struct store_tally_times *t, double q);

/* The mean in whole ms, or null if there are none. */
json_t *store_tally_mean(const struct store_tally_times *t);

/* The entry of key, added on first sight (NULL: the entry of no key). */
struct store_tally_entry *
store_tally_map_get(struct store_tally_map *m, const char *key, int64_t num);

/* The entry of a number; the map's order is the numbers' order. */
struct store_tally_entry *
store_tally_map_num(struct store_tally_map *m, int64_t num);

/* Free a tally's arrays; a map's entries. */
void store_tally_free(struct store_tally *t);
void store_tally_map_free(struct store_tally_map *m);

#endif
