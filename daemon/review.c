/*
 * review.c: the supervisors' records, worked out once for crisisctl and
 * the web console alike: durations between the times the store keeps, the
 * age of what is still open, the gaps of the roster, and the calendar
 * that groups stats by local hour and day.
 */
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "review.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define REVIEW_HOUR_MS (3600LL * 1000)

/* Set key to the time from "from" to "to", or null unless both are times. */
static void
review_span(json_t *obj, const char *key, json_t *from, json_t *to)
{
	json_object_set_new(obj, key,
	    json_is_integer(from) && json_is_integer(to)
	        ? json_integer(
	              json_integer_value(to) - json_integer_value(from))
	        : json_null());
}

void
review_log_row(json_t *row)
{
	review_span(row, "time_to_answer_ms", json_object_get(row, "queued_at"),
	    json_object_get(row, "assigned_at"));
}

json_t *
review_show(struct store *st, const char *cid)
{
	json_t *contact, *events, *ev, *queued;
	size_t i;

	if ((contact = store_review_show(st, cid)) == NULL)
		return NULL;
	review_log_row(contact);
	queued = json_object_get(contact, "queued_at");
	events = json_object_get(contact, "events");
	json_array_foreach (events, i, ev) {
		review_span(ev, "elapsed_ms", queued,
		    json_object_get(ev, "at"));
		review_span(ev, "step_ms",
		    i > 0 ? json_object_get(json_array_get(events, i - 1), "at")
		          : queued,
		    json_object_get(ev, "at"));
	}
	return contact;
}

json_t *
review_followups(struct store *st, int64_t now)
{
	json_t *rows = store_review_followups(st), *row;
	size_t i;

	json_array_foreach (rows, i, row)
		json_object_set_new(row, "age_ms",
		    json_integer(now -
		        json_integer_value(json_object_get(row, "opened_at"))));
	return rows;
}

json_t *
review_gaps(struct store *st, int64_t from, int64_t to)
{
	json_t *shifts = store_review_shifts(st, from, to, 1), *rows, *v;
	size_t n, ngaps, i;
	struct roster_shift *s;
	struct roster_window *w;

	if (shifts == NULL)
		return NULL;
	n = json_array_size(shifts);
	s = xcalloc(n + 1, sizeof(*s));
	w = xcalloc(n + 1, sizeof(*w));
	rows = json_array();
	json_array_foreach (shifts, i, v) {
		s[i].tier = (int)json_integer_value(json_object_get(v, "tier"));
		s[i].start_ms = json_integer_value(json_object_get(v, "start"));
		s[i].end_ms = json_integer_value(json_object_get(v, "end"));
	}
	/* n shifts leave at most n + 1 gaps. */
	ngaps = roster_gaps(s, n, 1, from, to, w, n + 1);
	for (i = 0; i < ngaps && i < n + 1; i++)
		json_array_append_new(rows,
		    json_pack("{s:I, s:I, s:I}", "start",
		        (json_int_t)w[i].start_ms, "end",
		        (json_int_t)w[i].end_ms, "duration_ms",
		        (json_int_t)(w[i].end_ms - w[i].start_ms)));
	free(s);
	free(w);
	json_decref(shifts);
	return rows;
}

/* Whole seconds at or before ms. */
static time_t
review_seconds(int64_t ms)
{
	return (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
}

int64_t
review_hour(void *arg, int64_t ms, int64_t *end_ms)
{
	time_t t = review_seconds(ms);
	struct tm tm;
	int64_t start;

	(void)arg;
	localtime_r(&t, &tm);
	start = ((int64_t)t - tm.tm_min * 60 - tm.tm_sec) * 1000;
	*end_ms = start + REVIEW_HOUR_MS;
	return start;
}

int64_t
review_day(void *arg, int64_t ms, int64_t *end_ms)
{
	time_t t = review_seconds(ms);
	struct tm tm, next;
	int64_t start;

	(void)arg;
	localtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	next = tm;
	next.tm_mday++;
	start = (int64_t)mktime(&tm) * 1000;
	*end_ms = (int64_t)mktime(&next) * 1000;
	/* A zone whose midnight is skipped starts the day at 01:00. */
	if (start > ms)
		start = (int64_t)t * 1000;
	if (*end_ms <= start)
		*end_ms = start + REVIEW_HOUR_MS;
	return start;
}
