/*
 * store_stats.c: crisisctl stats, the crisis-line metrics of the contacts
 * queued in a window, in total and grouped (--by).
 *
 * Stats must stay under a second at a million contacts.  SQLite's GROUP
 * BY and ORDER BY over that many rows cost a temporary b-tree each, and
 * the contacts' rows (routes, notes) and their millions of events are too
 * much to read, so stats makes two reads:
 *
 *   1. every contact of the window once, from the contacts_stats index
 *      alone (it holds every column used here, in queued order), tallied
 *      in C into the totals and the contact's group;
 *   2. per clinician and event kind, one count(*) over a range of the
 *      contact_events_clinician index (event, clinician, at).
 *
 * Which tier answered and the answering clinician's time from offer to
 * accept are kept on the contact by a trigger (store_schema.h), so no
 * event is read per contact.  Per group and clinician only the times to
 * answer and to accept are kept (8 bytes each), and each percentile is a
 * linear-time selection in such a flat array.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store.h"
#include "store_int.h"
#include "store_review_int.h"
#include "tally.h"
#include "util.h"

/* Most periods --by hour|day lists, empty ones included. */
#define STORE_STATS_PERIODS_MAX 100000
/* Tiers counted apart in answered_by_tier (shifts allow 1 to 31). */
#define STORE_STATS_TIERS_MAX 31

/* The outcomes and risks stats always reports, even at zero. */
enum store_stats_outcome {
	STORE_STATS_OPEN = 0,
	STORE_STATS_ASSIGNED,
	STORE_STATS_COMPLETED,
	STORE_STATS_OVERFLOW,
	STORE_STATS_ABANDONED,
	STORE_STATS_OUTCOMES,
};
static const char *const store_stats_outcomes[STORE_STATS_OUTCOMES] = {
	[STORE_STATS_OPEN] = STORE_STATE_OPEN,
	[STORE_STATS_ASSIGNED] = STORE_STATE_ASSIGNED,
	[STORE_STATS_COMPLETED] = STORE_STATE_COMPLETED,
	[STORE_STATS_OVERFLOW] = STORE_STATE_OVERFLOW,
	[STORE_STATS_ABANDONED] = STORE_STATE_ABANDONED,
};
static const char *const store_stats_risks[] = {
	"imminent",
	"high",
	"moderate",
	"low",
	"unknown",
};

/* The events counted per clinician, and the key each is reported under. */
static const struct {
	const char *event;
	const char *key;
} store_stats_events[] = {
	{ "offered", "offers" },
	{ "assigned", "accepted" },
	{ "declined", "declined" },
	{ "expired", "expired" },
};
_Static_assert(nitems(store_stats_events) == TALLY_EVENTS,
    "a tally counts each kind of clinician event");

/* What each --by is called, and the key its rows name the group with. */
static const struct {
	const char *name;
	const char *key;
} store_stats_by[] = {
	[STORE_STATS_BY_NONE] = { NULL, NULL },
	[STORE_STATS_BY_HOUR] = { "hour", "start" },
	[STORE_STATS_BY_DAY] = { "day", "start" },
	[STORE_STATS_BY_CLINICIAN] = { "clinician", "clinician" },
	[STORE_STATS_BY_TIER] = { "tier", "tier" },
	[STORE_STATS_BY_PROGRAM] = { "program", "program" },
	[STORE_STATS_BY_RISK] = { "risk", "risk" },
};

/* One contact as read from the index. */
struct store_stats_contact {
	const char *state;
	const char *risk;
	const char *clinician;
	const char *program;
	int64_t queued_at;
	int64_t answer_ms; /* if answered */
	int64_t closed_at; /* if closed */
	int64_t tier; /* if has_tier */
	int64_t accept_ms; /* if has_accept */
	int64_t talk_ms; /* if has_talk: assigned to the call's end */
	int outcome; /* index into store_stats_outcomes, or -1 */
	bool answered;
	bool closed;
	bool has_tier;
	bool has_accept;
	bool has_talk;
};

