/*
 * ctl_audit.c: 42 CFR Part 2 records: every look at them is itself on
 * record.  The audit rows crisisctl writes for each read and change, and
 * the commands over the review records: audit, disclosures, followups and
 * followup close.
 *
 * A read's audit row is committed before anything is read, so no record
 * is shown that the audit does not know was shown.  A change's row joins
 * the change's own transaction: both are durable or neither is.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "store.h"
#include "util.h"

#include "ctl.h"

/* Longest follow-up note, in bytes. */
#define CTL_NOTE_MAX_BYTES 4096
/* Longest detail an audit table shows, in bytes. */
#define CTL_AUDIT_DETAIL_TABLE_BYTES 200

/* The columns each listing shows in a table (JSON shows every key). */
static const char *const ctl_audit_columns[] = { "at", "actor", "action",
	"target", "detail", NULL };
static const char *const ctl_audit_disclosure_columns[] = { "at", "contact",
	"patient", "clinician", "recipient", "affiliation", "nature", NULL };
static const char *const ctl_audit_followup_columns[] = { "id", "opened_at",
	"age_ms", "reason", "contact", "risk", "channel", "caller", "patient",
	NULL };

/*
 * The user who ran sudo: $SUDO_USER, if it is a real user whose uid is
 * $SUDO_UID (as sudo sets them) and crisisd runs as another user (as
 * `sudo -u crisisd` makes it); NULL otherwise.  Anyone can set those
 * variables, so the real user is always recorded beside the name, as
 * "crisisd (sudo: alice)": the claim never hides who ran crisisctl.
 */
static const char *
ctl_audit_sudo_user(void)
{
	const char *name = getenv("SUDO_USER"), *uid = getenv("SUDO_UID");
	const struct passwd *pw;
	unsigned long long n;
	char *end;

	if (name == NULL || *name == '\0' || uid == NULL ||
	    !isdigit((unsigned char)uid[0]))
		return NULL;
	errno = 0;
	n = strtoull(uid, &end, 10);
	if (errno != 0 || *end != '\0' || n == (unsigned long long)getuid() ||
	    (pw = getpwnam(name)) == NULL ||
	    (unsigned long long)pw->pw_uid != n)
		return NULL;
	return name;
}

/* Fill ctl->actor: the OS user, and the sudo user behind root. */
void
ctl_audit_init(struct ctl *ctl)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo;
	char user[CTL_ACTOR_MAX / 2];

	if (pw != NULL && pw->pw_name != NULL)
		strlcpy_(user, pw->pw_name, sizeof(user));
	else
		snprintf(user, sizeof(user), "uid %lu",
		    (unsigned long)getuid());
	/* After the copy: getpwnam() may reuse getpwuid()'s storage. */
	sudo = ctl_audit_sudo_user();
	if (sudo != NULL)
		snprintf(ctl->actor, sizeof(ctl->actor), "%s (sudo: %.64s)",
		    user, sudo);
	else
		strlcpy_(ctl->actor, user, sizeof(ctl->actor));
}

/* Set key to ms as RFC 3339 UTC text in obj, unless ms is STORE_UNBOUNDED. */
void
ctl_audit_time(json_t *obj, const char *key, int64_t ms)
{
	char buf[RFC3339_MAX];

	if (ms == STORE_UNBOUNDED)
		return;
	util_format_rfc3339(ms, buf);
	json_object_set_new(obj, key, json_string(buf));
}

