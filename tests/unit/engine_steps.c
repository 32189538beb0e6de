/*
 * engine_steps.c: runs the cases of engine_steps.h on the real engine
 * through the rig (engine_rig.h), the fake store and fake connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "engine_rig.h"
#include "engine_steps.h"
#include "fake_conn.h"
#include "fake_store.h"
#include "util.h"

/* The case's start: a real time, so roster shifts and ids look as usual. */
#define STEPS_T0 INT64_C(1800000000000)
#define STEPS_LINES_MAX 256
#define STEPS_REFS_MAX 16

/* The contract's example tiers. */
static const struct conf_tier steps_tiers[] = {
	{ 1, STRATEGY_RING_ALL, 20000 },
	{ 2, STRATEGY_LONGEST_IDLE, 15000 },
	{ 3, STRATEGY_RING_ALL, 20000 },
};

/* What a running case knows besides the rig. */
struct steps_run {
	const struct engine_case *c;
	size_t step;
	struct rig *r;
	struct store *st;
	struct conf conf;
	/* The contact ids the gateway was given, by ref. */
	struct {
		const char *ref;
		char id[CONTACT_ID_MAX + 1];
	} refs[STEPS_REFS_MAX];
	size_t nrefs;
	/* Per party (as in the rig) and connection: the lines checked. */
	struct {
		const struct conn *conn;
		bool checked[STEPS_LINES_MAX];
	} seen[RIG_PARTIES_MAX];
};

/* Fail the test, naming the case and step. */
static void __attribute__((format(printf, 2, 3), noreturn))
steps_fail(const struct steps_run *sr, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fail_msg("%s, step %zu: %s", sr->c->name, sr->step + 1, why);
	abort(); /* fail_msg does not return */
}

/* The contact id of ref, or NULL if the gateway was not given one. */
static const char *
steps_id(const struct steps_run *sr, const char *ref)
{
	for (size_t i = 0; i < sr->nrefs; i++) {
		if (strcmp(sr->refs[i].ref, ref) == 0)
			return sr->refs[i].id;
	}
	return NULL;
}

/* The contact id of ref, which must be known. */
static const char *
steps_need_id(const struct steps_run *sr, const char *ref)
{
	const char *id = steps_id(sr, ref);

	if (id == NULL)
		steps_fail(sr, "no contact id for ref %s", ref);
	return id;
}

/* pattern with each $REF replaced by its contact id (caller frees). */
static char *
steps_expand(const struct steps_run *sr, const char *pattern)
{
	size_t cap = strlen(pattern) * 4 + 64, n = 0;
	char *out = xcalloc(1, cap), ref[32];

	for (const char *p = pattern; *p != '\0';) {
		size_t len = 0;
		const char *id;

		if (*p != '$') {
			out[n++] = *p++;
			continue;
		}
		p++;
		while ((p[len] >= 'A' && p[len] <= 'Z') ||
		    (p[len] >= '0' && p[len] <= '9'))
			len++;
		if (len == 0 || len >= sizeof(ref))
			steps_fail(sr, "bad $ in pattern %s", pattern);
		memcpy(ref, p, len);
		ref[len] = '\0';
		id = steps_need_id(sr, ref);
		if (n + strlen(id) + 1 > cap)
			steps_fail(sr, "pattern too long: %s", pattern);
		memcpy(out + n, id, strlen(id));
		n += strlen(id);
		p += len;
	}
	return out;
}

/* Does line hold every member of pattern, with the same value? */
static bool
steps_matches(const char *line, const json_t *pattern)
{
	json_t *got = json_loads(line, 0, NULL), *want;
	const char *key;
	bool ok = got != NULL;

	json_object_foreach ((json_t *)pattern, key, want) {
		if (ok && !json_equal(json_object_get(got, key), want))
			ok = false;
	}
	json_decref(got);
	return ok;
}

/* The party who, which must exist, and its index. */
static struct rig_party *
steps_party(struct steps_run *sr, const char *who, size_t *idx)
{
	struct rig_party *p = rig_party(sr->r, who);

	if (p == NULL)
		steps_fail(sr, "%s never connected", who);
	*idx = (size_t)(p - sr->r->parties);
	if (sr->seen[*idx].conn != p->conn) {
		/* A reconnect: the old connection's lines were all checked. */
		for (size_t i = 0; sr->seen[*idx].conn != NULL &&
		     i < fake_conn_nlines(sr->seen[*idx].conn);
		     i++) {
			if (!sr->seen[*idx].checked[i])
				steps_fail(sr, "%s was also sent %s", who,
				    fake_conn_line(sr->seen[*idx].conn, i));
		}
		memset(&sr->seen[*idx], 0, sizeof(sr->seen[*idx]));
		sr->seen[*idx].conn = p->conn;
	}
	if (fake_conn_nlines(p->conn) > STEPS_LINES_MAX)
		steps_fail(sr, "%s was sent too many lines", who);
	return p;
}

