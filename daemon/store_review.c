/*
 * store_review.c: the read-only queries behind crisisctl's review
 * commands (log, show, and the shifts oncall and roster gaps use), and the
 * query builder and row conversion the other review files share
 * (store_review_int.h).  Stats live in store_stats.c, the audit and
 * disclosure listings in store_audit.c, the follow-ups in
 * store_followup.c.
 *
 * Results are jansson trees with times as integer ms; crisisctl's fmt.c
 * decides how to print them.  Each call reads from one snapshot, so a
 * daemon writing meanwhile never makes the numbers disagree.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_review_int.h"
#include "util.h"

/* What the log and show print of a contact, in order. */
#define STORE_REVIEW_LOG_COLUMNS                                               \
	"id, ref, intake, channel, risk, program, language, state,"            \
	" clinician, queued_at, assigned_at, closed_at,"                       \
	" coalesce(answered_tier, tier) AS tier, disposition"

/* Columns holding JSON text, handed back parsed. */
static const char *const store_review_json_columns[] = { "needs", "detail" };

/* Append SQL text to q. */
void
store_review_sql(struct store_review_query *q, const char *text)
{
	q->len += strlcpy_(q->sql + q->len, text, sizeof(q->sql) - q->len);
	if (q->len >= sizeof(q->sql))
		fatalx("store_review: query longer than %d bytes",
		    STORE_REVIEW_SQL_MAX_BYTES);
}

/* Bind one more parameter, after a "?" already in the SQL. */
void
store_review_bind(struct store_review_query *q, const char *text, int64_t num)
{
	if (q->nbinds == STORE_REVIEW_BINDS_MAX)
		fatalx("store_review: more than %d parameters",
		    STORE_REVIEW_BINDS_MAX);
	q->binds[q->nbinds].text = text;
	q->binds[q->nbinds].num = num;
	q->nbinds++;
}

/* Append a condition with one "?" bound to text or num. */
void
store_review_cond(struct store_review_query *q, const char *cond,
    const char *text, int64_t num)
{
	store_review_sql(q, q->where ? " AND " : " WHERE ");
	store_review_sql(q, cond);
	q->where = true;
	store_review_bind(q, text, num);
}

/* Append a text condition if the filter value is set. */
void
store_review_cond_text(struct store_review_query *q, const char *cond,
    const char *value)
{
	if (value != NULL)
		store_review_cond(q, cond, value, 0);
}

/* Append "column in [since, until)" for the bounds not STORE_UNBOUNDED. */
void
store_review_cond_window(struct store_review_query *q, const char *column,
    int64_t since_ms, int64_t until_ms)
{
	char cond[64];

	if (since_ms != STORE_UNBOUNDED) {
		snprintf(cond, sizeof(cond), "%s >= ?", column);
		store_review_cond(q, cond, NULL, since_ms);
	}
	if (until_ms != STORE_UNBOUNDED) {
		snprintf(cond, sizeof(cond), "%s < ?", column);
		store_review_cond(q, cond, NULL, until_ms);
	}
}

/* Prepare q's SQL and bind its parameters; NULL (error set) on failure. */
struct db_stmt *
store_review_prepare(struct store *st, const struct store_review_query *q)
{
	struct db_stmt *s;
	int rc = DB_OK;

	if (db_prepare(st->db, q->sql, false, &s) != DB_OK) {
		store_fail(st, "prepare review query");
		return NULL;
	}
	for (int i = 0; i < q->nbinds && rc == DB_OK; i++) {
		if (q->binds[i].text != NULL)
			rc = store_bind_text(s, i + 1, q->binds[i].text);
		else
			rc = db_bind_int64(s, i + 1, q->binds[i].num);
	}
	if (rc != DB_OK) {
		store_fail(st, "bind review query");
		db_finalize(s);
		return NULL;
	}
	return s;
}

/*
 * Step s to the end, calling fn for each row, then finalize it.  fn
 * returning -1 stops with STORE_ERROR.
 */
