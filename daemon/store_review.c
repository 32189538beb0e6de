/*
 * store_review.c: the read-only queries behind crisisctl's review
 * commands (log, show, and the shifts oncall and roster gaps use), and the
 * query builder and row conversion the other review files share
 * (store_review_int.h).  Stats live in store_stats.c, follow-ups,
 * disclosures and the audit listing in store_followup.c.
 *
 * Results are jansson trees with times as integer ms; crisisctl's fmt.c
 * decides how to print them.  Each call reads from one snapshot, so a
 * daemon writing meanwhile never makes the numbers disagree.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_review_int.h"
#include "util.h"

/* What the log and show print of a contact, in order. */
#define STORE_REVIEW_LOG_COLUMNS \
	"id, ref, intake, channel, risk, program, language, state," \
	" clinician, queued_at, assigned_at, closed_at, tier, disposition"

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
store_review_bind(struct store_review_query *q, const char *text,
    int64_t num)
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

/* Append "queued_at in [since, until)" for the bounds that are set. */
void
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
sqlite3_stmt *
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
int
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
json_t *
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
json_t *
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
	store_review_bind(&q, NULL, f->limit > 0 ? f->limit : -1);
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

	if (store_review_log_each(st, f, store_review_keep, rows) !=
	    STORE_OK) {
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

	store_review_sql(&q, "SELECT " STORE_REVIEW_LOG_COLUMNS ", caller,"
	    " patient, needs, notes, deadline_at FROM contacts");
	store_review_cond_text(&q, "id = ?", id);
	return store_review_first(st, &q, "show contact");
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