/* The first line of who not checked yet, or SIZE_MAX. */
static size_t
steps_unchecked(struct steps_run *sr, const char *who)
{
	size_t idx;
	struct rig_party *p = steps_party(sr, who, &idx);

	for (size_t i = 0; i < fake_conn_nlines(p->conn); i++) {
		if (!sr->seen[idx].checked[i])
			return i;
	}
	return SIZE_MAX;
}

/* Check line i of who against pattern, and mark it checked. */
static void
steps_check_line(struct steps_run *sr, const char *who, size_t i,
    const char *pattern)
{
	char *text = steps_expand(sr, pattern);
	json_t *want = json_loads(text, 0, NULL);
	struct rig_party *p;
	const char *line;
	size_t idx;

	if (want == NULL)
		steps_fail(sr, "bad pattern %s", text);
	p = steps_party(sr, who, &idx);
	line = fake_conn_line(p->conn, i);
	if (line == NULL)
		steps_fail(sr, "%s was sent nothing; wanted %s", who, text);
	if (!steps_matches(line, want))
		steps_fail(sr, "%s was sent\n  %s\nwanted\n  %s", who, line,
		    text);
	sr->seen[idx].checked[i] = true;
	json_decref(want);
	free(text);
}

/* Every line of who is checked. */
static void
steps_quiet(struct steps_run *sr, const char *who)
{
	size_t i = steps_unchecked(sr, who), idx;
	struct rig_party *p = steps_party(sr, who, &idx);

	if (i != SIZE_MAX)
		steps_fail(sr, "%s was also sent %s", who,
		    fake_conn_line(p->conn, i));
}

/*
 * Send one request line for who and check its reply, the first line the
 * request sent who, against reply (the usual one if the step names none).
 */
static void
steps_request(struct steps_run *sr, const char *who, const char *line,
    const char *usual_reply)
{
	const struct step *s = &sr->c->steps[sr->step];
	size_t idx, before;
	struct rig_party *p = steps_party(sr, who, &idx);

	before = fake_conn_nlines(p->conn);
	rig_request(sr->r, who, line);
	steps_check_line(sr, who, before,
	    s->reply != NULL ? s->reply : usual_reply);
}

/* The gateway sends a contact; a "queued" reply tells us its id. */
static void
steps_contact(struct steps_run *sr, const struct step *s)
{
	char line[1024], *reply;
	const char *known = steps_id(sr, s->ref), *text;
	json_t *got;
	size_t idx, before;
	struct rig_party *p = steps_party(sr, "gw", &idx);

	snprintf(line, sizeof(line),
	    "{\"type\":\"contact\",\"ref\":\"%s\",\"channel\":\"voice\"%s%s%s}",
	    s->ref,
	    s->arg != NULL && strstr(s->arg, "\"risk\"") != NULL
	        ? ""
	        : ",\"risk\":\"low\"",
	    s->arg != NULL ? "," : "", s->arg != NULL ? s->arg : "");
	before = fake_conn_nlines(p->conn);
	rig_request(sr->r, "gw", line);
	if (s->reply != NULL) {
		steps_check_line(sr, "gw", before, s->reply);
		return;
	}
	text = fake_conn_line(p->conn, before);
	got = text != NULL ? json_loads(text, 0, NULL) : NULL;
	if (got == NULL || json_object_get(got, "contact") == NULL ||
	    strcmp(json_string_value(json_object_get(got, "type")), "queued") !=
	        0)
		steps_fail(sr, "contact %s got %s", s->ref,
		    text != NULL ? text : "nothing");
	if (known != NULL &&
	    strcmp(known, json_string_value(json_object_get(got, "contact"))))
		steps_fail(sr, "ref %s again made contact %s, not %s", s->ref,
		    json_string_value(json_object_get(got, "contact")), known);
	if (known == NULL) {
		if (sr->nrefs == STEPS_REFS_MAX)
			steps_fail(sr, "too many refs");
		sr->refs[sr->nrefs].ref = s->ref;
		strlcpy_(sr->refs[sr->nrefs].id,
		    json_string_value(json_object_get(got, "contact")),
		    sizeof(sr->refs[sr->nrefs].id));
		sr->nrefs++;
	}
	json_decref(got);
	xasprintf(&reply, "{\"type\":\"queued\",\"ref\":\"%s\"}", s->ref);
	steps_check_line(sr, "gw", before, reply);
	free(reply);
}