int
store_review_each(struct store *st, struct db_stmt *s,
    int (*fn)(void *, struct db_stmt *), void *arg, const char *what)
{
	int rc;

	while ((rc = db_step(s)) == DB_ROW) {
		if (fn(arg, s) == -1) {
			store_set_error(st, "%s: stopped by its caller", what);
			db_finalize(s);
			return STORE_ERROR;
		}
	}
	if (rc != DB_DONE)
		store_fail(st, what);
	db_finalize(s);
	return rc == DB_DONE ? STORE_OK : STORE_ERROR;
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
store_review_column(struct db_stmt *s, int i)
{
	const char *text;

	switch (db_column_type(s, i)) {
	case DB_INTEGER:
		return json_integer(db_column_int64(s, i));
	case DB_FLOAT:
		return json_real(db_column_double(s, i));
	case DB_NULL:
		return json_null();
	default:
		text = (const char *)db_column_text(s, i);
		if (text == NULL)
			return json_null();
		if (store_review_is_json_column(db_column_name(s, i)))
			return store_review_json_text(text);
		return store_review_string(text);
	}
}

/* The current row as an object keyed by column name. */
json_t *
store_review_row(struct db_stmt *s)
{
	json_t *row = json_object();
	int n = db_column_count(s);

	for (int i = 0; i < n; i++)
		json_object_set_new(row, db_column_name(s, i),
		    store_review_column(s, i));
	return row;
}

/* Row callback: append the row to the array arg. */
static int
store_review_append(void *arg, struct db_stmt *s)
{
	json_array_append_new(arg, store_review_row(s));
	return 0;
}

/* Run q and collect its rows as an array; NULL on failure. */
json_t *
store_review_rows(struct store *st, const struct store_review_query *q,
    const char *what)
{
	struct db_stmt *s;
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
store_review_row_each(void *arg, struct db_stmt *s)
{
	struct store_review_each_arg *ea = arg;
	json_t *row = store_review_row(s);
	int rc = ea->cb(ea->arg, row);

	json_decref(row);
	return rc;
}

/*
 * The log's filters, each with the values that are usually rare.  SQLite
 * walks one index for a filtered log and checks the other filters on the
 * rows it finds; without statistics it guesses which index, and a common
 * value (channel voice, outcome completed) can make it read most of the
 * table to fill one page.  So the log picks the index itself, by rule of
 * thumb: a clinician's contacts are few, a rare value is better than a
 * program, a program better than a common value; the other filters are
 * written as "column || '' = ?", which no index serves (on either store).
 */
static const struct store_review_filter {
	const char *column;
	const char *const *rare; /* NULL: every value counts as rare */
	int rank_rare; /* lower: walked first */
	int rank_common;
} store_review_filters[] = {
	{ "clinician", NULL, 0, 0 },
	{ "risk", (const char *const[]){ "imminent", "high", NULL }, 1, 4 },
	{ "state",
	    (const char *const[]){ STORE_STATE_OPEN, STORE_STATE_ASSIGNED,
	        STORE_STATE_OVERFLOW, STORE_STATE_ABANDONED, NULL },
	    1, 5 },
	{ "program", NULL, 2, 2 },
	{ "channel", (const char *const[]){ "text", "chat", NULL }, 3, 5 },
};

/* How early the filter's index should be walked for value. */
static int
store_review_filter_rank(const struct store_review_filter *rf,
    const char *value)
{
	if (rf->rare == NULL)
		return rf->rank_rare;
	for (size_t i = 0; rf->rare[i] != NULL; i++) {
		if (strcmp(value, rf->rare[i]) == 0)
			return rf->rank_rare;
	}
	return rf->rank_common;
}

/* Append f's filters, the one whose index is walked first as is. */
static void
store_review_log_filters(struct store_review_query *q,
    const struct store_log_filter *f)
{
	/* In the order of store_review_filters. */
	const char *const values[nitems(store_review_filters)] = {
		f->clinician,
		f->risk,
		f->outcome,
		f->program,
		f->channel,
	};
	char cond[64];
	int best = INT32_MAX, rank;
	size_t lead = nitems(values);

	for (size_t i = 0; i < nitems(values); i++) {
		if (values[i] != NULL &&
		    (rank = store_review_filter_rank(&store_review_filters[i],
		         values[i])) < best) {
			best = rank;
			lead = i;
		}
	}
	for (size_t i = 0; i < nitems(values); i++) {
		snprintf(cond, sizeof(cond), "%s%s = ?",
		    store_review_filters[i].column, i == lead ? "" : " || ''");
		store_review_cond_text(q, cond, values[i]);
	}
}

/* Contacts matching f, newest first, one at a time. */
int
store_review_log_each(struct store *st, const struct store_log_filter *f,
    int (*cb)(void *arg, json_t *row), void *arg)
{
	struct store_review_each_arg ea = { cb, arg };
	struct store_review_query q = { 0 };
	struct db_stmt *s;

	store_review_sql(&q,
	    "SELECT " STORE_REVIEW_LOG_COLUMNS " FROM contacts");
	store_review_cond_window(&q, "queued_at", f->since_ms, f->until_ms);
	store_review_log_filters(&q, f);
	store_review_sql(&q,
	    " ORDER BY queued_at DESC, id DESC"
	    " LIMIT ? OFFSET ?");
	store_review_bind(&q, NULL, f->limit > 0 ? f->limit : INT64_MAX);
	store_review_bind(&q, NULL, f->offset > 0 ? f->offset : 0);
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

	if (store_review_log_each(st, f, store_review_keep, rows) != STORE_OK) {
		json_decref(rows);
		return NULL;
	}
	return rows;
}

/* Run q and return its first row, or NULL with "not found" or the error. */
json_t *
store_review_first(struct store *st, const struct store_review_query *q,
    const char *what)
{
	json_t *rows, *row;

	if ((rows = store_review_rows(st, q, what)) == NULL)
		return NULL;
	row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	if (row == NULL)
		store_set_error(st, "not found");
	return row;
}

/* The contact row of show, or NULL with "not found" or the error. */
static json_t *
store_review_contact(struct store *st, const char *id)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q,
	    "SELECT " STORE_REVIEW_LOG_COLUMNS ", caller,"
	    " patient, needs, notes, deadline_at, accept_ms FROM contacts");
	store_review_cond_text(&q, "id = ?", id);
	return store_review_first(st, &q, "show contact");
}