/* Write one audit row into the batch; detail is stolen. */
static int
ctl_audit_add(struct ctl *ctl, const char *action, const char *target,
    json_t *detail)
{
	char *text = NULL;
	int rc;

	if (detail != NULL &&
	    (text = json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	        NULL)
		fatalx("audit: cannot encode the detail");
	json_decref(detail);
	rc = store_audit_add(ctl->store, ctl->now_ms, ctl->actor, "os", action,
	    target, text);
	free(text);
	if (rc != STORE_OK)
		return ctl_store_fail(ctl, "audit");
	return CTL_OK;
}

/* Record a read and commit it before anything is read. */
int
ctl_audit_read(struct ctl *ctl, const char *action, const char *target,
    json_t *detail)
{
	int rc;

	if ((rc = ctl_audit_add(ctl, action, target, detail)) != CTL_OK) {
		store_rollback(ctl->store);
		return rc;
	}
	return ctl_commit(ctl);
}

/* Record a change in the open batch, with what was before and after. */
int
ctl_audit_change(struct ctl *ctl, const char *action, const char *target,
    json_t *before, json_t *after)
{
	json_t *detail = json_pack("{s:o, s:o}", "before",
	    before != NULL ? before : json_null(), "after",
	    after != NULL ? after : json_null());

	return ctl_audit_add(ctl, action, target, detail);
}

/* Print a listing read after its audit row; rows is freed. */
static int
ctl_audit_print(struct ctl *ctl, json_t *rows, const char *const *columns)
{
	int rc;

	if (rows == NULL)
		return ctl_store_fail(ctl, NULL);
	rc = ctl_print_rows(ctl, rows, columns);
	json_decref(rows);
	return rc;
}

/*
 * A table keeps each row on one line, so a long detail (a roster import
 * lists every shift) is cut short there; JSON and CSV keep it whole.
 */
static void
ctl_audit_shorten(json_t *rows)
{
	json_t *row;
	char *text;
	size_t i;

	json_array_foreach (rows, i, row) {
		text = json_dumps(json_object_get(row, "detail"),
		    JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
		        JSON_ENSURE_ASCII);
		if (text == NULL)
			continue;
		if (strlen(text) > CTL_AUDIT_DETAIL_TABLE_BYTES)
			strlcpy_(text + CTL_AUDIT_DETAIL_TABLE_BYTES - 3, "...",
			    4);
		json_object_set_new(row, "detail", json_string(text));
		free(text);
	}
}

/* audit [--since T] [--until T] [--actor A] [--action X] [--target ID]. */
int
ctl_audit_list(struct ctl *ctl)
{
	struct store_audit_filter f = { 0 };
	json_t *detail, *rows;
	int rc;

	if ((rc = ctl_window_opt(ctl, &f.since_ms, &f.until_ms)) != CTL_OK)
		return rc;
	f.actor = ctl_opt(ctl, "actor");
	f.action = ctl_opt(ctl, "action");
	f.target = ctl_opt(ctl, "target");
	detail = json_object();
	ctl_audit_time(detail, "since", f.since_ms);
	ctl_audit_time(detail, "until", f.until_ms);
	if (f.actor != NULL)
		json_object_set_new(detail, "actor", json_string(f.actor));
	if (f.action != NULL)
		json_object_set_new(detail, "action", json_string(f.action));
	if (f.target != NULL)
		json_object_set_new(detail, "target", json_string(f.target));
	if ((rc = ctl_audit_read(ctl, "read.audit", NULL, detail)) != CTL_OK)
		return rc;
	if ((rows = store_review_audit(ctl->store, &f)) != NULL &&
	    ctl->format == FMT_TABLE)
		ctl_audit_shorten(rows);
	return ctl_audit_print(ctl, rows, ctl_audit_columns);
}

/* disclosures [--since T] [--until T] [--patient P]: the §2.51 accounting. */
int
ctl_audit_disclosures(struct ctl *ctl)
{
	const char *patient = ctl_opt(ctl, "patient");
	int64_t since, until;
	json_t *detail;
	int rc;

	if ((rc = ctl_window_opt(ctl, &since, &until)) != CTL_OK)
		return rc;
	detail = json_object();
	ctl_audit_time(detail, "since", since);
	ctl_audit_time(detail, "until", until);
	if (patient != NULL)
		json_object_set_new(detail, "patient", json_string(patient));
	if ((rc = ctl_audit_read(ctl, "read.disclosures", patient, detail)) !=
	    CTL_OK)
		return rc;
	return ctl_audit_print(ctl,
	    store_review_disclosures(ctl->store, since, until, patient),
	    ctl_audit_disclosure_columns);
}

/* followups: the open ones, oldest first, with their age. */
int
ctl_audit_followups(struct ctl *ctl)
{
	json_t *rows, *row, *opened;
	size_t i;
	int rc;

	if ((rc = ctl_audit_read(ctl, "read.followups", NULL,
	         json_pack("{s:s}", "followups", "open"))) != CTL_OK)
		return rc;
	if ((rows = store_review_followups(ctl->store)) != NULL) {
		json_array_foreach (rows, i, row) {
			opened = json_object_get(row, "opened_at");
			json_object_set_new(row, "age_ms",
			    json_integer(
			        ctl->now_ms - json_integer_value(opened)));
		}
	}
	return ctl_audit_print(ctl, rows, ctl_audit_followup_columns);
}

/* Is s 1..max bytes of UTF-8 text without control characters (but tabs)? */
bool
ctl_text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (((unsigned char)s[n] < 0x20 && s[n] != '\t') ||
		    s[n] == 0x7f || n >= max)
			return false;
	}
	return n > 0 && util_utf8_valid(s);
}

