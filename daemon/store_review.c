/*
 * store_review.c: the read-only queries behind crisisctl's review
 * commands (log, show, stats, and the shifts oncall and roster gaps use).
 *
 * Results are jansson trees with times as integer ms; crisisctl's fmt.c
 * decides how to print them.  Each call reads from one snapshot, so a
 * daemon writing meanwhile never makes the numbers disagree.
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

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* Longest SQL text a filtered query is built into. */
#define STORE_REVIEW_SQL_MAX_BYTES 1024
/* Most parameters a filtered query binds. */
#define STORE_REVIEW_BINDS_MAX 12
/* Slots of the clinician lookup cache stats keeps (a power of two). */
#define STORE_REVIEW_CACHE_SLOTS 1024

/* What the log and show print of a contact, in order. */
#define STORE_REVIEW_LOG_COLUMNS \
	"id, ref, intake, channel, risk, program, language, state," \
	" clinician, queued_at, assigned_at, closed_at, tier, disposition"

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

/* Columns holding JSON text, handed back parsed. */
static const char *const store_review_json_columns[] = { "needs", "detail" };

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
static void
store_review_sql(struct store_review_query *q, const char *text)
{
	q->len += strlcpy_(q->sql + q->len, text, sizeof(q->sql) - q->len);
	if (q->len >= sizeof(q->sql))
		fatalx("store_review: query longer than %d bytes",
		    STORE_REVIEW_SQL_MAX_BYTES);
}

/* Append a condition with one "?" bound to text or num. */
static void
store_review_cond(struct store_review_query *q, const char *cond,
    const char *text, int64_t num)
{
	if (q->nbinds == STORE_REVIEW_BINDS_MAX)
		fatalx("store_review: more than %d parameters",
		    STORE_REVIEW_BINDS_MAX);
	store_review_sql(q, q->where ? " AND " : " WHERE ");
	store_review_sql(q, cond);
	q->where = true;
	q->binds[q->nbinds].text = text;
	q->binds[q->nbinds].num = num;
	q->nbinds++;
}

/* Append a text condition if the filter value is set. */
static void
store_review_cond_text(struct store_review_query *q, const char *cond,
    const char *value)
{
	if (value != NULL)
		store_review_cond(q, cond, value, 0);
}

/* Append "queued_at in [since, until)" for the bounds that are set. */
static void
store_review_cond_window(struct store_review_query *q, const char *column,
    int64_t since_ms, int64_t until_ms)
{
	char cond[64];

	if (since_ms != 0) {
		snprintf(cond, sizeof(cond), "%s >= ?", column);
		store_review_cond(q, cond, NULL, since_ms);
	}
	if (until_ms != 0) {
		snprintf(cond, sizeof(cond), "%s < ?", column);
		store_review_cond(q, cond, NULL, until_ms);
	}
}

