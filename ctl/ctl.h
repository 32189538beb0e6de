/*
 * ctl.h: what crisisctl's files share: the parsed command line, the open
 * config and store, the command handlers and a few helpers.  Private to
 * ctl/.
 */
#ifndef CRISISD_CTL_H
#define CRISISD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fmt.h"

/* Exit codes (CONTRACT §1). */
enum ctl_exit {
	CTL_OK = 0,
	CTL_FAIL = 1, /* runtime failure: database error, not found */
	CTL_USAGE = 2, /* usage or config error */
};

/* Most value-taking options and positional arguments a command has. */
#define CTL_OPTS_MAX 12
#define CTL_POS_MAX 2
/* Longest audit actor: "user (sudo: user)". */
#define CTL_ACTOR_MAX 160

struct ctl;

/* One command: its words, handler, arguments and options. */
struct ctl_cmd {
	const char *words; /* "roster import" */
	int (*handler)(struct ctl *ctl);
	const char *usage; /* what follows the words, for --help */
	size_t npos; /* positional arguments it requires */
	const char *const *opts; /* value-taking options, NULL-terminated */
	bool migrate; /* open with STORE_OPEN_MIGRATE (init) */
};

struct ctl {
	const struct ctl_cmd *cmd;
	struct conf *conf;
	struct store *store;
	enum fmt_format format;
	int64_t now_ms;
	const char *pos[CTL_POS_MAX];
	const char *opt[CTL_OPTS_MAX]; /* indexed like cmd->opts; NULL: unset */
	char actor[CTL_ACTOR_MAX]; /* who the audit says ran the command */
};

/* The value given for option name, or NULL. */
const char *ctl_opt(const struct ctl *ctl, const char *name);

/* Print "crisisctl: why" and the command's usage line; CTL_USAGE. */
int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a failed store call as "crisisctl: [what: ]why"; CTL_FAIL. */
int ctl_store_fail(const struct ctl *ctl, const char *what);

/* Commit the writes made so far; CTL_OK or CTL_FAIL. */
int ctl_commit(struct ctl *ctl);

/*
 * Option name as an RFC 3339 time, or a date (its midnight in the
 * configured zone), into *ms, or def if not given.  CTL_OK, or CTL_USAGE
 * with the error printed.
 */
int
ctl_time_opt(const struct ctl *ctl, const char *name, int64_t def, int64_t *ms);

/*
 * --since and --until as [since, until), 0 for a missing bound; CTL_OK,
 * or CTL_USAGE with the error printed.
 */
int ctl_window_opt(const struct ctl *ctl, int64_t *since, int64_t *until);

/* $TZ as it was before ctl_tz_use(). */
struct ctl_tz {
	char *saved; /* NULL: it was unset */
};

/*
 * Set $TZ to the configured zone (the C library's calendar works only
 * through $TZ) until ctl_tz_restore().
 */
void ctl_tz_use(const struct ctl *ctl, struct ctl_tz *old);
void ctl_tz_restore(struct ctl_tz *old);

/* Option name as an integer in [min, max], or def if not given. */
int ctl_long_opt(const struct ctl *ctl, const char *name, long def, long min,
    long max, long *out);

/* Is value one of names (NULL-terminated)?  NULL (not given) passes. */
int
ctl_enum_opt(const struct ctl *ctl, const char *name, const char *const *names);

/* Print a listing or an object in the chosen format; CTL_OK or CTL_FAIL. */
int
ctl_print_rows(const struct ctl *ctl, json_t *rows, const char *const *columns);
int ctl_print_object(const struct ctl *ctl, json_t *obj);

/* Report a failed write to stdout with errno's text; CTL_FAIL. */
int ctl_output_fail(void);

/* The configured display time zone (NULL: UTC). */
const char *ctl_timezone(const struct ctl *ctl);

/* Is s a contact id as crisisd prints them: 1..64 printable ASCII? */
bool ctl_valid_cid(const char *s);
/*
 * Is s 1..max bytes of UTF-8 text without control characters (but tabs)?
 * What crisisctl stores is printed and sent as JSON, which takes nothing
 * but UTF-8.
 */
bool ctl_text_ok(const char *s, size_t max);

/* ctl_audit.c: the audit of every read and change (42 CFR Part 2) */

/* Fill ctl->actor: the OS user, and the sudo user behind root. */
void ctl_audit_init(struct ctl *ctl);

/*
 * Record a read of contact records (action "read.log", ...) and commit it
 * before anything is read: a read that cannot be recorded is refused.
 * detail (stolen) says what was read: the filter or the contact ids.
 */
int ctl_audit_read(struct ctl *ctl, const char *action, const char *target,
    json_t *detail);

/*
 * Record a change (action "change.shift", ...) in the open batch, so it
 * commits with the change or not at all.  before and after are stolen
 * (NULL: none).
 */
int ctl_audit_change(struct ctl *ctl, const char *action, const char *target,
    json_t *before, json_t *after);

/* Set key to ms as RFC 3339 UTC text in obj, unless ms is 0. */
void ctl_audit_time(json_t *obj, const char *key, int64_t ms);

int ctl_audit_list(struct ctl *ctl);
int ctl_audit_disclosures(struct ctl *ctl);
int ctl_audit_followups(struct ctl *ctl);
int ctl_audit_followup_close(struct ctl *ctl);

/* ctl_contact.c */
int ctl_contact_close(struct ctl *ctl);

/* ctl_roster.c */

/* A principal id argument must be valid; CTL_USAGE with the error if not. */
int
ctl_roster_check_id(const struct ctl *ctl, const char *what, const char *id);

int ctl_roster_init(struct ctl *ctl);
int ctl_roster_principal_add(struct ctl *ctl);
int ctl_roster_clinician_add(struct ctl *ctl);
int ctl_roster_token_reset(struct ctl *ctl);
int ctl_roster_principal_disable(struct ctl *ctl);
int ctl_roster_principal_enable(struct ctl *ctl);
int ctl_roster_patient_add(struct ctl *ctl);
int ctl_roster_shift_add(struct ctl *ctl);
int ctl_roster_import(struct ctl *ctl);
int ctl_roster_oncall(struct ctl *ctl);
int ctl_roster_gaps(struct ctl *ctl);

/* ctl_review.c */
int ctl_review_log(struct ctl *ctl);
int ctl_review_show(struct ctl *ctl);
int ctl_review_stats(struct ctl *ctl);

/* ctl_password.c */
int ctl_password_set(struct ctl *ctl);

/* ctl_backup.c */
int ctl_backup(struct ctl *ctl);

/* ctl_status.c: who serves the database (CONTRACT §10). */
int ctl_status(struct ctl *ctl);
/* Does a crisisd serve the database now: 1 yes, 0 no, -1 error (said)? */
int ctl_daemon_serving(struct ctl *ctl);

#endif