/* Check followup close's arguments; its id into *id. */
static int
ctl_audit_close_args(const struct ctl *ctl, int64_t *id)
{
	const char *by = ctl_opt(ctl, "by"), *note = ctl_opt(ctl, "note");
	const char *arg = ctl->pos[0];
	char *end;
	long long n;

	errno = 0;
	n = strtoll(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || n < 1)
		return ctl_usage_error(ctl,
		    "bad follow-up id \"%s\": the "
		    "number crisisctl followups prints",
		    arg);
	if (by == NULL || note == NULL)
		return ctl_usage_error(ctl, "--by and --note are required");
	if (!util_valid_principal_id(by))
		return ctl_usage_error(ctl, "bad clinician id \"%s\"", by);
	if (!ctl_text_ok(note, CTL_NOTE_MAX_BYTES))
		return ctl_usage_error(ctl, "--note: 1 to %d bytes of text",
		    CTL_NOTE_MAX_BYTES);
	*id = n;
	return CTL_OK;
}

/* Explain why a follow-up could not be closed; CTL_FAIL. */
static int
ctl_audit_close_refused(struct ctl *ctl, int rc, int64_t id, json_t *before)
{
	char at[RFC3339_MAX];
	json_t *by;

	store_rollback(ctl->store);
	if (rc == STORE_NOTFOUND)
		log_error("no follow-up %lld; crisisctl followups lists the "
		          "open ones",
		    (long long)id);
	else if (rc == STORE_CONFLICT) {
		util_format_local(json_integer_value(
		                      json_object_get(before, "closed_at")),
		    ctl_timezone(ctl), at, sizeof(at));
		by = json_object_get(before, "closed_by");
		log_error("follow-up %lld was already closed at %s by %s",
		    (long long)id, at,
		    json_is_string(by) ? json_string_value(by) : "?");
	} else
		ctl_store_fail(ctl, NULL);
	json_decref(before);
	return CTL_FAIL;
}

/* followup close ID --by CLINICIAN --note TEXT. */
int
ctl_audit_followup_close(struct ctl *ctl)
{
	const char *by = ctl_opt(ctl, "by"), *note = ctl_opt(ctl, "note");
	json_t *before, *after;
	int64_t id = 0;
	int rc;

	if ((rc = ctl_audit_close_args(ctl, &id)) != CTL_OK)
		return rc;
	if ((rc = store_review_is_clinician(ctl->store, by)) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			log_error("no clinician %s", by);
		else
			ctl_store_fail(ctl, NULL);
		return CTL_FAIL;
	}
	rc = store_followup_close(ctl->store, id, by, note, ctl->now_ms,
	    &before);
	if (rc != STORE_OK)
		return ctl_audit_close_refused(ctl, rc, id, before);
	after = json_deep_copy(before);
	json_object_set_new(after, "closed_at", json_integer(ctl->now_ms));
	json_object_set_new(after, "closed_by", json_string(by));
	json_object_set_new(after, "note", json_string(note));
	rc = ctl_audit_change(ctl, "change.followup",
	    json_string_value(json_object_get(before, "contact")),
	    fmt_json_times(before), fmt_json_times(after));
	json_decref(before);
	json_decref(after);
	if (rc != CTL_OK) {
		store_rollback(ctl->store);
		return rc;
	}
	return ctl_commit(ctl);
}