/* Prepare q's SQL and bind its parameters; NULL (error set) on failure. */
static sqlite3_stmt *
store_review_prepare(struct store *st, const struct store_review_query *q)
{
	sqlite3_stmt *s;
	int rc = SQLITE_OK;

	if (sqlite3_prepare_v2(st->db, q->sql, -1, &s, NULL) != SQLITE_OK) {
		store_fail(st, "prepare review query");
		return NULL;
	}
	for (int i = 0; i < q->nbinds && rc == SQLITE_OK; i++) {
		if (q->binds[i].text != NULL)
			rc = store_bind_text(s, i + 1, q->binds[i].text);
		else
			rc = sqlite3_bind_int64(s, i + 1, q->binds[i].num);
	}
	if (rc != SQLITE_OK) {
		store_fail(st, "bind review query");
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/*
 * Step s to the end, calling fn for each row, then finalize it.  fn
 * returning -1 stops with STORE_ERROR.
 */
static int
store_review_each(struct store *st, sqlite3_stmt *s,
    int (*fn)(void *, sqlite3_stmt *), void *arg, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (fn(arg, s) == -1) {
			store_set_error(st, "%s: stopped by its caller", what);
			sqlite3_finalize(s);
			return STORE_ERROR;
		}
	}
	if (rc != SQLITE_DONE)
		store_fail(st, what);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

/* Text as a JSON string, bytes that are not UTF-8 replaced by '?'. */
static json_t *
store_review_string(const char *text)
{
	json_t *v = json_string(text);
	char *copy;

	if (v != NULL)
		return v;
	copy = xstrdup(text);
	for (char *p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	v = json_string(copy);
	free(copy);
	return v;
}

/* Stored JSON text parsed back, or kept as a string if it does not parse. */
static json_t *
store_review_json_text(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	return v != NULL ? v : store_review_string(text);
}

/* Does the column named name hold JSON text? */
static bool
store_review_is_json_column(const char *name)
{
	for (size_t i = 0; i < nitems(store_review_json_columns); i++) {
		if (strcmp(name, store_review_json_columns[i]) == 0)
			return true;
	}
	return false;
}

/* Column i of the current row as a JSON value. */
static json_t *
store_review_column(sqlite3_stmt *s, int i)
{
	const char *text;

	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(s, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(s, i));
	case SQLITE_NULL:
		return json_null();
	default:
		text = (const char *)sqlite3_column_text(s, i);
		if (text == NULL)
			return json_null();
		if (store_review_is_json_column(sqlite3_column_name(s, i)))
			return store_review_json_text(text);
		return store_review_string(text);
	}
}

/* The current row as an object keyed by column name. */
static json_t *
store_review_row(sqlite3_stmt *s)
{
	json_t *row = json_object();
	int n = sqlite3_column_count(s);

	for (int i = 0; i < n; i++)
		json_object_set_new(row, sqlite3_column_name(s, i),
		    store_review_column(s, i));
	return row;
}

/* Row callback: append the row to the array arg. */
static int
store_review_append(void *arg, sqlite3_stmt *s)
{
	json_array_append_new(arg, store_review_row(s));
	return 0;
}

/* Run q and collect its rows as an array; NULL on failure. */
static json_t *
store_review_rows(struct store *st, const struct store_review_query *q,
    const char *what)
{
	sqlite3_stmt *s;
	json_t *rows;

	if ((s = store_review_prepare(st, q)) == NULL)
		return NULL;
	rows = json_array();
	if (store_review_each(st, s, store_review_append, rows, what) !=
	    STORE_OK) {
		json_decref(rows);
		return NULL;
	}
	return rows;
}

/* A caller's row callback, for store_review_row_each. */
struct store_review_each_arg {
	int (*cb)(void *, json_t *);
	void *arg;
};

/* Row callback: hand the row as an object to the caller's callback. */
static int
store_review_row_each(void *arg, sqlite3_stmt *s)
{
	struct store_review_each_arg *ea = arg;
	json_t *row = store_review_row(s);
	int rc = ea->cb(ea->arg, row);

	json_decref(row);
	return rc;
}

/* Contacts matching f, newest first, one at a time. */
int
store_review_log_each(struct store *st, const struct store_log_filter *f,
    int (*cb)(void *arg, json_t *row), void *arg)
{
	struct store_review_each_arg ea = { cb, arg };
	struct store_review_query q = { 0 };
	sqlite3_stmt *s;

	store_review_sql(&q, "SELECT " STORE_REVIEW_LOG_COLUMNS
	    " FROM contacts");
	store_review_cond_window(&q, "queued_at", f->since_ms, f->until_ms);
	store_review_cond_text(&q, "risk = ?", f->risk);
	store_review_cond_text(&q, "state = ?", f->outcome);
	store_review_cond_text(&q, "clinician = ?", f->clinician);
	store_review_cond_text(&q, "program = ?", f->program);
	store_review_cond_text(&q, "channel = ?", f->channel);
	store_review_sql(&q, " ORDER BY queued_at DESC, id DESC"
	    " LIMIT ? OFFSET ?");
	q.binds[q.nbinds++].num = f->limit > 0 ? f->limit : -1;
	q.binds[q.nbinds++].num = f->offset > 0 ? f->offset : 0;
	if ((s = store_review_prepare(st, &q)) == NULL)
		return STORE_ERROR;
	return store_review_each(st, s, store_review_row_each, &ea,
	    "contact log");
}

/* Row callback: keep the row in the array arg. */
static int
store_review_keep(void *arg, json_t *row)
{
	json_array_append(arg, row);
	return 0;
}

/* Contacts matching f, newest first. */
json_t *
store_review_log(struct store *st, const struct store_log_filter *f)
{
	json_t *rows = json_array();

	if (store_review_log_each(st, f, store_review_keep, rows) !=
	    STORE_OK) {
		json_decref(rows);
		return NULL;
	}
	return rows;
}

/* The contact row of show, or NULL with "not found" or the error. */
static json_t *
store_review_contact(struct store *st, const char *id)
{
	struct store_review_query q = { 0 };
	json_t *rows, *row;

	store_review_sql(&q, "SELECT " STORE_REVIEW_LOG_COLUMNS ", caller,"
	    " patient, needs, notes, deadline_at FROM contacts");
	store_review_cond_text(&q, "id = ?", id);
	if ((rows = store_review_rows(st, &q, "show contact")) == NULL)
		return NULL;
	row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	if (row == NULL)
		store_set_error(st, "not found");
	return row;
}

/* One contact with its timeline. */
json_t *
store_review_show(struct store *st, const char *id)
{
	struct store_review_query q = { 0 };
	json_t *contact = NULL, *events;
	bool opened;

	if (store_snapshot_begin(st, &opened) != STORE_OK)
		return NULL;
	if ((contact = store_review_contact(st, id)) == NULL)
		goto done;
	store_review_sql(&q, "SELECT at, event, tier, clinician, detail"
	    " FROM contact_events");
	store_review_cond_text(&q, "contact = ?", id);
	store_review_sql(&q, " ORDER BY seq");
	if ((events = store_review_rows(st, &q, "contact events")) == NULL) {
		json_decref(contact);
		contact = NULL;
		goto done;
	}
	json_object_set_new(contact, "events", events);
done:
	store_snapshot_end(st, opened);
	return contact;
}

/* Shifts overlapping [from, to) on tier (0: any), with names. */
json_t *
store_review_shifts(struct store *st, int64_t from_ms, int64_t to_ms,
    int tier)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q, "SELECT s.clinician AS clinician, c.name AS name,"
	    " s.tier AS tier, s.start_at AS start, s.end_at AS end"
	    " FROM shifts s JOIN clinicians c ON c.id = s.clinician");
	store_review_cond(&q, "s.end_at > ?", NULL, from_ms);
	store_review_cond(&q, "s.start_at < ?", NULL, to_ms);
	if (tier != 0)
		store_review_cond(&q, "s.tier = ?", NULL, tier);
	store_review_sql(&q, " ORDER BY s.tier, s.start_at, s.clinician");
	return store_review_rows(st, &q, "shifts");
}

/* --- stats --- */

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