/* Everything one stats call gathers. */
struct store_stats {
	struct store *st;
	const struct store_stats_query *q;
	struct tally all;
	json_int_t outcomes[STORE_STATS_OUTCOMES];
	json_int_t risks[nitems(store_stats_risks)];
	json_t *other_outcomes; /* states outside the contract's list, if any */
	json_t *other_risks;
	/* Answered contacts by the tier that answered; the last: unknown. */
	json_int_t tiers[STORE_STATS_TIERS_MAX + 2];
	struct tally_map clinicians;
	struct tally_map groups;
	int64_t period_start; /* the period last looked up, and its end */
	int64_t period_end;
};

/* part / whole, or null when there is nothing to divide by (no data). */
static json_t *
store_stats_rate(json_int_t part, json_int_t whole)
{
	return whole > 0 ? json_real((double)part / (double)whole)
	                 : json_null();
}

/* Index of s in names, or -1. */
static int
store_stats_name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s != NULL && i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* Add n to the integer under key in obj. */
static void
store_stats_add(json_t *obj, const char *key, json_int_t n)
{
	json_t *v = json_object_get(obj, key);

	json_object_set_new(obj, key,
	    json_integer((v != NULL ? json_integer_value(v) : 0) + n));
}

/* --- pass 1: contacts --- */

/* Count one contact into a tally. */
static void
store_stats_tally_add(struct tally *t, const struct store_stats_contact *c,
    const struct store_stats_query *q)
{
	t->total++;
	if (c->answered) {
		t->answered++;
		tally_times_add(&t->answer, c->answer_ms);
		if (c->answer_ms <= q->service_level_ms)
			t->within++;
		if (c->has_talk)
			tally_times_add(&t->talk, c->talk_ms);
	} else if (c->outcome == STORE_STATS_OPEN)
		t->open++;
	if (c->outcome == STORE_STATS_ABANDONED) {
		t->abandoned++;
		if (c->closed &&
		    c->closed_at - c->queued_at < q->short_abandon_ms)
			t->short_abandons++;
	} else if (c->outcome == STORE_STATS_OVERFLOW)
		t->overflows++;
}

/* The period holding ms, through the caller's calendar; one call per period. */
static int64_t
store_stats_period(struct store_stats *rs, int64_t ms)
{
	int64_t end = 0;

	if (rs->period_end > rs->period_start && ms >= rs->period_start &&
	    ms < rs->period_end)
		return rs->period_start;
	rs->period_start = rs->q->period(rs->q->period_arg, ms, &end);
	rs->period_end = end;
	return rs->period_start;
}

/* The group a contact falls in, for q->by. */
static struct tally_entry *
store_stats_group(struct store_stats *rs, const struct store_stats_contact *c)
{
	struct tally_map *m = &rs->groups;

	switch (rs->q->by) {
	case STORE_STATS_BY_HOUR:
	case STORE_STATS_BY_DAY:
		return tally_map_num(m, store_stats_period(rs, c->queued_at));
	case STORE_STATS_BY_CLINICIAN:
		return tally_map_get(m, c->clinician, 0);
	case STORE_STATS_BY_TIER:
		return c->has_tier ? tally_map_num(m, c->tier)
		                   : tally_map_get(m, NULL, 0);
	case STORE_STATS_BY_PROGRAM:
		return tally_map_get(m, c->program, 0);
	case STORE_STATS_BY_RISK:
		return tally_map_get(m, c->risk, 0);
	default:
		return NULL;
	}
}

/* Count a value: in counts if it is one of names, else in other. */
static void
store_stats_tally_name(json_int_t *counts, const char *const *names, size_t n,
    json_t *other, const char *value)
{
	int i = store_stats_name_index(names, n, value);

	if (i >= 0)
		counts[i]++;
	else
		store_stats_add(other, value != NULL ? value : "", 1);
}

/* The totals' own counts: outcome, risk and the tier that answered. */
static void
store_stats_count_totals(struct store_stats *rs,
    const struct store_stats_contact *c)
{
	if (c->outcome >= 0)
		rs->outcomes[c->outcome]++;
	else
		store_stats_add(rs->other_outcomes,
		    c->state != NULL ? c->state : "", 1);
	store_stats_tally_name(rs->risks, store_stats_risks,
	    nitems(store_stats_risks), rs->other_risks, c->risk);
	if (!c->answered)
		return;
	if (c->has_tier && c->tier >= 0 && c->tier <= STORE_STATS_TIERS_MAX)
		rs->tiers[c->tier]++;
	else
		rs->tiers[STORE_STATS_TIERS_MAX + 1]++;
}

