/*
 * http_review.c: the supervisors' review in the console (CONTRACT §8):
 * GET /api/contacts, /api/contacts/CID, /api/stats, and /api/followups,
 * /api/disclosures, /api/roster/gaps besides: the very JSON crisisctl
 * prints (review.c builds both), each read on record in the audit trail
 * before it is made, as crisisctl's are (42 CFR Part 2).
 *
 * A year of contacts takes a second to count; the loop that routes crisis
 * calls cannot wait that long.  So the reads run on a worker thread with a
 * database connection of its own (WAL lets it read beside the daemon's
 * writes); the loop only checks the query and sends the answer.
 */
#include <sys/queue.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "config.h"
#include "http_int.h"
#include "jsontime.h"
#include "log.h"
#include "review.h"
#include "store.h"
#include "util.h"
#include "worker.h"

/* A log page: this many contacts unless asked for fewer, and at most. */
#define HTTP_LOG_DEFAULT_LIMIT 100
#define HTTP_LOG_MAX_LIMIT 1000
#define HTTP_QUERY_VALUE_MAX_BYTES 256

enum http_review_kind {
	HTTP_REVIEW_LOG,
	HTTP_REVIEW_SHOW,
	HTTP_REVIEW_STATS,
	HTTP_REVIEW_FOLLOWUPS,
	HTTP_REVIEW_DISCLOSURES,
	HTTP_REVIEW_GAPS,
};

/* What each read is called in the audit trail, as crisisctl calls it. */
static const char *const http_review_actions[] = {
	[HTTP_REVIEW_LOG] = "read.log",
	[HTTP_REVIEW_SHOW] = "read.show",
	[HTTP_REVIEW_STATS] = "read.stats",
	[HTTP_REVIEW_FOLLOWUPS] = "read.followups",
	[HTTP_REVIEW_DISCLOSURES] = "read.disclosures",
	[HTTP_REVIEW_GAPS] = "read.gaps",
};

/* One read, carried to the worker and back. */
struct http_review_job {
	struct http *h;
	struct evhttp_request *req;
	enum http_review_kind kind;
	char actor[PRINCIPAL_ID_MAX + 1];
	json_t *detail; /* the query as given: the audit row's detail */
	struct store_log_filter log; /* its strings point into detail */
	struct store_stats_query stats;
	char cid[CONTACT_ID_MAX + 1];
	int64_t since, until, now;
	json_t *result; /* made on the worker */
	enum msg_code code; /* else the error */
	char error[128];
};

/* The query's parameters, each at most once; NULL (400 sent) if bad. */
static json_t *
http_query(struct evhttp_request *req, const char *const *allowed)
{
	const char *q =
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	struct evkeyval *kv;
	json_t *out = json_object();
	bool ok = true;

	TAILQ_INIT(&params);
	if (q != NULL && evhttp_parse_query_str(q, &params) == -1)
		ok = false;
	TAILQ_FOREACH (kv, &params, next) {
		size_t i = 0;

		while (allowed[i] != NULL && strcmp(allowed[i], kv->key) != 0)
			i++;
		if (allowed[i] == NULL || json_object_get(out, kv->key) ||
		    strlen(kv->value) > HTTP_QUERY_VALUE_MAX_BYTES ||
		    !util_utf8_valid(kv->value)) {
			ok = false;
			break;
		}
		json_object_set_new(out, kv->key, json_string(kv->value));
	}
	evhttp_clear_headers(&params);
	if (!ok) {
		json_decref(out);
		http_reply_error(req, HTTP_BADREQUEST, CODE_BAD_REQUEST,
		    "unknown, repeated or bad query parameter");
		return NULL;
	}
	return out;
}

/* Parameter name as an RFC 3339 time into *ms, or def; false if bad. */
static bool
http_query_time(json_t *q, const char *name, int64_t def, int64_t *ms)
{
	const char *v = json_string_value(json_object_get(q, name));

	*ms = def;
	return v == NULL || util_parse_rfc3339(v, ms) == 0;
}

/* Parameter name as a count in [0, max], or def; false if bad. */
static bool
http_query_long(json_t *q, const char *name, long def, long max, long *out)
{
	const char *v = json_string_value(json_object_get(q, name));
	char *end;

	*out = def;
	if (v == NULL)
		return true;
	*out = strtol(v, &end, 10);
	return *v != '\0' && *end == '\0' && *out >= 0 && *out <= max;
}

/* Is parameter name absent or one of names? */
static bool
http_query_enum(json_t *q, const char *name, const char *const *names)
{
	const char *v = json_string_value(json_object_get(q, name));

	for (size_t i = 0; v != NULL && names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0)
			return true;
	}
	return v == NULL;
}

/* --- on the worker --- */

