/*
 * ctl_roster.c: crisisctl's set-up and roster commands: init, principals,
 * clinicians, tokens, patients, shifts, roster import, oncall and gaps.
 *
 * Every write joins the store's batch and is committed before anything is
 * printed: a token is shown only once, so it is shown only once it is
 * durable.  The daemon notices roster changes through the triggers'
 * roster_version, so nothing here signals it.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "msg.h"
#include "roster.h"
#include "store.h"
#include "token.h"
#include "util.h"

#include "ctl.h"

/* Shifts one roster import may hold. */
#define CTL_IMPORT_ROWS_MAX 100000
/* Shifts of an import that its audit row lists (it counts them all). */
#define CTL_IMPORT_AUDIT_SHIFTS 1000
/*
 * An import not done after an hour is abandoned, whatever its process: an
 * import of CTL_IMPORT_ROWS_MAX shifts takes seconds.
 */
#define CTL_IMPORT_STALE_MS (3600LL * 1000)
/* Longest clinician name and endpoint. */
#define CTL_NAME_MAX_BYTES 128
#define CTL_ENDPOINT_MAX_BYTES 512
/* Entries of a language or skill list: how many, and how long each. */
#define CTL_LIST_MAX 16
#define CTL_LIST_ITEM_MAX_BYTES 32
/* roster gaps looks this far ahead by default: 7 days. */
#define CTL_GAPS_DEFAULT_MS (7LL * 24 * 3600 * 1000)

#define CTL_STR_(x) #x
#define CTL_STR(x) CTL_STR_(x)

/* The columns oncall prints. */
static const char *const ctl_roster_oncall_columns[] = { "tier", "clinician",
	"name", "start", "end", NULL };
/* The columns roster gaps prints. */
static const char *const ctl_roster_gap_columns[] = { "start", "end",
	"duration_ms", NULL };

/* Is s 1..max bytes of UTF-8 text with no control characters, not even tab? */
static bool
ctl_roster_text_ok(const char *s, size_t max)
{
	return ctl_text_ok(s, max) && strchr(s, '\t') == NULL;
}

/* Is c allowed in a language or skill name? */
static bool
ctl_roster_list_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

/*
 * Check a comma-separated list ("en, es") and write it lower-cased without
 * spaces into out ("en,es"); -1 if it is malformed.
 */
static int
ctl_roster_list(const char *in, char *out, size_t size)
{
	size_t n = 0, items = 0, len = 0;
	const char *p = in;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		for (len = 0; *p != '\0' && *p != ',' && *p != ' ';
		     p++, len++) {
			char c = *p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p;

			if (!ctl_roster_list_char(c) || n + 2 >= size ||
			    len >= CTL_LIST_ITEM_MAX_BYTES)
				return -1;
			out[n++] = c;
		}
		while (*p == ' ')
			p++;
		if (len == 0 || ++items > CTL_LIST_MAX ||
		    (*p != ',' && *p != '\0'))
			return -1;
		if (*p == ',') {
			if (*++p == '\0')
				return -1;
			out[n++] = ',';
		}
	}
	out[n] = '\0';
	return 0;
}

/* Commit, then print the new token alone on stdout and forget it. */
static int
ctl_roster_token_done(struct ctl *ctl, char token[TOKEN_TEXT_MAX])
{
	int rc = ctl_commit(ctl);

	if (rc == CTL_OK)
		printf("%s\n", token);
	explicit_bzero(token, TOKEN_TEXT_MAX);
	return rc;
}

/* Roll back what the command wrote and report the store's error. */
static int
ctl_roster_fail(struct ctl *ctl)
{
	int rc = ctl_store_fail(ctl, NULL);

	store_rollback(ctl->store);
	return rc;
}

