/*
 * store_stats.c: crisisctl stats, the crisis-line metrics of a window of
 * contacts.
 *
 * Stats must stay fast at a million contacts.  SQLite's GROUP BY and ORDER
 * BY over that many rows cost a temporary b-tree each (seconds, measured),
 * so stats reads the window's contacts once and the events once, and
 * counts in C: per contact it keeps its time to answer (8 bytes) and
 * nothing else, and each percentile is a linear-time selection in that
 * flat array.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "store_review_int.h"
#include "util.h"

/* Slots of the clinician lookup cache stats keeps (a power of two). */
#define STORE_REVIEW_CACHE_SLOTS 1024

/* The outcomes and risks stats always reports, even at zero. */
enum store_review_outcome {
	STORE_REVIEW_OPEN = 0,
	STORE_REVIEW_ASSIGNED,
	STORE_REVIEW_COMPLETED,
	STORE_REVIEW_OVERFLOW,
	STORE_REVIEW_ABANDONED,
	STORE_REVIEW_OUTCOMES,
};
static const char *const store_review_outcomes[STORE_REVIEW_OUTCOMES] = {
	[STORE_REVIEW_OPEN] = STORE_STATE_OPEN,
	[STORE_REVIEW_ASSIGNED] = STORE_STATE_ASSIGNED,
	[STORE_REVIEW_COMPLETED] = STORE_STATE_COMPLETED,
	[STORE_REVIEW_OVERFLOW] = STORE_STATE_OVERFLOW,
	[STORE_REVIEW_ABANDONED] = STORE_STATE_ABANDONED,
};
static const char *const store_review_risks[] = {
	"imminent", "high", "moderate", "low", "unknown",
};

/* One clinician's counts and times to answer, while stats gathers them. */
struct store_review_clinician {
	char *id;
	json_int_t offers;
	json_int_t declined;
	json_int_t expired;
	struct store_review_times {
		int64_t *v;
		size_t n;
		size_t cap;
	} times;
};

/* What the stats passes gather. */
struct store_review_stats {
	struct store *st;
	json_int_t total;
	json_int_t outcomes[nitems(store_review_outcomes)];
	json_int_t risks[nitems(store_review_risks)];
	json_t *other_outcomes; /* states outside the contract's list, if any */
	json_t *other_risks;
	struct store_review_times times; /* every time to answer */
	struct store_review_clinician *clinicians; /* sorted by id */
	size_t nclinicians;
	size_t clinicians_cap;
	/* By a hash of the id: 1 + an index into clinicians, 0 if none. */
	size_t cache[STORE_REVIEW_CACHE_SLOTS];
};

/* Append one time to a growable array. */
static void
store_review_times_add(struct store_review_times *t, int64_t v)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = v;
}

/*
 * Put the k-th smallest of v[0..n) at v[k], with nothing larger before it
 * and nothing smaller after it (Hoare's selection: linear time on average,
 * where a full sort of a million times would cost several times more).
 */
static void
store_review_select(int64_t *v, size_t n, size_t k)
{
	int64_t lo = 0, hi = (int64_t)n - 1, want = (int64_t)k;

	while (lo < hi) {
		int64_t pivot = v[lo + (hi - lo) / 2], i = lo, j = hi, tmp;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				tmp = v[i];
				v[i++] = v[j];
				v[j--] = tmp;
			}
		}
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			return; /* between the halves: equal to the pivot */
	}
}

/*
 * Quantile q of the values, in whole ms, by linear interpolation between
 * the closest ranks (the usual median; numpy's default percentile); null
 * if there are none.  Reorders the values.
 */
static json_t *
store_review_quantile(struct store_review_times *t, double q)
{
	double pos, frac;
	size_t lo;
	int64_t a, b;

	if (t->n == 0)
		return json_null();
	pos = q * (double)(t->n - 1);
	lo = (size_t)floor(pos);
	frac = pos - (double)lo;
	store_review_select(t->v, t->n, lo);
	a = b = t->v[lo];
	/* The next rank up is the least of what selection left above lo. */
	for (size_t i = lo + 1; i < t->n; i++) {
		if (i == lo + 1 || t->v[i] < b)
			b = t->v[i];
	}
	return json_integer((json_int_t)llround((double)a +
	    (double)(b - a) * frac));
}

/* Index of s in names, or -1. */
static int
store_review_name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* Add n to the integer under key in obj. */
static void
store_review_add(json_t *obj, const char *key, json_int_t n)
{
	json_t *v = json_object_get(obj, key);

	json_object_set_new(obj, key,
	    json_integer((v != NULL ? json_integer_value(v) : 0) + n));
}

/* Count one value: in counts if it is one of names, else in other. */
static void
store_review_tally(json_int_t *counts, const char *const *names, size_t n,
    json_t *other, const char *value)
{
	int i;

	if (value == NULL)
		value = "";
	if ((i = store_review_name_index(names, n, value)) >= 0)
		counts[i]++;
	else
		store_review_add(other, value, 1);
}