/* The read itself, once its audit row is committed. */
static void
http_review_read(struct http_review_job *j, struct store *st)
{
	switch (j->kind) {
	case HTTP_REVIEW_LOG:
		if ((j->result = store_review_log(st, &j->log)) != NULL) {
			json_t *row;
			size_t i;

			json_array_foreach (j->result, i, row)
				review_log_row(row);
		}
		break;
	case HTTP_REVIEW_SHOW:
		j->result = review_show(st, j->cid);
		break;
	case HTTP_REVIEW_STATS:
		j->result = store_review_stats_query(st, &j->stats);
		break;
	case HTTP_REVIEW_FOLLOWUPS:
		j->result = review_followups(st, j->now);
		break;
	case HTTP_REVIEW_DISCLOSURES:
		j->result =
		    store_review_disclosures(st, j->since, j->until, NULL);
		break;
	case HTTP_REVIEW_GAPS:
		j->result = review_gaps(st, j->since, j->until);
		break;
	}
}

/* On the worker: audit, commit, read. */
static void
http_review_run(void *arg)
{
	struct http_review_job *j = arg;
	struct store *st = j->h->review_store;
	char *detail = json_dumps(j->detail, JSON_COMPACT);

	if (store_audit_add(st, j->now, j->actor, "principal",
	        http_review_actions[j->kind],
	        j->kind == HTTP_REVIEW_SHOW ? j->cid : NULL,
	        detail) != STORE_OK ||
	    store_commit(st) != STORE_OK) {
		store_rollback(st);
		j->code = CODE_INTERNAL;
		snprintf(j->error, sizeof j->error,
		    "the read could not be put on record: %s", store_error(st));
	} else {
		http_review_read(j, st);
		if (j->result == NULL) {
			bool unknown = j->kind == HTTP_REVIEW_SHOW &&
			    strstr(store_error(st), "not found") != NULL;

			j->code = unknown ? CODE_NOT_FOUND : CODE_INTERNAL;
			snprintf(j->error, sizeof j->error, "%s",
			    unknown ? "no such contact" : store_error(st));
		}
	}
	free(detail);
}

/* Back on the loop: the answer. */
static void
http_review_done(void *arg, bool ran)
{
	struct http_review_job *j = arg;

	if (!ran)
		http_reply_error(j->req, HTTP_SERVUNAVAIL, CODE_OVERLOADED,
		    "stopping");
	else if (j->result == NULL)
		http_reply_error(j->req, http_status_of(j->code), j->code,
		    j->error);
	else
		http_reply_json(j->req, HTTP_OK, jsontime_copy(j->result));
	json_decref(j->result);
	json_decref(j->detail);
	free(j);
}

/* --- on the loop --- */

/* A supervisor's session, or NULL with 401/403 answered. */
static struct http_session *
http_review_session(struct http *h, struct evhttp_request *req)
{
	struct http_session *s = http_auth_check(h, req, false);

	if (s != NULL && s->role != ROLE_SUPERVISOR) {
		http_reply_error(req, 403, CODE_FORBIDDEN,
		    "the review is for supervisors");
		return NULL;
	}
	return s;
}

/* A job for session s, or NULL with the error answered. */
static struct http_review_job *
http_review_job(struct http *h, struct evhttp_request *req,
    enum http_review_kind kind, const char *const *allowed)
{
	struct http_session *s = http_review_session(h, req);
	struct http_review_job *j;
	json_t *q;

	if (s == NULL || (q = http_query(req, allowed)) == NULL)
		return NULL;
	j = xcalloc(1, sizeof(*j));
	j->h = h;
	j->req = req;
	j->kind = kind;
	j->detail = q;
	j->now = util_now_ms();
	strlcpy_(j->actor, s->principal, sizeof j->actor);
	return j;
}

/* Hand a checked job to the worker, or refuse it (bad is its error). */
static void
http_review_submit(struct http *h, struct http_review_job *j, const char *bad)
{
	if (bad != NULL)
		http_reply_error(j->req, HTTP_BADREQUEST, CODE_BAD_REQUEST,
		    bad);
	else if (worker_submit(h->reviewer, http_review_run, http_review_done,
	             j) == 0)
		return;
	else
		http_reply_error(j->req, HTTP_SERVUNAVAIL, CODE_OVERLOADED,
		    "too many reads at once; try again");
	json_decref(j->detail);
	free(j);
}

static const char *const http_risks[] = { "imminent", "high", "moderate", "low",
	"unknown", NULL };
static const char *const http_outcomes[] = { "open", "assigned", "completed",
	"overflow", "abandoned", NULL };
static const char *const http_channels[] = { "voice", "text", "chat", NULL };
static const char *const http_bys[] = { "hour", "day", "clinician", "tier",
	"program", "risk", NULL };