/* A principal id argument must be valid. */
int
ctl_roster_check_id(const struct ctl *ctl, const char *what, const char *id)
{
	if (util_valid_principal_id(id))
		return CTL_OK;
	return ctl_usage_error(ctl,
	    "bad %s id \"%s\": 1 to %d of "
	    "A-Z a-z 0-9 . _ @ -",
	    what, id, PRINCIPAL_ID_MAX);
}

/* Has the process that started an import exited (on this host)? */
static bool
ctl_roster_import_gone(void *arg, long pid)
{
	(void)arg;
	return pid <= 0 || (kill((pid_t)pid, 0) == -1 && errno == ESRCH);
}

/*
 * Remove the shifts of imports that a killed crisisctl left unfinished
 * (invisible, but taking room): those whose process is gone, or started
 * over CTL_IMPORT_STALE_MS ago.
 */
static int
ctl_roster_import_sweep(struct ctl *ctl)
{
	int dropped;

	if (store_shift_import_sweep(ctl->store,
	        ctl->now_ms - CTL_IMPORT_STALE_MS, ctl_roster_import_gone, NULL,
	        &dropped) != STORE_OK)
		return ctl_store_fail(ctl,
		    "removing unfinished roster imports");
	if (dropped > 0)
		log_notice("removed the shifts of %d unfinished roster "
		           "import%s",
		    dropped, dropped == 1 ? "" : "s");
	return CTL_OK;
}

/*
 * Create or migrate the database (opened with STORE_OPEN_MIGRATE) and say
 * so; remove what killed roster imports left behind.
 */
int
ctl_roster_init(struct ctl *ctl)
{
	int found = store_schema_version(ctl->store);
	const char *db = ctl->conf->database;

	if (found == 0)
		printf("initialised %s at schema version %d\n", db,
		    STORE_SCHEMA_VERSION);
	else if (found < STORE_SCHEMA_VERSION)
		printf("migrated %s from schema version %d to %d\n", db, found,
		    STORE_SCHEMA_VERSION);
	else
		printf("%s is already at schema version %d\n", db, found);
	return ctl_roster_import_sweep(ctl);
}

/* principal add ID --role intake|supervisor: print its token. */
int
ctl_roster_principal_add(struct ctl *ctl)
{
	static const char *const roles[] = { "intake", "supervisor", NULL };
	const char *id = ctl->pos[0], *role = ctl_opt(ctl, "role");
	uint8_t hash[TOKEN_HASH_BYTES];
	char token[TOKEN_TEXT_MAX];
	int rc;

	if ((rc = ctl_roster_check_id(ctl, "principal", id)) != CTL_OK)
		return rc;
	if (role == NULL)
		return ctl_usage_error(ctl, "--role is required");
	if (strcmp(role, "clinician") == 0)
		return ctl_usage_error(ctl,
		    "clinicians are added with "
		    "crisisctl clinician add");
	if ((rc = ctl_enum_opt(ctl, "role", roles)) != CTL_OK)
		return rc;
	token_new(token, hash);
	if (store_principal_add(ctl->store, id, role, hash, ctl->now_ms) !=
	        STORE_OK ||
	    ctl_audit_change(ctl, "change.principal", id, NULL,
	        json_pack("{s:s, s:s}", "id", id, "role", role)) != CTL_OK) {
		explicit_bzero(token, sizeof(token));
		return ctl_roster_fail(ctl);
	}
	return ctl_roster_token_done(ctl, token);
}