/*
 * What show adds to a contact, each the rows of one query about it: the
 * timeline, and the disclosure and the follow-up it may have (one each).
 */
static const struct {
	const char *key;
	const char *sql;
	bool one; /* a single object or null, not an array */
} store_review_show_parts[] = {
	{ "events",
	    "SELECT at, event, tier, clinician, detail"
	    " FROM contact_events WHERE contact = ? ORDER BY seq",
	    false },
	{ "disclosure",
	    "SELECT at, clinician, recipient, affiliation, nature"
	    " FROM disclosures WHERE contact = ?",
	    true },
	{ "followup",
	    "SELECT id, reason, opened_at, closed_at, closed_by,"
	    " note FROM followups WHERE contact = ?",
	    true },
};

/* Add one part of show to the contact; -1 on failure. */
static int
store_review_show_part(struct store *st, json_t *contact, size_t part,
    const char *id)
{
	struct store_review_query q = { 0 };
	json_t *rows;

	store_review_sql(&q, store_review_show_parts[part].sql);
	store_review_bind(&q, id, 0);
	if ((rows = store_review_rows(st, &q, "show contact")) == NULL)
		return -1;
	if (!store_review_show_parts[part].one)
		json_object_set(contact, store_review_show_parts[part].key,
		    rows);
	else
		json_object_set(contact, store_review_show_parts[part].key,
		    json_array_size(rows) > 0 ? json_array_get(rows, 0)
		                              : json_null());
	json_decref(rows);
	return 0;
}

/* One contact with its timeline, disclosure and follow-up. */
json_t *
store_review_show(struct store *st, const char *id)
{
	json_t *contact;
	bool opened;

	if (store_snapshot_begin(st, &opened) != STORE_OK)
		return NULL;
	if ((contact = store_review_contact(st, id)) != NULL) {
		for (size_t i = 0; i < nitems(store_review_show_parts); i++) {
			if (store_review_show_part(st, contact, i, id) == -1) {
				json_decref(contact);
				contact = NULL;
				break;
			}
		}
	}
	store_snapshot_end(st, opened);
	return contact;
}

/*
 * Shifts of the roster overlapping [from, to) on tier (0: any), with
 * names: not those of a roster import still being staged.
 */
json_t *
store_review_shifts(struct store *st, int64_t from_ms, int64_t to_ms, int tier)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q,
	    "SELECT s.clinician AS clinician, c.name AS name,"
	    " s.tier AS tier, s.start_at AS start, s.end_at AS end"
	    " FROM shifts s JOIN clinicians c ON c.id = s.clinician"
	    " WHERE " STORE_SHIFT_VISIBLE);
	q.where = true;
	store_review_cond(&q, "s.end_at > ?", NULL, from_ms);
	store_review_cond(&q, "s.start_at < ?", NULL, to_ms);
	if (tier != 0)
		store_review_cond(&q, "s.tier = ?", NULL, tier);
	store_review_sql(&q, " ORDER BY s.tier, s.start_at, s.clinician");
	return store_review_rows(st, &q, "shifts");
}

/* Open the batch now, so what is read next stays as read until it commits. */
int
store_review_begin(struct store *st)
{
	return store_batch_begin(st);
}

/* A patient as {id, primary, program}. */
json_t *
store_review_patient(struct store *st, const char *id)
{
	struct store_review_query q = { 0 };

	store_review_sql(&q,
	    "SELECT id, primary_clinician AS \"primary\","
	    " program FROM patients");
	store_review_cond_text(&q, "id = ?", id);
	return store_review_first(st, &q, "patient");
}

/* Is id a clinician? */
int
store_review_is_clinician(struct store *st, const char *id)
{
	struct store_review_query q = { 0 };
	json_t *row;

	store_review_sql(&q, "SELECT id FROM clinicians");
	store_review_cond_text(&q, "id = ?", id);
	if ((row = store_review_first(st, &q, "clinician")) != NULL) {
		json_decref(row);
		return STORE_OK;
	}
	return strcmp(store_error(st), "not found") == 0 ? STORE_NOTFOUND
	                                                 : STORE_ERROR;
}