/* GET /api/contacts?since&until&risk&outcome&clinician&program&channel... */
void
http_review_log(struct http *h, struct evhttp_request *req)
{
	static const char *const allowed[] = { "since", "until", "risk",
		"outcome", "clinician", "program", "channel", "limit", "offset",
		NULL };
	struct http_review_job *j =
	    http_review_job(h, req, HTTP_REVIEW_LOG, allowed);
	struct store_log_filter *f;
	const char *bad = NULL;

	if (j == NULL)
		return;
	f = &j->log;
	if (!http_query_time(j->detail, "since", STORE_UNBOUNDED,
	        &f->since_ms) ||
	    !http_query_time(j->detail, "until", STORE_UNBOUNDED, &f->until_ms))
		bad = "since and until are RFC 3339 times";
	else if (!http_query_enum(j->detail, "risk", http_risks) ||
	    !http_query_enum(j->detail, "outcome", http_outcomes) ||
	    !http_query_enum(j->detail, "channel", http_channels))
		bad = "unknown risk, outcome or channel";
	else if (!http_query_long(j->detail, "limit", HTTP_LOG_DEFAULT_LIMIT,
	             HTTP_LOG_MAX_LIMIT, &f->limit) ||
	    !http_query_long(j->detail, "offset", 0, LONG_MAX, &f->offset) ||
	    f->limit == 0)
		bad = "limit is 1 to 1000, offset 0 or more";
	f->risk = json_string_value(json_object_get(j->detail, "risk"));
	f->outcome = json_string_value(json_object_get(j->detail, "outcome"));
	f->channel = json_string_value(json_object_get(j->detail, "channel"));
	f->clinician =
	    json_string_value(json_object_get(j->detail, "clinician"));
	f->program = json_string_value(json_object_get(j->detail, "program"));
	http_review_submit(h, j, bad);
}

/* GET /api/contacts/CID */
void
http_review_show(struct http *h, struct evhttp_request *req)
{
	static const char *const allowed[] = { NULL };
	const char *path =
	    evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	const char *cid = path + strlen("/api/contacts/");
	struct http_review_job *j =
	    http_review_job(h, req, HTTP_REVIEW_SHOW, allowed);
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; cid[i] > ' ' && cid[i] <= '~' && i < CONTACT_ID_MAX; i++)
		;
	if (i == 0 || cid[i] != '\0') {
		http_review_submit(h, j, "bad contact id");
		return;
	}
	strlcpy_(j->cid, cid, sizeof j->cid);
	json_object_set_new(j->detail, "contact", json_string(cid));
	http_review_submit(h, j, NULL);
}

/* GET /api/stats?since&until&by */
void
http_review_stats(struct http *h, struct evhttp_request *req)
{
	static const char *const allowed[] = { "since", "until", "by", NULL };
	struct http_review_job *j =
	    http_review_job(h, req, HTTP_REVIEW_STATS, allowed);
	struct store_stats_query *q;
	const char *by;
	const char *bad = NULL;

	if (j == NULL)
		return;
	q = &j->stats;
	by = json_string_value(json_object_get(j->detail, "by"));
	q->service_level_ms = h->service_level_ms;
	q->short_abandon_ms = h->short_abandon_ms;
	if (!http_query_time(j->detail, "since", STORE_UNBOUNDED,
	        &q->since_ms) ||
	    !http_query_time(j->detail, "until", STORE_UNBOUNDED, &q->until_ms))
		bad = "since and until are RFC 3339 times";
	else if (!http_query_enum(j->detail, "by", http_bys))
		bad = "by is hour, day, clinician, tier, program or risk";
	for (size_t i = 0; by != NULL && http_bys[i] != NULL; i++) {
		if (strcmp(by, http_bys[i]) == 0)
			q->by = (enum store_stats_by)(STORE_STATS_BY_HOUR + i);
	}
	if (q->by == STORE_STATS_BY_HOUR)
		q->period = review_hour;
	else if (q->by == STORE_STATS_BY_DAY)
		q->period = review_day;
	http_review_submit(h, j, bad);
}

/* GET /api/followups */
void
http_review_followups(struct http *h, struct evhttp_request *req)
{
	static const char *const allowed[] = { NULL };
	struct http_review_job *j =
	    http_review_job(h, req, HTTP_REVIEW_FOLLOWUPS, allowed);

	if (j != NULL)
		http_review_submit(h, j, NULL);
}

/* GET /api/disclosures?since&until */
void
http_review_disclosures(struct http *h, struct evhttp_request *req)
{
	static const char *const allowed[] = { "since", "until", NULL };
	struct http_review_job *j =
	    http_review_job(h, req, HTTP_REVIEW_DISCLOSURES, allowed);

	if (j == NULL)
		return;
	http_review_submit(h, j,
	    !http_query_time(j->detail, "since", STORE_UNBOUNDED, &j->since) ||
	            !http_query_time(j->detail, "until", STORE_UNBOUNDED,
	                &j->until)
	        ? "since and until are RFC 3339 times"
	        : NULL);
}

/* GET /api/roster/gaps?from&to (default: the next 7 days) */
void
http_review_gaps(struct http *h, struct evhttp_request *req)
{
	static const char *const allowed[] = { "from", "to", NULL };
	struct http_review_job *j =
	    http_review_job(h, req, HTTP_REVIEW_GAPS, allowed);
	const char *bad = NULL;

	if (j == NULL)
		return;
	if (!http_query_time(j->detail, "from", j->now, &j->since) ||
	    !http_query_time(j->detail, "to", j->since + REVIEW_GAPS_DEFAULT_MS,
	        &j->until))
		bad = "from and to are RFC 3339 times";
	else if (j->until <= j->since)
		bad = "to must be after from";
	http_review_submit(h, j, bad);
}
