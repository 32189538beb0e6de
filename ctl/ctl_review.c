/*
 * ctl_review.c: crisisctl's review commands for supervisors: log (contacts
 * newest first, filtered), show (one contact and its timeline) and stats
 * (the crisis-line metrics, grouped by hour, day, clinician, tier, program
 * or risk).  Each writes its audit row first (ctl_audit.c).
 *
 * The store hands back times as ms; these commands add what a reader of
 * the listing wants worked out (time to answer, time since queued) and
 * leave the printing to fmt.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include "ctl.h"

/* Without --limit, a log table shows this many contacts at most. */
#define CTL_REVIEW_TABLE_ROWS 1000
/* An hour and a day, in ms. */
#define CTL_REVIEW_HOUR_MS (3600L * 1000)
#define CTL_REVIEW_DAY_MS (24L * CTL_REVIEW_HOUR_MS)

static const char *const ctl_review_risks[] = { "imminent", "high", "moderate",
	"low", "unknown", NULL };
static const char *const ctl_review_outcomes[] = { STORE_STATE_OPEN,
	STORE_STATE_ASSIGNED, STORE_STATE_COMPLETED, STORE_STATE_OVERFLOW,
	STORE_STATE_ABANDONED, NULL };
static const char *const ctl_review_channels[] = { "voice", "text", "chat",
	NULL };

/* What the log shows in a table, and every column for CSV. */
static const char *const ctl_review_log_columns[] = { "queued_at", "id",
	"channel", "risk", "program", "state", "clinician", "time_to_answer_ms",
	"disposition", NULL };
static const char *const ctl_review_log_csv[] = { "id", "ref", "intake",
	"channel", "risk", "program", "language", "state", "clinician",
	"queued_at", "assigned_at", "closed_at", "tier", "disposition",
	"time_to_answer_ms", NULL };

/* A contact's timeline, in a table and in CSV. */
static const char *const ctl_review_timeline_table[] = { "elapsed_ms",
	"step_ms", "at", "event", "tier", "clinician", "detail", NULL };
static const char *const ctl_review_timeline_csv[] = { "at", "elapsed_ms",
	"step_ms", "event", "tier", "clinician", "detail", NULL };

/* Set key to the time from "from" to "to", or null unless both are times. */
static void
ctl_review_span(json_t *obj, const char *key, json_t *from, json_t *to)
{
	json_object_set_new(obj, key,
	    json_is_integer(from) && json_is_integer(to)
	        ? json_integer(
	              json_integer_value(to) - json_integer_value(from))
	        : json_null());
}

/* Add what a reader of the log wants worked out to a row. */
static void
ctl_review_log_extend(json_t *row)
{
	ctl_review_span(row, "time_to_answer_ms",
	    json_object_get(row, "queued_at"),
	    json_object_get(row, "assigned_at"));
}

/* Log row callback: print the row to the stream arg. */
static int
ctl_review_log_row(void *arg, json_t *row)
{
	ctl_review_log_extend(row);
	return fmt_stream_row(arg, row);
}

/*
 * JSON and CSV are for programs: every match, printed as it is read, so a
 * year of contacts costs no more memory than one.
 */
static int
ctl_review_log_stream(struct ctl *ctl, const struct store_log_filter *f)
{
	struct fmt_stream fs;
	int rc;

	fmt_stream_begin(&fs, stdout, ctl->format, ctl_review_log_csv,
	    ctl_timezone(ctl));
	rc = store_review_log_each(ctl->store, f, ctl_review_log_row, &fs);
	if (fmt_stream_end(&fs) != 0)
		return ctl_output_fail();
	return rc == STORE_OK ? CTL_OK : ctl_store_fail(ctl, NULL);
}

/*
 * A table is for people: without --limit it shows the newest rows that fit
 * a screenful's worth of scrolling, and says when there are more.
 */
static int
ctl_review_log_table(struct ctl *ctl, struct store_log_filter *f)
{
	bool cap = ctl_opt(ctl, "limit") == NULL;
	json_t *rows, *row;
	size_t i;
	int rc;

	/* One row more than is shown tells whether there are more. */
	if (cap)
		f->limit = CTL_REVIEW_TABLE_ROWS + 1;
	if ((rows = store_review_log(ctl->store, f)) == NULL)
		return ctl_store_fail(ctl, NULL);
	if (cap && json_array_size(rows) > CTL_REVIEW_TABLE_ROWS) {
		json_array_remove(rows, CTL_REVIEW_TABLE_ROWS);
		log_warnx("showing the newest %d contacts; --limit 0 shows "
		          "them all",
		    CTL_REVIEW_TABLE_ROWS);
	}
	json_array_foreach (rows, i, row)
		ctl_review_log_extend(row);
	rc = ctl_print_rows(ctl, rows, ctl_review_log_columns);
	json_decref(rows);
	return rc;
}