/* Column i as an int64 into *v; false if it is NULL. */
static bool
store_stats_column_int(struct db_stmt *s, int i, int64_t *v)
{
	if (db_column_type(s, i) == DB_NULL)
		return false;
	*v = db_column_int64(s, i);
	return true;
}

/* Row callback: one contact into the totals, its group and its clinician. */
static int
store_stats_contact_row(void *arg, struct db_stmt *s)
{
	struct store_stats *rs = arg;
	struct store_stats_contact c = { 0 };
	struct tally_entry *e;
	int64_t assigned_at, ended_at;

	c.state = (const char *)db_column_text(s, 0);
	c.risk = (const char *)db_column_text(s, 1);
	c.clinician = (const char *)db_column_text(s, 2);
	c.queued_at = db_column_int64(s, 3);
	c.answered = store_stats_column_int(s, 4, &assigned_at);
	c.answer_ms = c.answered ? assigned_at - c.queued_at : 0;
	c.closed = store_stats_column_int(s, 5, &c.closed_at);
	c.has_tier = store_stats_column_int(s, 6, &c.tier);
	c.has_accept = store_stats_column_int(s, 7, &c.accept_ms);
	c.program = (const char *)db_column_text(s, 8);
	c.has_talk = c.answered && store_stats_column_int(s, 9, &ended_at) &&
	    ended_at >= assigned_at;
	c.talk_ms = c.has_talk ? ended_at - assigned_at : 0;
	c.outcome = store_stats_name_index(store_stats_outcomes,
	    STORE_STATS_OUTCOMES, c.state);
	store_stats_tally_add(&rs->all, &c, rs->q);
	store_stats_count_totals(rs, &c);
	if ((e = store_stats_group(rs, &c)) != NULL)
		store_stats_tally_add(&e->t, &c, rs->q);
	if (c.answered && c.clinician != NULL) {
		e = tally_map_get(&rs->clinicians, c.clinician, 0);
		tally_times_add(&e->t.answer, c.answer_ms);
		if (c.has_accept)
			tally_times_add(&e->t.accept, c.accept_ms);
		if (c.has_talk)
			tally_times_add(&e->t.talk, c.talk_ms);
	}
	return 0;
}

/* Pass 1: every contact queued in the window, from contacts_stats alone. */
static int
store_stats_contacts(struct store_stats *rs)
{
	struct store_review_query q = { 0 };
	struct db_stmt *s;

	store_review_sql(&q,
	    "SELECT state, risk, clinician, queued_at,"
	    " assigned_at, closed_at, answered_tier, accept_ms, program,"
	    " ended_at FROM contacts INDEXED BY contacts_stats");
	store_review_cond_window(&q, "queued_at", rs->q->since_ms,
	    rs->q->until_ms);
	if ((s = store_review_prepare(rs->st, &q)) == NULL)
		return STORE_ERROR;
	return store_review_each(rs->st, s, store_stats_contact_row, rs,
	    "stats");
}

/* --- pass 2: each clinician's offers --- */

/* Row callback: a clinician's count of one kind of event. */
static int
store_stats_event_row(void *arg, struct db_stmt *s)
{
	struct store_stats *rs = arg;
	const char *id = (const char *)db_column_text(s, 0);
	int kind = db_column_int(s, 1);
	json_int_t count = db_column_int64(s, 2);

	if (id == NULL || count == 0 || kind < 0 || kind >= (int)TALLY_EVENTS)
		return 0;
	tally_map_get(&rs->clinicians, id, 0)->t.events[kind] = count;
	return 0;
}

/*
 * Pass 2: for each clinician and each kind of event, a count(*) over one
 * range of contact_events_clinician (event, clinician, at), so the window
 * narrows what is read, and nothing but that index is.  The counts are of
 * events in the window, by their own time.
 */