/* A request about a contact: {"type":type,"contact":id...}. */
static void
steps_ref_request(struct steps_run *sr, const struct step *s, const char *type,
    const char *extra, const char *usual_reply)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"type\":\"%s\",\"contact\":\"%s\"%s}",
	    type, steps_need_id(sr, s->ref), extra);
	steps_request(sr, s->who, line, usual_reply);
}

/* Checks of what the store holds. */
static void
steps_check_store(struct steps_run *sr, const struct step *s)
{
	const char *id = steps_id(sr, s->ref);
	const struct fake_contact *row =
	    id != NULL ? fake_store_contact(sr->st, id) : NULL;
	size_t n = 0;
	const struct fake_followup *f;

	switch (s->kind) {
	case STEP_STORED:
		if (s->arg == NULL && row != NULL)
			steps_fail(sr, "%s is stored (%s)", s->ref, row->state);
		if (s->arg != NULL &&
		    (row == NULL || strcmp(row->state, s->arg)))
			steps_fail(sr, "%s is stored %s, not %s", s->ref,
			    row != NULL ? row->state : "nowhere", s->arg);
		break;
	case STEP_EVENTS:
		n = fake_store_count_events(sr->st, steps_need_id(sr, s->ref),
		    s->arg);
		if ((int64_t)n != s->n)
			steps_fail(sr, "%s has %zu %s events, not %lld", s->ref,
			    n, s->arg, (long long)s->n);
		break;
	case STEP_FOLLOWUP:
		f = fake_store_followups(sr->st, &n);
		for (; n > 0; n--, f++) {
			if (strcmp(f->contact, steps_need_id(sr, s->ref)) ==
			        0 &&
			    strcmp(f->reason, s->arg) == 0)
				return;
		}
		steps_fail(sr, "%s has no %s follow-up", s->ref, s->arg);
	case STEP_OFFER_ROW:
		if ((fake_store_offer(sr->st, steps_need_id(sr, s->ref),
		         s->who) != NULL) != (s->n != 0))
			steps_fail(sr, "the offer of %s to %s is %s", s->ref,
			    s->who, s->n ? "not stored" : "stored");
		break;
	default:
		break;
	}
}

/* One step. */
static void
steps_one(struct steps_run *sr, const struct step *s)
{
	char extra[300] = "";

	switch (s->kind) {
	case STEP_CONNECT:
		rig_connect(sr->r,
		    strncmp(s->who, "gw", 2) == 0        ? ROLE_INTAKE
		        : strncmp(s->who, "sup", 3) == 0 ? ROLE_SUPERVISOR
		                                         : ROLE_CLINICIAN,
		    s->who);
		break;
	case STEP_DROP:
		rig_disconnect(sr->r, s->who);
		break;
	case STEP_STATUS:
		snprintf(extra, sizeof(extra),
		    "{\"type\":\"status\",\"status\":\"%s\"}", s->arg);
		steps_request(sr, s->who, extra, "{\"type\":\"ok\"}");
		break;
	case STEP_CONTACT:
		steps_contact(sr, s);
		break;
	case STEP_ACCEPT:
		snprintf(extra, sizeof(extra),
		    "{\"type\":\"assigned\",\"contact\":\"$%s\"}", s->ref);
		steps_ref_request(sr, s, "accept", "", extra);
		break;
	case STEP_DECLINE:
		if (s->arg != NULL)
			snprintf(extra, sizeof(extra), ",\"reason\":\"%s\"",
			    s->arg);
		steps_ref_request(sr, s, "decline", extra, "{\"type\":\"ok\"}");
		break;
	case STEP_COMPLETE:
		steps_ref_request(sr, s, "complete",
		    ",\"disposition\":\"resolved\"", "{\"type\":\"ok\"}");
		break;
	case STEP_ABANDON:
		steps_ref_request(sr, s, "abandon", "", "{\"type\":\"ok\"}");
		break;
	case STEP_ACK:
		steps_ref_request(sr, s, "ack", "", "{\"type\":\"ok\"}");
		break;
	case STEP_FAILED:
		steps_ref_request(sr, s, "failed", ",\"reason\":\"no answer\"",
		    "{\"type\":\"ok\"}");
		break;
	case STEP_ENDED:
		steps_ref_request(sr, s, "ended", "", "{\"type\":\"ok\"}");
		break;
	case STEP_WATCH:
		steps_request(sr, s->who, "{\"type\":\"watch\"}",
		    "{\"type\":\"ok\"}");
		break;
	case STEP_CLOSE:
		fake_store_file_close(sr->st, steps_need_id(sr, s->ref), "sup",
		    "a test closes it");
		break;
	case STEP_RESTART:
		rig_restart(sr->r, &sr->conf);
		break;
	case STEP_AT:
		rig_advance(sr->r, STEPS_T0 + s->n, 0);
		break;
	case STEP_FAIL_COMMITS:
		fake_store_fail_commits(sr->st, (int)s->n);
		break;
	case STEP_FAIL_WRITES:
		fake_store_fail_writes(sr->st, s->n != 0);
		break;
	case STEP_SEE: {
		size_t i = steps_unchecked(sr, s->who);

		if (i == SIZE_MAX)
			steps_fail(sr, "%s was sent nothing more; wanted %s",
			    s->who, s->arg);
		steps_check_line(sr, s->who, i, s->arg);
		break;
	}
	case STEP_QUIET:
		steps_quiet(sr, s->who);
		break;
	case STEP_STORED:
	case STEP_EVENTS:
	case STEP_FOLLOWUP:
	case STEP_OFFER_ROW:
		steps_check_store(sr, s);
		break;
	case STEP_END:
		break;
	}
}

