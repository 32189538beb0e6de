/*
 * store_review_int.h: what the review's store files (store_review.c,
 * store_stats.c, store_audit.c, store_followup.c) share: a query built
 * from whichever filters are set, and rows handed back as jansson
 * objects.  Nothing outside those files includes it.
 */
#ifndef CRISISD_STORE_REVIEW_INT_H
#define CRISISD_STORE_REVIEW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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

/* Append "column in [since, until)" for the bounds not STORE_UNBOUNDED. */
void store_review_cond_window(struct store_review_query *q, const char *column,
    int64_t since_ms, int64_t until_ms);

/* Bind one more parameter (after a "?" already in the SQL). */
void
store_review_bind(struct store_review_query *q, const char *text, int64_t num);

/* Prepare q's SQL and bind its parameters; NULL (error set) on failure. */
struct db_stmt *
store_review_prepare(struct store *st, const struct store_review_query *q);

/*
 * Step s to the end, calling fn for each row, then finalize it.  fn
 * returning -1 stops with STORE_ERROR.
 */
int store_review_each(struct store *st, struct db_stmt *s,
    int (*fn)(void *, struct db_stmt *), void *arg, const char *what);

/* The current row as an object keyed by column name. */
json_t *store_review_row(struct db_stmt *s);

/* Run q and collect its rows as an array; NULL on failure. */
json_t *store_review_rows(struct store *st, const struct store_review_query *q,
    const char *what);

/* Run q and return its first row, or NULL with "not found" or the error. */
json_t *store_review_first(struct store *st, const struct store_review_query *q,
    const char *what);

#endif