/* What a log read looked at, for its audit row: the filter as given. */
static json_t *
ctl_review_log_detail(const struct ctl *ctl, const struct store_log_filter *f)
{
	static const char *const names[] = { "risk", "outcome", "clinician",
		"program", "channel", "limit", "offset" };
	json_t *detail = json_object();
	const char *v;

	ctl_audit_time(detail, "since", f->since_ms);
	ctl_audit_time(detail, "until", f->until_ms);
	for (size_t i = 0; i < nitems(names); i++) {
		if ((v = ctl_opt(ctl, names[i])) != NULL)
			json_object_set_new(detail, names[i], json_string(v));
	}
	json_object_set_new(detail, "format",
	    json_string(fmt_format_name(ctl->format)));
	return detail;
}

/* log [filters]: contacts newest first. */
int
ctl_review_log(struct ctl *ctl)
{
	struct store_log_filter f = { 0 };
	int rc;

	if ((rc = ctl_window_opt(ctl, &f.since_ms, &f.until_ms)) != CTL_OK ||
	    (rc = ctl_enum_opt(ctl, "risk", ctl_review_risks)) != CTL_OK ||
	    (rc = ctl_enum_opt(ctl, "outcome", ctl_review_outcomes)) !=
	        CTL_OK ||
	    (rc = ctl_enum_opt(ctl, "channel", ctl_review_channels)) !=
	        CTL_OK ||
	    (rc = ctl_long_opt(ctl, "limit", 0, 0, LONG_MAX, &f.limit)) !=
	        CTL_OK ||
	    (rc = ctl_long_opt(ctl, "offset", 0, 0, LONG_MAX, &f.offset)) !=
	        CTL_OK)
		return rc;
	f.risk = ctl_opt(ctl, "risk");
	f.outcome = ctl_opt(ctl, "outcome");
	f.channel = ctl_opt(ctl, "channel");
	f.clinician = ctl_opt(ctl, "clinician");
	f.program = ctl_opt(ctl, "program");
	if ((rc = ctl_audit_read(ctl, "read.log", NULL,
	         ctl_review_log_detail(ctl, &f))) != CTL_OK)
		return rc;
	if (ctl->format == FMT_TABLE)
		return ctl_review_log_table(ctl, &f);
	return ctl_review_log_stream(ctl, &f);
}

/* Is s a contact id as crisisd prints them: 1..64 printable ASCII? */
bool
ctl_valid_cid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (s[n] <= ' ' || s[n] > '~' || n >= CONTACT_ID_MAX)
			return false;
	}
	return n > 0;
}

/* Print a contact's fields, then its timeline, as tables. */
static int
ctl_review_show_table(const struct ctl *ctl, json_t *contact)
{
	json_t *events = json_incref(json_object_get(contact, "events"));
	int rc;

	json_object_del(contact, "events");
	rc = ctl_print_object(ctl, contact);
	if (rc == CTL_OK) {
		printf("\ntimeline\n");
		rc = ctl_print_rows(ctl, events, ctl_review_timeline_table);
	}
	json_decref(events);
	return rc;
}

/* show CID: one contact and its whole timeline. */
int
ctl_review_show(struct ctl *ctl)
{
	const char *cid = ctl->pos[0];
	json_t *contact, *events, *ev, *queued;
	size_t i;
	int rc;

	if (!ctl_valid_cid(cid))
		return ctl_usage_error(ctl,
		    "bad contact id: 1 to %d printable "
		    "characters",
		    CONTACT_ID_MAX);
	if ((rc = ctl_audit_read(ctl, "read.show", cid,
	         json_pack("{s:s}", "contact", cid))) != CTL_OK)
		return rc;
	if ((contact = store_review_show(ctl->store, cid)) == NULL) {
		log_error("contact %s: %s", cid, store_error(ctl->store));
		return CTL_FAIL;
	}
	ctl_review_span(contact, "time_to_answer_ms",
	    json_object_get(contact, "queued_at"),
	    json_object_get(contact, "assigned_at"));
	queued = json_object_get(contact, "queued_at");
	events = json_object_get(contact, "events");
	json_array_foreach (events, i, ev) {
		ctl_review_span(ev, "elapsed_ms", queued,
		    json_object_get(ev, "at"));
		ctl_review_span(ev, "step_ms",
		    i > 0 ? json_object_get(json_array_get(events, i - 1), "at")
		          : queued,
		    json_object_get(ev, "at"));
	}
	switch (ctl->format) {
	case FMT_JSON:
		rc = ctl_print_object(ctl, contact);
		break;
	case FMT_CSV:
		rc = ctl_print_rows(ctl, events, ctl_review_timeline_csv);
		break;
	default:
		rc = ctl_review_show_table(ctl, contact);
		break;
	}
	json_decref(contact);
	return rc;
}