/* Check clinician add's options and fill c; lists go into the buffers. */
static int
ctl_roster_clinician_opts(const struct ctl *ctl, struct store_clinician *c,
    char *languages, char *skills, size_t size)
{
	const char *langs = ctl_opt(ctl, "languages");
	const char *sk = ctl_opt(ctl, "skills");

	c->name = ctl_opt(ctl, "name");
	c->endpoint = ctl_opt(ctl, "endpoint");
	if (c->name == NULL)
		return ctl_usage_error(ctl, "--name is required");
	if (!ctl_roster_text_ok(c->name, CTL_NAME_MAX_BYTES))
		return ctl_usage_error(ctl, "--name: 1 to %d bytes of text",
		    CTL_NAME_MAX_BYTES);
	if (c->endpoint != NULL &&
	    !ctl_roster_text_ok(c->endpoint, CTL_ENDPOINT_MAX_BYTES))
		return ctl_usage_error(ctl, "--endpoint: 1 to %d bytes of text",
		    CTL_ENDPOINT_MAX_BYTES);
	if (langs != NULL && ctl_roster_list(langs, languages, size) != 0)
		return ctl_usage_error(ctl,
		    "--languages: a comma-separated "
		    "list like en,es: %s",
		    langs);
	if (sk != NULL && ctl_roster_list(sk, skills, size) != 0)
		return ctl_usage_error(ctl,
		    "--skills: a comma-separated list "
		    "like mat,family: %s",
		    sk);
	c->languages = langs != NULL ? languages : NULL;
	c->skills = sk != NULL ? skills : NULL;
	return CTL_OK;
}

/* A clinician as the audit records it. */
static json_t *
ctl_roster_clinician_json(const struct store_clinician *c)
{
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "id", c->id, "name",
	    c->name, "languages", c->languages, "skills", c->skills, "endpoint",
	    c->endpoint);
}

/* clinician add ID --name N [...]: print its token. */
int
ctl_roster_clinician_add(struct ctl *ctl)
{
	char languages[CTL_LIST_MAX * (CTL_LIST_ITEM_MAX_BYTES + 1) + 1];
	char skills[sizeof(languages)];
	struct store_clinician c = { .id = ctl->pos[0] };
	uint8_t hash[TOKEN_HASH_BYTES];
	char token[TOKEN_TEXT_MAX];
	int rc;

	if ((rc = ctl_roster_check_id(ctl, "clinician", c.id)) != CTL_OK ||
	    (rc = ctl_roster_clinician_opts(ctl, &c, languages, skills,
	         sizeof(languages))) != CTL_OK)
		return rc;
	token_new(token, hash);
	if (store_clinician_add(ctl->store, &c, hash, ctl->now_ms) !=
	        STORE_OK ||
	    ctl_audit_change(ctl, "change.clinician", c.id, NULL,
	        ctl_roster_clinician_json(&c)) != CTL_OK) {
		explicit_bzero(token, sizeof(token));
		return ctl_roster_fail(ctl);
	}
	return ctl_roster_token_done(ctl, token);
}

/* token reset ID: print a new token; the old one stops working. */
int
ctl_roster_token_reset(struct ctl *ctl)
{
	const char *id = ctl->pos[0];
	uint8_t hash[TOKEN_HASH_BYTES];
	char token[TOKEN_TEXT_MAX];
	int rc;

	if ((rc = ctl_roster_check_id(ctl, "principal", id)) != CTL_OK)
		return rc;
	token_new(token, hash);
	if (store_token_set(ctl->store, id, hash) != STORE_OK ||
	    ctl_audit_change(ctl, "change.token", id,
	        json_pack("{s:s, s:s}", "id", id, "token", "old"),
	        json_pack("{s:s, s:s}", "id", id, "token", "new")) != CTL_OK) {
		explicit_bzero(token, sizeof(token));
		return ctl_roster_fail(ctl);
	}
	return ctl_roster_token_done(ctl, token);
}

/*
 * Disable or enable principal ID.  A disabled principal cannot say hello,
 * and crisisd closes its live connections within a second; its records
 * stay.  Prints what it did.
 */
static int
ctl_roster_principal_set_disabled(struct ctl *ctl, bool disabled)
{
	const char *id = ctl->pos[0];
	int rc;

	if ((rc = ctl_roster_check_id(ctl, "principal", id)) != CTL_OK)
		return rc;
	if (store_principal_disable(ctl->store, id, disabled, ctl->now_ms) !=
	        STORE_OK ||
	    ctl_audit_change(ctl, "change.principal", id,
	        json_pack("{s:s}", "id", id),
	        json_pack("{s:s, s:b}", "id", id, "disabled", disabled)) !=
	        CTL_OK)
		return ctl_roster_fail(ctl);
	if ((rc = ctl_commit(ctl)) == CTL_OK)
		printf("%s %s\n", disabled ? "disabled" : "enabled", id);
	return rc;
}