static int
store_stats_events_pass(struct store_stats *rs)
{
	struct store_review_query q = { 0 };
	char cond[128];
	struct db_stmt *s;

	store_review_sql(&q,
	    "SELECT k.id, v.kind, (SELECT count(*)"
	    " FROM contact_events e INDEXED BY contact_events_clinician"
	    " WHERE e.event = v.event AND e.clinician = k.id");
	q.where = true;
	if (rs->q->since_ms != STORE_UNBOUNDED)
		store_review_cond(&q, "e.at >= ?", NULL, rs->q->since_ms);
	if (rs->q->until_ms != STORE_UNBOUNDED)
		store_review_cond(&q, "e.at < ?", NULL, rs->q->until_ms);
	store_review_sql(&q, ") FROM clinicians k, (");
	for (size_t i = 0; i < TALLY_EVENTS; i++) {
		snprintf(cond, sizeof(cond),
		    "%sSELECT %zu AS kind, '%s' AS event",
		    i > 0 ? " UNION ALL " : "", i, store_stats_events[i].event);
		store_review_sql(&q, cond);
	}
	store_review_sql(&q, ") v");
	if ((s = store_review_prepare(rs->st, &q)) == NULL)
		return STORE_ERROR;
	return store_review_each(rs->st, s, store_stats_event_row, rs, "stats");
}

/* --- the result --- */

/* A count per name, then any other values seen. */
static json_t *
store_stats_counts(const json_int_t *counts, const char *const *names, size_t n,
    json_t *other)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(obj, names[i], json_integer(counts[i]));
	json_object_update(obj, other);
	return obj;
}

/* The answered contacts by tier, lowest first, "unknown" last. */
static json_t *
store_stats_tier_counts(const json_int_t *tiers)
{
	char name[TALLY_NUM_KEY_BYTES];
	json_t *out = json_object();

	for (int i = 0; i <= STORE_STATS_TIERS_MAX + 1; i++) {
		if (tiers[i] == 0)
			continue;
		if (i <= STORE_STATS_TIERS_MAX)
			snprintf(name, sizeof(name), "%d", i);
		else
			strlcpy_(name, "unknown", sizeof(name));
		json_object_set_new(out, name, json_integer(tiers[i]));
	}
	return out;
}

/* Service level: answered in time, of those whose outcome is known. */
static json_t *
store_stats_service_level(const struct tally *t)
{
	return store_stats_rate(t->within,
	    t->total - t->open - t->short_abandons);
}

/* Abandonment rate, short abandons left out of both sides. */
static json_t *
store_stats_abandon_rate(const struct tally *t)
{
	return store_stats_rate(t->abandoned - t->short_abandons,
	    t->total - t->short_abandons);
}

/* One clinician's row of per_clinician. */
static json_t *
store_stats_clinician_row(struct tally_entry *e)
{
	json_t *row = json_pack("{s:s}", "clinician", e->key);

	for (size_t i = 0; i < TALLY_EVENTS; i++)
		json_object_set_new(row, store_stats_events[i].key,
		    json_integer(e->t.events[i]));
	json_object_set_new(row, "median_time_to_answer_ms",
	    tally_quantile(&e->t.answer, 0.5));
	json_object_set_new(row, "average_time_to_accept_ms",
	    tally_mean(&e->t.accept));
	json_object_set_new(row, "median_time_to_accept_ms",
	    tally_quantile(&e->t.accept, 0.5));
	json_object_set_new(row, "median_talk_time_ms",
	    tally_quantile(&e->t.talk, 0.5));
	return row;
}

/* Clinicians with anything to show, by id. */
static json_t *
store_stats_clinicians(struct store_stats *rs)
{
	json_t *out = json_array();

	for (size_t i = 0; i < rs->clinicians.n; i++) {
		struct tally_entry *e = rs->clinicians.v[i];
		json_int_t n = (json_int_t)e->t.answer.n;

		for (size_t k = 0; k < TALLY_EVENTS; k++)
			n += e->t.events[k];
		if (n > 0)
			json_array_append_new(out,
			    store_stats_clinician_row(e));
	}
	return out;
}