/* FNV-1a of a clinician id, for the lookup cache. */
static size_t
store_review_hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (STORE_REVIEW_CACHE_SLOTS - 1);
}

/* Find id in the sorted array, or insert it there; its index. */
static size_t
store_review_clinician_find(struct store_review_stats *rs, const char *id)
{
	size_t lo = 0, hi = rs->nclinicians, mid;
	struct store_review_clinician *c;
	int cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((cmp = strcmp(id, rs->clinicians[mid].id)) == 0)
			return mid;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (rs->nclinicians == rs->clinicians_cap) {
		rs->clinicians_cap = rs->clinicians_cap == 0 ? 16 :
		    rs->clinicians_cap * 2;
		rs->clinicians = xreallocarray(rs->clinicians,
		    rs->clinicians_cap, sizeof(*rs->clinicians));
	}
	c = &rs->clinicians[lo];
	memmove(c + 1, c, (rs->nclinicians - lo) * sizeof(*c));
	rs->nclinicians++;
	memset(c, 0, sizeof(*c));
	c->id = xstrdup(id);
	/* Indexes past lo moved up one: forget them all. */
	memset(rs->cache, 0, sizeof(rs->cache));
	return lo;
}

/*
 * The entry of clinician id, added on first sight.  Millions of events
 * name a few hundred clinicians, so a hash-indexed cache answers most
 * lookups with one comparison instead of a binary search.
 */
static struct store_review_clinician *
store_review_clinician(struct store_review_stats *rs, const char *id)
{
	size_t slot = store_review_hash(id), i = rs->cache[slot];

	if (i == 0 || strcmp(rs->clinicians[i - 1].id, id) != 0) {
		i = store_review_clinician_find(rs, id) + 1;
		rs->cache[slot] = i;
	}
	return &rs->clinicians[i - 1];
}

/* Row callback: a contact's state, risk, clinician and time to answer. */
static int
store_review_contact_row(void *arg, sqlite3_stmt *s)
{
	struct store_review_stats *rs = arg;
	const char *clinician = (const char *)sqlite3_column_text(s, 2);
	int64_t t;

	rs->total++;
	store_review_tally(rs->outcomes, store_review_outcomes,
	    nitems(store_review_outcomes), rs->other_outcomes,
	    (const char *)sqlite3_column_text(s, 0));
	store_review_tally(rs->risks, store_review_risks,
	    nitems(store_review_risks), rs->other_risks,
	    (const char *)sqlite3_column_text(s, 1));
	if (sqlite3_column_type(s, 3) == SQLITE_NULL)
		return 0;
	t = sqlite3_column_int64(s, 3);
	store_review_times_add(&rs->times, t);
	if (clinician != NULL)
		store_review_times_add(
		    &store_review_clinician(rs, clinician)->times, t);
	return 0;
}

/* Row callback: an offered, declined or expired event of a clinician. */
static int
store_review_event_row(void *arg, sqlite3_stmt *s)
{
	struct store_review_stats *rs = arg;
	const char *id = (const char *)sqlite3_column_text(s, 0);
	const char *event = (const char *)sqlite3_column_text(s, 1);
	struct store_review_clinician *c;

	if (id == NULL || event == NULL)
		return 0;
	c = store_review_clinician(rs, id);
	if (strcmp(event, "offered") == 0)
		c->offers++;
	else if (strcmp(event, "declined") == 0)
		c->declined++;
	else if (strcmp(event, "expired") == 0)
		c->expired++;
	return 0;
}

/* Run one stats query, window on c.queued_at, feeding its rows to fn. */
static int
store_review_stats_query(struct store_review_stats *rs, const char *select,
    const char *cond, int64_t since_ms, int64_t until_ms,
    int (*fn)(void *, sqlite3_stmt *))
{
	struct store_review_query q = { 0 };
	sqlite3_stmt *s;

	store_review_sql(&q, select);
	store_review_cond_window(&q, "c.queued_at", since_ms, until_ms);
	if (cond != NULL) {
		store_review_sql(&q, q.where ? " AND " : " WHERE ");
		store_review_sql(&q, cond);
	}
	if ((s = store_review_prepare(rs->st, &q)) == NULL)
		return STORE_ERROR;
	return store_review_each(rs->st, s, fn, rs, "stats");
}

/* Row callback: the number of contacts there are. */
static int
store_review_count_row(void *arg, sqlite3_stmt *s)
{
	*(json_int_t *)arg = sqlite3_column_int64(s, 0);
	return 0;
}

/* Does the window hold every contact there is? */
static int
store_review_window_is_all(struct store_review_stats *rs, bool *all)
{
	struct store_review_query q = { 0 };
	json_int_t count = 0;
	sqlite3_stmt *s;

	store_review_sql(&q, "SELECT count(*) FROM contacts");
	if ((s = store_review_prepare(rs->st, &q)) == NULL ||
	    store_review_each(rs->st, s, store_review_count_row, &count,
	    "stats") != STORE_OK)
		return STORE_ERROR;
	*all = count == rs->total;
	return STORE_OK;
}