/* principal disable ID. */
int
ctl_roster_principal_disable(struct ctl *ctl)
{
	return ctl_roster_principal_set_disabled(ctl, true);
}

/* principal enable ID. */
int
ctl_roster_principal_enable(struct ctl *ctl)
{
	return ctl_roster_principal_set_disabled(ctl, false);
}

/*
 * Add or replace the patient, with what it was before in the audit.  The
 * batch is opened first, so nobody changes the row between the two.
 */
static int
ctl_roster_patient_store(struct ctl *ctl, const char *id, const char *primary,
    const char *program)
{
	json_t *before = NULL;

	if (store_review_begin(ctl->store) != STORE_OK)
		return ctl_roster_fail(ctl);
	if ((before = store_review_patient(ctl->store, id)) == NULL &&
	    strcmp(store_error(ctl->store), "not found") != 0)
		return ctl_roster_fail(ctl);
	if (store_patient_add(ctl->store, id, primary, program) != STORE_OK ||
	    ctl_audit_change(ctl, "change.patient", id, before,
	        json_pack("{s:s, s:s, s:s?}", "id", id, "primary", primary,
	            "program", program)) != CTL_OK)
		return ctl_roster_fail(ctl);
	return ctl_commit(ctl);
}

/* patient add ID --primary CLINICIAN [--program P]. */
int
ctl_roster_patient_add(struct ctl *ctl)
{
	const char *id = ctl->pos[0], *primary = ctl_opt(ctl, "primary");
	const char *program = ctl_opt(ctl, "program");
	int rc;

	if (!ctl_roster_text_ok(id, MSG_STRING_MAX_BYTES))
		return ctl_usage_error(ctl,
		    "bad patient id: 1 to %d bytes of "
		    "text",
		    MSG_STRING_MAX_BYTES);
	if (primary == NULL)
		return ctl_usage_error(ctl, "--primary is required");
	if ((rc = ctl_roster_check_id(ctl, "clinician", primary)) != CTL_OK)
		return rc;
	if (program != NULL &&
	    !ctl_roster_text_ok(program, MSG_STRING_MAX_BYTES))
		return ctl_usage_error(ctl, "--program: 1 to %d bytes of text",
		    MSG_STRING_MAX_BYTES);
	return ctl_roster_patient_store(ctl, id, primary, program);
}

/* Warn when a shift's tier is not one the routing config has. */
static void
ctl_roster_check_tier(const struct ctl *ctl, int tier)
{
	if (conf_tier(ctl->conf, tier) == NULL)
		log_warnx("warning: the routing config has no tier %d; this "
		          "shift routes nothing until it does",
		    tier);
}

/* A shift as the audit records it. */
static json_t *
ctl_roster_shift_json(const struct store_shift *s)
{
	json_t *o =
	    json_pack("{s:s, s:i}", "clinician", s->clinician, "tier", s->tier);

	ctl_audit_time(o, "start", s->start_ms);
	ctl_audit_time(o, "end", s->end_ms);
	return o;
}