/* One group's row: its key, then the contact metrics. */
static json_t *
store_stats_group_row(struct store_stats *rs, struct tally_entry *e)
{
	enum store_stats_by by = rs->q->by;
	struct tally *t = &e->t;
	json_t *key;

	if (e->key == NULL)
		key = json_null();
	else if (by == STORE_STATS_BY_HOUR || by == STORE_STATS_BY_DAY ||
	    by == STORE_STATS_BY_TIER)
		key = json_integer(e->num);
	else
		key = json_string(e->key);
	json_t *row;

	row = json_pack("{s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I,"
	                " s:o, s:I, s:o}",
	    store_stats_by[by].key, key, "total", t->total, "answered",
	    t->answered, "answer_rate", store_stats_rate(t->answered, t->total),
	    "service_level", store_stats_service_level(t), "tta_average_ms",
	    tally_mean(&t->answer), "tta_median_ms",
	    tally_quantile(&t->answer, 0.5), "tta_p90_ms",
	    tally_quantile(&t->answer, 0.9), "abandoned", t->abandoned,
	    "short_abandons", t->short_abandons, "abandon_rate",
	    store_stats_abandon_rate(t), "overflows", t->overflows,
	    "overflow_rate", store_stats_rate(t->overflows, t->total));
	json_object_set_new(row, "talk_median_ms",
	    tally_quantile(&t->talk, 0.5));
	return row;
}

/* Risk groups by severity, unknown values after the known ones. */
static int
store_stats_risk_cmp(const void *a, const void *b)
{
	const struct tally_entry *x = *(const void *const *)a;
	const struct tally_entry *y = *(const void *const *)b;
	int i = store_stats_name_index(store_stats_risks,
	    nitems(store_stats_risks), x->key);
	int j = store_stats_name_index(store_stats_risks,
	    nitems(store_stats_risks), y->key);

	if (i < 0)
		i = (int)nitems(store_stats_risks);
	if (j < 0)
		j = (int)nitems(store_stats_risks);
	return i != j ? (i > j) - (i < j) : strcmp(x->key, y->key);
}

/*
 * Hours and days list every period from the first to the last, empty
 * ones too (a quiet night is worth seeing): from the window's bounds when
 * given, else from the first and last contact.
 */
static void
store_stats_fill_periods(struct store_stats *rs)
{
	const struct store_stats_query *q = rs->q;
	int64_t from, to, end = 0;
	size_t count = 0;

	if (q->since_ms != STORE_UNBOUNDED)
		from = q->since_ms;
	else if (rs->groups.n > 0)
		from = rs->groups.v[0]->num;
	else
		return;
	if (q->until_ms != STORE_UNBOUNDED)
		to = q->until_ms;
	else if (rs->groups.n > 0)
		to = rs->groups.v[rs->groups.n - 1]->num + 1;
	else
		return;
	for (int64_t t = q->period(q->period_arg, from, &end);
	     t < to && end > t && count < STORE_STATS_PERIODS_MAX; count++) {
		tally_map_num(&rs->groups, t);
		t = q->period(q->period_arg, end, &end);
	}
}

/* The groups' rows, in the order of their key, the group without one last. */
static json_t *
store_stats_groups(struct store_stats *rs)
{
	json_t *out = json_array();

	if (rs->q->by == STORE_STATS_BY_HOUR || rs->q->by == STORE_STATS_BY_DAY)
		store_stats_fill_periods(rs);
	if (rs->q->by == STORE_STATS_BY_RISK && rs->groups.n > 1)
		qsort(rs->groups.v, rs->groups.n, sizeof(*rs->groups.v),
		    store_stats_risk_cmp);
	for (size_t i = 0; i < rs->groups.n; i++)
		json_array_append_new(out,
		    store_stats_group_row(rs, rs->groups.v[i]));
	if (rs->groups.none != NULL)
		json_array_append_new(out,
		    store_stats_group_row(rs, rs->groups.none));
	return out;
}

/* The window as given, null for a missing bound. */
static json_t *
store_stats_window(const struct store_stats_query *q)
{
	return json_pack("{s:o, s:o}", "start",
	    q->since_ms != STORE_UNBOUNDED ? json_integer(q->since_ms)
	                                   : json_null(),
	    "end",
	    q->until_ms != STORE_UNBOUNDED ? json_integer(q->until_ms)
	                                   : json_null());
}