/* --- stats --- */

/* --by's values, in the order of enum store_stats_by from hour on. */
static const char *const ctl_review_by[] = { "hour", "day", "clinician", "tier",
	"program", "risk", NULL };

/* Whole seconds at or before ms. */
static time_t
ctl_review_seconds(int64_t ms)
{
	return (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
}

/* The local hour holding ms, in the zone $TZ names. */
static int64_t
ctl_review_hour(void *arg, int64_t ms, int64_t *end_ms)
{
	time_t t = ctl_review_seconds(ms);
	struct tm tm;
	int64_t start;

	(void)arg;
	localtime_r(&t, &tm);
	start = ((int64_t)t - tm.tm_min * 60 - tm.tm_sec) * 1000;
	*end_ms = start + CTL_REVIEW_HOUR_MS;
	return start;
}

/*
 * The local day holding ms: from its midnight to the next, 23 or 25
 * hours apart when daylight saving begins or ends.
 */
static int64_t
ctl_review_day(void *arg, int64_t ms, int64_t *end_ms)
{
	time_t t = ctl_review_seconds(ms);
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
		*end_ms = start + CTL_REVIEW_HOUR_MS;
	return start;
}

/*
 * Read --by and the thresholds into q.  The service level and short
 * abandon thresholds come from crisisd.conf's review group unless given.
 */
static int
ctl_review_stats_opts(const struct ctl *ctl, struct store_stats_query *q)
{
	const char *by = ctl_opt(ctl, "by");
	long sl, sa;
	int rc;

	if ((rc = ctl_window_opt(ctl, &q->since_ms, &q->until_ms)) != CTL_OK ||
	    (rc = ctl_enum_opt(ctl, "by", ctl_review_by)) != CTL_OK ||
	    (rc = ctl_long_opt(ctl, "service-level-ms",
	         (long)ctl->conf->service_level_ms, 1, CTL_REVIEW_DAY_MS,
	         &sl)) != CTL_OK ||
	    (rc = ctl_long_opt(ctl, "short-abandon-ms",
	         (long)ctl->conf->short_abandon_ms, 0, CTL_REVIEW_DAY_MS,
	         &sa)) != CTL_OK)
		return rc;
	q->service_level_ms = sl;
	q->short_abandon_ms = sa;
	for (size_t i = 0; by != NULL && ctl_review_by[i] != NULL; i++) {
		if (strcmp(by, ctl_review_by[i]) == 0)
			q->by = (enum store_stats_by)(STORE_STATS_BY_HOUR + i);
	}
	if (q->by == STORE_STATS_BY_HOUR)
		q->period = ctl_review_hour;
	else if (q->by == STORE_STATS_BY_DAY)
		q->period = ctl_review_day;
	return CTL_OK;
}

/* What a stats read looked at, for its audit row. */
static json_t *
ctl_review_stats_detail(const struct ctl *ctl,
    const struct store_stats_query *q)
{
	json_t *detail = json_object();

	ctl_audit_time(detail, "since", q->since_ms);
	ctl_audit_time(detail, "until", q->until_ms);
	if (ctl_opt(ctl, "by") != NULL)
		json_object_set_new(detail, "by",
		    json_string(ctl_opt(ctl, "by")));
	return detail;
}

/*
 * The stats, with $TZ set to the configured zone while they are counted,
 * so hours and days are the supervisor's own (the C library's calendar
 * works only through $TZ).
 */
static json_t *
ctl_review_stats_local(struct ctl *ctl, const struct store_stats_query *q)
{
	struct ctl_tz old;
	json_t *stats;

	ctl_tz_use(ctl, &old);
	stats = store_review_stats_query(ctl->store, q);
	ctl_tz_restore(&old);
	return stats;
}

/*
 * stats [--since T] [--until T] [--by ...] [thresholds]: the CONTRACT §6
 * numbers and the crisis-line metrics (man crisisctl defines each).
 */
int
ctl_review_stats(struct ctl *ctl)
{
	struct store_stats_query q = { 0 };
	json_t *stats;
	int rc;

	if ((rc = ctl_review_stats_opts(ctl, &q)) != CTL_OK)
		return rc;
	if ((rc = ctl_audit_read(ctl, "read.stats", NULL,
	         ctl_review_stats_detail(ctl, &q))) != CTL_OK)
		return rc;
	if ((stats = ctl_review_stats_local(ctl, &q)) == NULL)
		return ctl_store_fail(ctl, NULL);
	rc = ctl_print_object(ctl, stats);
	json_decref(stats);
	return rc;
}
