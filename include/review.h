/*
 * review.h: the supervisors' records as crisisctl prints them and the web
 * console's API answers them (CONTRACT §6, §8): what the store reads, with
 * the figures a reader wants worked out.  Times are still ms here;
 * jsontime_copy() makes them RFC 3339 on the way out.
 */
#ifndef CRISISD_REVIEW_H
#define CRISISD_REVIEW_H

#include <stdint.h>

#include <jansson.h>

struct store;

/* The default window of a roster gap listing: the next 7 days. */
#define REVIEW_GAPS_DEFAULT_MS (7LL * 24 * 3600 * 1000)

/* A log row gets its time_to_answer_ms (null unless answered). */
void review_log_row(json_t *row);

/*
 * One contact and its timeline, each event with elapsed_ms (since queued)
 * and step_ms (since the event before); NULL on a store error (or an
 * unknown contact: store_error says which).
 */
json_t *review_show(struct store *st, const char *cid);

/* The open follow-ups, oldest first, each with its age_ms at now. */
json_t *review_followups(struct store *st, int64_t now);

/* The windows of [from, to) with nobody on call on tier 1; NULL on error. */
json_t *review_gaps(struct store *st, int64_t from, int64_t to);

/*
 * The local hour and day holding ms, in the zone $TZ names (the C
 * library's calendar works only through $TZ): the periods of stats
 * --by hour and --by day.  A day is 23 or 25 hours when daylight saving
 * begins or ends.
 */
int64_t review_hour(void *arg, int64_t ms, int64_t *end_ms);
int64_t review_day(void *arg, int64_t ms, int64_t *end_ms);

#endif