/* The stats object from what the passes gathered. */
static json_t *
store_stats_result(struct store_stats *rs)
{
	struct tally *t = &rs->all;
	const struct store_stats_query *q = rs->q;
	json_t *out;

	out = json_pack("{s:o, s:I, s:I, s:o, s:I, s:I, s:o,"
	                " s:{s:o, s:o, s:o}, s:I, s:I, s:I, s:o, s:I, s:o}",
	    "window", store_stats_window(q), "total", t->total, "answered",
	    t->answered, "answer_rate", store_stats_rate(t->answered, t->total),
	    "service_level_ms", (json_int_t)q->service_level_ms,
	    "answered_within_service_level", t->within, "service_level",
	    store_stats_service_level(t), "time_to_answer_ms", "average",
	    tally_mean(&t->answer), "median", tally_quantile(&t->answer, 0.5),
	    "p90", tally_quantile(&t->answer, 0.9), "abandoned", t->abandoned,
	    "short_abandon_ms", (json_int_t)q->short_abandon_ms,
	    "short_abandons", t->short_abandons, "abandon_rate",
	    store_stats_abandon_rate(t), "overflows", t->overflows,
	    "overflow_rate", store_stats_rate(t->overflows, t->total));
	json_object_set_new(out, "talk_time_ms",
	    json_pack("{s:I, s:o, s:o, s:o}", "calls", (json_int_t)t->talk.n,
	        "average", tally_mean(&t->talk), "median",
	        tally_quantile(&t->talk, 0.5), "p90",
	        tally_quantile(&t->talk, 0.9)));
	json_object_set_new(out, "by_outcome",
	    store_stats_counts(rs->outcomes, store_stats_outcomes,
	        STORE_STATS_OUTCOMES, rs->other_outcomes));
	json_object_set_new(out, "by_risk",
	    store_stats_counts(rs->risks, store_stats_risks,
	        nitems(store_stats_risks), rs->other_risks));
	json_object_set_new(out, "answered_by_tier",
	    store_stats_tier_counts(rs->tiers));
	json_object_set_new(out, "per_clinician", store_stats_clinicians(rs));
	if (q->by != STORE_STATS_BY_NONE) {
		json_object_set_new(out, "by",
		    json_string(store_stats_by[q->by].name));
		json_object_set_new(out, "groups", store_stats_groups(rs));
	}
	return out;
}

/* The metrics of the contacts queued in the window, grouped by q->by. */
json_t *
store_review_stats_query(struct store *st, const struct store_stats_query *q)
{
	struct store_stats rs = { .st = st, .q = q };
	json_t *result = NULL;
	bool opened;

	if ((q->by == STORE_STATS_BY_HOUR || q->by == STORE_STATS_BY_DAY) &&
	    q->period == NULL) {
		store_set_error(st, "stats by hour or day needs a calendar");
		return NULL;
	}
	rs.other_outcomes = json_object();
	rs.other_risks = json_object();
	if (store_snapshot_begin(st, &opened) == STORE_OK) {
		if (store_stats_contacts(&rs) == STORE_OK &&
		    store_stats_events_pass(&rs) == STORE_OK)
			result = store_stats_result(&rs);
		store_snapshot_end(st, opened);
	}
	tally_free(&rs.all);
	tally_map_free(&rs.clinicians);
	tally_map_free(&rs.groups);
	json_decref(rs.other_outcomes);
	json_decref(rs.other_risks);
	return result;
}

/* CONTRACT §6 stats over [since, until) with the default thresholds. */
json_t *
store_review_stats(struct store *st, int64_t since_ms, int64_t until_ms)
{
	struct store_stats_query q = {
		.since_ms = since_ms,
		.until_ms = until_ms,
		.service_level_ms = STORE_STATS_SERVICE_LEVEL_MS,
		.short_abandon_ms = STORE_STATS_SHORT_ABANDON_MS,
	};

	return store_review_stats_query(st, &q);
}