/* shift add CLINICIAN --tier N --from T --to T. */
int
ctl_roster_shift_add(struct ctl *ctl)
{
	struct store_shift s = { .clinician = ctl->pos[0] };
	long tier;
	int rc;

	if ((rc = ctl_roster_check_id(ctl, "clinician", s.clinician)) != CTL_OK)
		return rc;
	if (ctl_opt(ctl, "tier") == NULL || ctl_opt(ctl, "from") == NULL ||
	    ctl_opt(ctl, "to") == NULL)
		return ctl_usage_error(ctl,
		    "--tier, --from and --to are "
		    "required");
	if ((rc = ctl_long_opt(ctl, "tier", 0, 1, ROSTER_TIER_MAX, &tier)) !=
	        CTL_OK ||
	    (rc = ctl_time_opt(ctl, "from", 0, &s.start_ms)) != CTL_OK ||
	    (rc = ctl_time_opt(ctl, "to", 0, &s.end_ms)) != CTL_OK)
		return rc;
	if (s.end_ms <= s.start_ms)
		return ctl_usage_error(ctl, "--to must be after --from");
	s.tier = (int)tier;
	ctl_roster_check_tier(ctl, s.tier);
	if (store_shift_add(ctl->store, &s) != STORE_OK ||
	    ctl_audit_change(ctl, "change.shift", s.clinician, NULL,
	        ctl_roster_shift_json(&s)) != CTL_OK)
		return ctl_roster_fail(ctl);
	return ctl_commit(ctl);
}

/* --- roster import --- */

/* The shifts read from an import file, with the line each came from. */
struct ctl_import {
	const char *path;
	struct store_shift *rows;
	long *lines;
	size_t nrows;
	size_t cap;
	size_t skipped; /* rows the roster or the file had already */
};

/* Strip blanks around a field in place. */
static char *
ctl_roster_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Check one record as a shift; NULL, or why it is not one. */
static const char *
ctl_roster_import_shift(struct fmt_csv *csv, struct store_shift *s)
{
	const char *clinician, *tier, *start, *end;
	char *rest;
	long t;

	if (csv->nfields != 4)
		return "expected 4 fields: clinician,tier,start,end";
	clinician = ctl_roster_trim(csv->fields[0]);
	tier = ctl_roster_trim(csv->fields[1]);
	start = ctl_roster_trim(csv->fields[2]);
	end = ctl_roster_trim(csv->fields[3]);
	if (!util_valid_principal_id(clinician))
		return "bad clinician id";
	errno = 0;
	t = strtol(tier, &rest, 10);
	if (*tier == '\0' || *rest != '\0' || errno != 0 || t < 1 ||
	    t > ROSTER_TIER_MAX)
		return "tier must be a whole number from 1 to " CTL_STR(
		    ROSTER_TIER_MAX);
	if (util_parse_rfc3339(start, &s->start_ms) != 0)
		return "start is not an RFC 3339 time";
	if (util_parse_rfc3339(end, &s->end_ms) != 0)
		return "end is not an RFC 3339 time";
	if (s->end_ms <= s->start_ms)
		return "end is not after start";
	s->tier = (int)t;
	s->clinician = xstrdup(clinician);
	return NULL;
}

/* Add the record just read to imp; -1 (error printed) if it is bad. */
static int
ctl_roster_import_row(struct ctl_import *imp, struct fmt_csv *csv)
{
	struct store_shift s = { 0 };
	const char *why;

	if (imp->nrows == CTL_IMPORT_ROWS_MAX) {
		log_error("%s:%ld: more than %d shifts in one import",
		    imp->path, csv->record_line, CTL_IMPORT_ROWS_MAX);
		return -1;
	}
	if ((why = ctl_roster_import_shift(csv, &s)) != NULL) {
		log_error("%s:%ld: %s", imp->path, csv->record_line, why);
		return -1;
	}
	if (imp->nrows == imp->cap) {
		imp->cap = imp->cap == 0 ? 64 : imp->cap * 2;
		imp->rows =
		    xreallocarray(imp->rows, imp->cap, sizeof(*imp->rows));
		imp->lines =
		    xreallocarray(imp->lines, imp->cap, sizeof(*imp->lines));
	}
	imp->lines[imp->nrows] = csv->record_line;
	imp->rows[imp->nrows++] = s;
	return 0;
}