/*
 * Pass 2: offers, declines and expiries by clinician.  When the window
 * holds every contact, the events are scanned alone (the cheapest way
 * through millions of them); otherwise they are reached through the
 * window's contacts and the events' (contact, seq) index.  The event
 * names are told apart in C: an IN list costs SQLite a probe of a
 * temporary index per row, more than the extra rows cost here.
 */
static int
store_review_stats_events(struct store_review_stats *rs, int64_t since_ms,
    int64_t until_ms)
{
	static const char events[] = "e.clinician IS NOT NULL";
	bool all = true;

	if ((since_ms != 0 || until_ms != 0) &&
	    store_review_window_is_all(rs, &all) != STORE_OK)
		return STORE_ERROR;
	if (all)
		return store_review_stats_query(rs, "SELECT e.clinician, e.event"
		    " FROM contact_events e", events, 0, 0,
		    store_review_event_row);
	return store_review_stats_query(rs, "SELECT e.clinician, e.event"
	    " FROM contacts c JOIN contact_events e ON e.contact = c.id",
	    events, since_ms, until_ms, store_review_event_row);
}

/*
 * Both passes, in one snapshot.  Pass 1 reads each contact of the window
 * once, keeping only its counts and its time to answer (8 bytes), so the
 * percentiles are a sort of a flat array rather than SQLite sorting rows.
 */
static int
store_review_stats_run(struct store_review_stats *rs, int64_t since_ms,
    int64_t until_ms)
{
	if (store_review_stats_query(rs, "SELECT c.state, c.risk, c.clinician,"
	    " c.assigned_at - c.queued_at FROM contacts c", NULL, since_ms,
	    until_ms, store_review_contact_row) != STORE_OK)
		return STORE_ERROR;
	return store_review_stats_events(rs, since_ms, until_ms);
}

/* A count per name, then any other values seen. */
static json_t *
store_review_counts(const json_int_t *counts, const char *const *names,
    size_t n, json_t *other)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(obj, names[i], json_integer(counts[i]));
	json_object_update(obj, other);
	return obj;
}

/* The per-clinician array, sorted by clinician id. */
static json_t *
store_review_clinician_array(struct store_review_stats *rs)
{
	json_t *out = json_array();

	for (size_t i = 0; i < rs->nclinicians; i++) {
		struct store_review_clinician *c = &rs->clinicians[i];

		json_array_append_new(out, json_pack(
		    "{s:s, s:I, s:I, s:I, s:I, s:o}", "clinician", c->id,
		    "offers", c->offers, "accepted", (json_int_t)c->times.n,
		    "declined", c->declined, "expired", c->expired,
		    "median_time_to_answer_ms",
		    store_review_quantile(&c->times, 0.5)));
	}
	return out;
}

/* The stats object of CONTRACT §6 from what the passes gathered. */
static json_t *
store_review_stats_result(struct store_review_stats *rs)
{
	json_int_t answered = (json_int_t)rs->times.n;

	return json_pack("{s:I, s:I, s:f, s:I, s:I, s:{s:o, s:o}, s:o, s:o,"
	    " s:o}",
	    "total", rs->total, "answered", answered,
	    "answer_rate", rs->total > 0 ?
	    (double)answered / (double)rs->total : 0.0,
	    "overflows", rs->outcomes[STORE_REVIEW_OVERFLOW],
	    "abandoned", rs->outcomes[STORE_REVIEW_ABANDONED],
	    "time_to_answer_ms",
	    "median", store_review_quantile(&rs->times, 0.5),
	    "p90", store_review_quantile(&rs->times, 0.9),
	    "by_outcome", store_review_counts(rs->outcomes,
	    store_review_outcomes, nitems(store_review_outcomes),
	    rs->other_outcomes),
	    "by_risk", store_review_counts(rs->risks, store_review_risks,
	    nitems(store_review_risks), rs->other_risks),
	    "per_clinician", store_review_clinician_array(rs));
}

/* CONTRACT §6 stats over contacts queued in [since, until). */
json_t *
store_review_stats(struct store *st, int64_t since_ms, int64_t until_ms)
{
	struct store_review_stats rs = { .st = st };
	json_t *result = NULL;
	bool opened;

	rs.other_outcomes = json_object();
	rs.other_risks = json_object();
	if (store_snapshot_begin(st, &opened) == STORE_OK) {
		if (store_review_stats_run(&rs, since_ms, until_ms) == STORE_OK)
			result = store_review_stats_result(&rs);
		store_snapshot_end(st, opened);
	}
	for (size_t i = 0; i < rs.nclinicians; i++) {
		free(rs.clinicians[i].id);
		free(rs.clinicians[i].times.v);
	}
	free(rs.clinicians);
	free(rs.times.v);
	json_decref(rs.other_outcomes);
	json_decref(rs.other_risks);
	return result;
}