/* The case's routing config: the contract's example, as the case says. */
static void
steps_conf(struct steps_run *sr)
{
	const struct engine_case *c = sr->c;
	struct conf *conf = &sr->conf;

	memset(conf, 0, sizeof(*conf));
	conf->ntiers = c->tiers != NULL ? c->ntiers : nitems(steps_tiers);
	memcpy(conf->tiers, c->tiers != NULL ? c->tiers : steps_tiers,
	    conf->ntiers * sizeof(*conf->tiers));
	conf->max_wait_ms = 90000;
	conf->overflow_target = (char *)"988";
	conf->continuity_ms = c->continuity_ms == 0 ? 10000
	    : c->continuity_ms < 0                  ? 0
	                                            : c->continuity_ms;
	conf->imminent_max_wait_ms = 30000;
	conf->wrapup_ms = 5000;
	conf->max_missed_offers = 2;
	conf->max_offers_per_clinician = c->cap == CAP_NONE ? 0
	    : c->cap == 0                                   ? 1
	                                                    : c->cap;
}

/* The case's roster: each clinician on call on its tiers all day. */
static void
steps_roster(struct steps_run *sr)
{
	const struct engine_case *c = sr->c;

	for (size_t i = 0; i < CASE_CLINS_MAX && c->clins[i].id != NULL; i++) {
		const struct case_clin *cc = &c->clins[i];

		fake_store_add_clinician(sr->st, cc->id, cc->languages, NULL,
		    NULL);
		for (int t = 1; t <= 3; t++) {
			if (cc->tiers & (UINT32_C(1) << t))
				fake_store_add_shift(sr->st, cc->id, t,
				    STEPS_T0 - 3600000, STEPS_T0 + 86400000);
		}
	}
	for (size_t i = 0; i < CASE_PATIENTS_MAX && c->patients[i].id != NULL;
	     i++)
		fake_store_add_patient(sr->st, c->patients[i].id,
		    c->patients[i].primary);
}

void
steps_run(const struct engine_case *c)
{
	struct steps_run *sr = xcalloc(1, sizeof(*sr));
	char *cause = NULL;
	const char *what;

	sr->c = c;
	sr->st = fake_store_new();
	steps_conf(sr);
	steps_roster(sr);
	sr->r = rig_new(sr->st, &sr->conf, STEPS_T0, &cause);
	if (sr->r == NULL)
		steps_fail(sr, "engine_new: %s", cause);
	for (sr->step = 0;
	     sr->step < STEPS_MAX && c->steps[sr->step].kind != STEP_END;
	     sr->step++)
		steps_one(sr, &c->steps[sr->step]);
	for (size_t i = 0; i < sr->r->nparties; i++)
		steps_quiet(sr, sr->r->parties[i].name);
	if (fake_store_violations(sr->st, &what) != 0)
		steps_fail(sr, "the store refused a write: %s", what);
	rig_free(sr->r);
	fake_store_free(sr->st);
	free(sr);
}