/* Is the record the header clinician,tier,start,end? */
static bool
ctl_roster_import_header(struct fmt_csv *csv)
{
	static const char *const names[] = { "clinician", "tier", "start",
		"end" };

	if (csv->nfields != nitems(names))
		return false;
	for (size_t i = 0; i < nitems(names); i++) {
		if (strcmp(ctl_roster_trim(csv->fields[i]), names[i]) != 0)
			return false;
	}
	return true;
}

/* Read every record of fp into imp; -1 (error printed) on the first bad one. */
static int
ctl_roster_import_read(struct ctl_import *imp, FILE *fp)
{
	struct fmt_csv *csv = xmalloc(sizeof(*csv));
	char *cause = NULL;
	int r, rc = -1;

	fmt_csv_init(csv, fp);
	if ((r = fmt_csv_read(csv, &cause)) == 0)
		log_error("%s: empty file; the first line must be "
		          "clinician,tier,start,end",
		    imp->path);
	else if (r == 1 && !ctl_roster_import_header(csv))
		log_error("%s:%ld: the first line must be exactly "
		          "clinician,tier,start,end",
		    imp->path, csv->record_line);
	else if (r == 1) {
		while ((r = fmt_csv_read(csv, &cause)) == 1 &&
		    ctl_roster_import_row(imp, csv) == 0)
			;
		if (r == 0)
			rc = 0;
	}
	if (r == -1)
		log_error("%s:%ld: %s", imp->path, csv->line, cause);
	free(cause);
	free(csv);
	return rc;
}

/*
 * What an import added, for the audit: the file, the import (its shifts
 * carry its id in the database), how many, and the shifts themselves up to
 * CTL_IMPORT_AUDIT_SHIFTS.  The audit row is written in the import's last,
 * short transaction; every shift of a large file would make it megabytes.
 */
static json_t *
ctl_roster_import_json(const struct ctl_import *imp, int64_t id)
{
	json_t *shifts = json_array(), *o;
	size_t n = imp->nrows < CTL_IMPORT_AUDIT_SHIFTS
	    ? imp->nrows
	    : CTL_IMPORT_AUDIT_SHIFTS;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(shifts,
		    ctl_roster_shift_json(&imp->rows[i]));
	o = json_pack("{s:s, s:I, s:I, s:o}", "file", imp->path, "import",
	    (json_int_t)id, "count", (json_int_t)imp->nrows, "shifts", shifts);
	if (n < imp->nrows)
		json_object_set_new(o, "shifts_not_listed",
		    json_integer((json_int_t)(imp->nrows - n)));
	if (imp->skipped > 0)
		json_object_set_new(o, "skipped_duplicates",
		    json_integer((json_int_t)imp->skipped));
	return o;
}

/* Report a failed import: at the offending line if there is one. */
static int
ctl_roster_import_fail(struct ctl *ctl, const struct ctl_import *imp, long bad)
{
	if (bad >= 0 && (size_t)bad < imp->nrows)
		log_error("%s:%ld: %s", imp->path, imp->lines[bad],
		    store_error(ctl->store));
	else
		log_error("%s: %s", imp->path, store_error(ctl->store));
	return CTL_FAIL;
}

/*
 * Hand the shifts to the store, which stages them in short transactions,
 * then commit the import's last one, marking it done, with its audit row.
 * If that commit fails, the staged shifts are removed.
 */
static int
ctl_roster_import_store(struct ctl *ctl, struct ctl_import *imp)
{
	struct store_import si = { .source = imp->path,
		.pid = (long)getpid(),
		.started_ms = ctl->now_ms };
	int rc;

	for (size_t i = 0; i < imp->nrows; i++) {
		if (i == 0 || imp->rows[i].tier != imp->rows[i - 1].tier)
			ctl_roster_check_tier(ctl, imp->rows[i].tier);
	}
	if ((rc = ctl_roster_import_sweep(ctl)) != CTL_OK)
		return rc;
	if (store_shift_import(ctl->store, &si, imp->rows, imp->nrows) !=
	    STORE_OK) {
		store_rollback(ctl->store);
		return ctl_roster_import_fail(ctl, imp, si.bad_row);
	}
	imp->skipped = si.skipped;
	if ((rc = ctl_audit_change(ctl, "change.roster", imp->path, NULL,
	         ctl_roster_import_json(imp, si.id))) == CTL_OK)
		rc = ctl_commit(ctl);
	if (rc != CTL_OK) {
		store_rollback(ctl->store);
		if (store_shift_import_drop(ctl->store, si.id) != STORE_OK)
			ctl_store_fail(ctl, "removing the staged shifts");
	}
	return rc;
}

/*
 * roster import FILE.csv ("-": stdin): all rows or none, staged in short
 * transactions and visible all at once.
 */
int
ctl_roster_import(struct ctl *ctl)
{
	struct ctl_import imp = { .path = ctl->pos[0] };
	bool is_stdin = strcmp(imp.path, "-") == 0;
	FILE *fp = is_stdin ? stdin : fopen(imp.path, "r");
	int rc = CTL_FAIL;

	if (fp == NULL) {
		log_error("%s: %s", imp.path, strerror(errno));
		return CTL_FAIL;
	}
	if (ctl_roster_import_read(&imp, fp) == 0 &&
	    (rc = ctl_roster_import_store(ctl, &imp)) == CTL_OK &&
	    imp.skipped == 0)
		printf("imported %zu shifts from %s\n", imp.nrows, imp.path);
	else if (rc == CTL_OK)
		printf("imported %zu shifts from %s (%zu already there, "
		       "skipped)\n",
		    imp.nrows - imp.skipped, imp.path, imp.skipped);
	if (!is_stdin)
		fclose(fp);
	for (size_t i = 0; i < imp.nrows; i++)
		free((char *)(uintptr_t)imp.rows[i].clinician);
	free(imp.rows);
	free(imp.lines);
	return rc;
}

/* --- who is on call --- */

/* oncall [--at T]: the shifts covering T, by tier, with names. */
int
ctl_roster_oncall(struct ctl *ctl)
{
	json_t *rows;
	int64_t at;
	int rc;

	if ((rc = ctl_time_opt(ctl, "at", ctl->now_ms, &at)) != CTL_OK)
		return rc;
	if ((rows = store_review_shifts(ctl->store, at, at + 1, 0)) == NULL)
		return ctl_store_fail(ctl, NULL);
	rc = ctl_print_rows(ctl, rows, ctl_roster_oncall_columns);
	json_decref(rows);
	return rc;
}

/* The windows of [from, to) without a tier 1 shift, as listing rows. */
static json_t *
ctl_roster_gap_rows(json_t *shifts, int64_t from, int64_t to)
{
	size_t n = json_array_size(shifts), ngaps, i;
	struct roster_shift *s = xcalloc(n + 1, sizeof(*s));
	struct roster_window *w = xcalloc(n + 1, sizeof(*w));
	json_t *rows = json_array(), *v;

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
	return rows;
}

/* roster gaps [--from T] [--to T]: when tier 1 has nobody on call. */
int
ctl_roster_gaps(struct ctl *ctl)
{
	json_t *shifts, *rows;
	int64_t from, to;
	int rc;

	if ((rc = ctl_time_opt(ctl, "from", ctl->now_ms, &from)) != CTL_OK ||
	    (rc = ctl_time_opt(ctl, "to", from + CTL_GAPS_DEFAULT_MS, &to)) !=
	        CTL_OK)
		return rc;
	if (to <= from)
		return ctl_usage_error(ctl, "--to must be after --from");
	if ((shifts = store_review_shifts(ctl->store, from, to, 1)) == NULL)
		return ctl_store_fail(ctl, NULL);
	rows = ctl_roster_gap_rows(shifts, from, to);
	rc = ctl_print_rows(ctl, rows, ctl_roster_gap_columns);
	json_decref(rows);
	json_decref(shifts);
	return rc;
}
