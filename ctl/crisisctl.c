/*
 * crisisctl.c: the operator and supervisor tool (CONTRACT §6): the command
 * table, option parsing, config and store set-up, and the helpers the
 * command files share.
 *
 * Global options (-c, --format, --help) may come before the command or
 * among its own options; each command's value-taking options are listed
 * in its table entry, so parsing is one loop for every command.  Nothing
 * but a command's result goes to stdout; errors go to stderr as
 * "crisisctl: why".
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "token.h"
#include "util.h"
#include "version.h"

#include "ctl.h"

/* getopt_long values of command options: CTL_OPT_BASE + their index. */
#define CTL_OPT_BASE 256
/* Longest usage line built for an error message. */
#define CTL_MESSAGE_MAX 512

/* Global options, wherever they appear. */
struct ctl_globals {
	const char *config;
	const char *format;
	bool help;
	bool version;
};

static const char *const ctl_opts_none[] = { NULL };
static const char *const ctl_opts_principal[] = { "role", NULL };
static const char *const ctl_opts_clinician[] = { "name", "languages", "skills",
	"endpoint", NULL };
static const char *const ctl_opts_patient[] = { "primary", "program", NULL };
static const char *const ctl_opts_shift[] = { "tier", "from", "to", NULL };
static const char *const ctl_opts_range[] = { "from", "to", NULL };
static const char *const ctl_opts_at[] = { "at", NULL };
static const char *const ctl_opts_log[] = { "since", "until", "risk", "outcome",
	"clinician", "program", "channel", "limit", "offset", NULL };
static const char *const ctl_opts_stats[] = { "since", "until", "by",
	"service-level-ms", "short-abandon-ms", NULL };
static const char *const ctl_opts_audit[] = { "since", "until", "actor",
	"action", "target", NULL };
static const char *const ctl_opts_disclosures[] = { "since", "until", "patient",
	NULL };
static const char *const ctl_opts_close[] = { "by", "note", NULL };
static const char *const ctl_opts_contact_close[] = { "by", "reason", NULL };
static const char *const ctl_opts_backup[] = { "force", NULL };

/*
 * Command options that take no value (--force): given, they read as "".
 * Every other command option takes one.
 */
static const char *const ctl_flags[] = { "force", NULL };

static const struct ctl_cmd ctl_cmds[] = {
	{ "init", ctl_roster_init, "", 0, ctl_opts_none, true },
	{ "principal add", ctl_roster_principal_add,
	    "ID --role intake|supervisor", 1, ctl_opts_principal, false },
	{ "clinician add", ctl_roster_clinician_add,
	    "ID --name N [--languages en,es] [--skills mat,family] "
	    "[--endpoint E]",
	    1, ctl_opts_clinician, false },
	{ "token reset", ctl_roster_token_reset, "ID", 1, ctl_opts_none,
	    false },
	{ "principal disable", ctl_roster_principal_disable, "ID", 1,
	    ctl_opts_none, false },
	{ "principal enable", ctl_roster_principal_enable, "ID", 1,
	    ctl_opts_none, false },
	{ "password set", ctl_password_set, "ID", 1, ctl_opts_none, false },
	{ "patient add", ctl_roster_patient_add,
	    "ID --primary CLINICIAN [--program P]", 1, ctl_opts_patient,
	    false },
	{ "shift add", ctl_roster_shift_add,
	    "CLINICIAN --tier N --from T --to T", 1, ctl_opts_shift, false },
	{ "roster import", ctl_roster_import, "FILE.csv", 1, ctl_opts_none,
	    false },
	{ "roster gaps", ctl_roster_gaps, "[--from T] [--to T]", 0,
	    ctl_opts_range, false },
	{ "oncall", ctl_roster_oncall, "[--at T]", 0, ctl_opts_at, false },
	{ "log", ctl_review_log,
	    "[--since T] [--until T] [--risk R] [--outcome O] [--clinician C] "
	    "[--program P] [--channel CH] [--limit N] [--offset N]",
	    0, ctl_opts_log, false },
	{ "show", ctl_review_show, "CID", 1, ctl_opts_none, false },
	{ "stats", ctl_review_stats,
	    "[--since T] [--until T] [--by "
	    "hour|day|clinician|tier|program|risk] "
	    "[--service-level-ms MS] [--short-abandon-ms MS]",
	    0, ctl_opts_stats, false },
	{ "audit", ctl_audit_list,
	    "[--since T] [--until T] [--actor A] [--action X] [--target ID]", 0,
	    ctl_opts_audit, false },
	{ "disclosures", ctl_audit_disclosures,
	    "[--since T] [--until T] [--patient P]", 0, ctl_opts_disclosures,
	    false },
	{ "followups", ctl_audit_followups, "", 0, ctl_opts_none, false },
	{ "followup close", ctl_audit_followup_close,
	    "ID --by CLINICIAN --note TEXT", 1, ctl_opts_close, false },
	{ "contact close", ctl_contact_close,
	    "CID --by SUPERVISOR --reason TEXT", 1, ctl_opts_contact_close,
	    false },
	{ "backup", ctl_backup, "FILE [--force]", 1, ctl_opts_backup, false },
	{ "status", ctl_status, "", 0, ctl_opts_none, false },
};

/* Print the usage of every command to fp. */
static void
ctl_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: crisisctl [-c FILE] [--format table|json|csv] "
	    "COMMAND [ARGS]\n");
	for (size_t i = 0; i < nitems(ctl_cmds); i++)
		fprintf(fp, "       crisisctl %s%s%s\n", ctl_cmds[i].words,
		    *ctl_cmds[i].usage != '\0' ? " " : "", ctl_cmds[i].usage);
	fprintf(fp,
	    "       crisisctl --help | --version\n"
	    "T is an RFC 3339 time, e.g. 2026-11-27T10:00:00Z, or a date, "
	    "2026-11-27,\nits midnight in the configured time zone.  Without "
	    "-c, "
	    "$CRISISD_CONF, then %s.\n",
	    CONF_DEFAULT_PATH);
}

/* Print one command's usage line to fp. */
static void
ctl_cmd_usage(FILE *fp, const struct ctl_cmd *cmd)
{
	fprintf(fp, "usage: crisisctl %s%s%s\n", cmd->words,
	    *cmd->usage != '\0' ? " " : "", cmd->usage);
}

/* The value given for option name, or NULL. */
const char *
ctl_opt(const struct ctl *ctl, const char *name)
{
	for (size_t i = 0; ctl->cmd->opts[i] != NULL; i++) {
		if (strcmp(ctl->cmd->opts[i], name) == 0)
			return ctl->opt[i];
	}
	fatalx("%s has no option --%s", ctl->cmd->words, name);
}

/* Print "crisisctl: why" and the command's usage; CTL_USAGE. */
int
ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
{
	char why[CTL_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_error("%s", why);
	if (ctl->cmd != NULL)
		ctl_cmd_usage(stderr, ctl->cmd);
	return CTL_USAGE;
}

/* Report a failed store call, after what if given; CTL_FAIL. */
int
ctl_store_fail(const struct ctl *ctl, const char *what)
{
	if (what != NULL)
		log_error("%s: %s", what, store_error(ctl->store));
	else
		log_error("%s", store_error(ctl->store));
	return CTL_FAIL;
}

/* Commit the writes made so far. */
int
ctl_commit(struct ctl *ctl)
{
	if (store_commit(ctl->store) != 0)
		return ctl_store_fail(ctl, "commit");
	return CTL_OK;
}

/* Switch $TZ to the configured zone; ctl_tz_restore() puts the old back. */
void
ctl_tz_use(const struct ctl *ctl, struct ctl_tz *old)
{
	const char *tz = ctl_timezone(ctl), *v = getenv("TZ");

	old->saved = v != NULL ? xstrdup(v) : NULL;
	setenv("TZ", tz != NULL ? tz : "UTC", 1);
	tzset();
}

/* Put back the $TZ ctl_tz_use() replaced. */
void
ctl_tz_restore(struct ctl_tz *old)
{
	if (old->saved != NULL) {
		setenv("TZ", old->saved, 1);
		free(old->saved);
		old->saved = NULL;
	} else
		unsetenv("TZ");
	tzset();
}

/*
 * A bare date, 2026-11-23, as that day's midnight in the configured zone
 * (what a supervisor asking about "last week" means); -1 if v is not one.
 */
static int
ctl_local_date(const struct ctl *ctl, const char *v, int64_t *ms)
{
	struct tm tm = { .tm_isdst = -1 };
	struct ctl_tz old;
	int y, m, d, n = 0;
	time_t t;

	if (strlen(v) != 10 ||
	    sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    v[4] != '-' || v[7] != '-' || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	ctl_tz_use(ctl, &old);
	t = mktime(&tm);
	ctl_tz_restore(&old);
	/* mktime() moves 2026-02-30 to March: not a date. */
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != m - 1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

/* Option name as an RFC 3339 time or a local date, or def. */
int
ctl_time_opt(const struct ctl *ctl, const char *name, int64_t def, int64_t *ms)
{
	const char *v = ctl_opt(ctl, name);

	*ms = def;
	if (v == NULL)
		return CTL_OK;
	if (util_parse_rfc3339(v, ms) != 0 && ctl_local_date(ctl, v, ms) != 0)
		return ctl_usage_error(ctl,
		    "--%s: not an RFC 3339 time "
		    "(like 2026-11-27T10:00:00Z) or a date (2026-11-27): %s",
		    name, v);
	return CTL_OK;
}

/* --since and --until into [since, until), STORE_UNBOUNDED if missing. */
int
ctl_window_opt(const struct ctl *ctl, int64_t *since, int64_t *until)
{
	int rc;

	if ((rc = ctl_time_opt(ctl, "since", STORE_UNBOUNDED, since)) !=
	        CTL_OK ||
	    (rc = ctl_time_opt(ctl, "until", STORE_UNBOUNDED, until)) != CTL_OK)
		return rc;
	if (*since != STORE_UNBOUNDED && *until != STORE_UNBOUNDED &&
	    *until <= *since)
		return ctl_usage_error(ctl, "--until must be after --since");
	return CTL_OK;
}

/* Option name as an integer in [min, max], or def. */
int
ctl_long_opt(const struct ctl *ctl, const char *name, long def, long min,
    long max, long *out)
{
	const char *v = ctl_opt(ctl, name);
	char *end;
	long n;

	*out = def;
	if (v == NULL)
		return CTL_OK;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
		if (max == LONG_MAX)
			return ctl_usage_error(ctl,
			    "--%s: not a whole number "
			    "of %ld or more: %s",
			    name, min, v);
		return ctl_usage_error(ctl,
		    "--%s: not a whole number from %ld "
		    "to %ld: %s",
		    name, min, max, v);
	}
	*out = n;
	return CTL_OK;
}

/* Option name, if given, must be one of names. */
int
ctl_enum_opt(const struct ctl *ctl, const char *name, const char *const *names)
{
	const char *v = ctl_opt(ctl, name);
	char list[CTL_MESSAGE_MAX] = "";

	if (v == NULL)
		return CTL_OK;
	for (size_t i = 0; names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0)
			return CTL_OK;
		strlcpy_(list + strlen(list), i > 0 ? "|" : "",
		    sizeof(list) - strlen(list));
		strlcpy_(list + strlen(list), names[i],
		    sizeof(list) - strlen(list));
	}
	return ctl_usage_error(ctl, "--%s must be %s, not %s", name, list, v);
}

/* The configured display time zone. */
const char *
ctl_timezone(const struct ctl *ctl)
{
	return ctl->conf->timezone;
}

/* Report a failed write to stdout; CTL_FAIL. */
int
ctl_output_fail(void)
{
	log_error("writing output: %s", strerror(errno));
	return CTL_FAIL;
}

/* Print a listing in the chosen format. */
int
ctl_print_rows(const struct ctl *ctl, json_t *rows, const char *const *columns)
{
	if (fmt_rows(stdout, ctl->format, rows, columns, ctl_timezone(ctl)) !=
	    0)
		return ctl_output_fail();
	return CTL_OK;
}

/* Print an object in the chosen format. */
int
ctl_print_object(const struct ctl *ctl, json_t *obj)
{
	if (fmt_object(stdout, ctl->format, obj, ctl_timezone(ctl)) != 0)
		return ctl_output_fail();
	return CTL_OK;
}

/* Parse the global options before the command; index of the command or -1. */
static int
ctl_parse_globals(int argc, char **argv, struct ctl_globals *g)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:f:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			g->config = optarg;
			break;
		case 'f':
			g->format = optarg;
			break;
		case 'h':
			g->help = true;
			break;
		case 'V':
			g->version = true;
			break;
		case ':':
			log_error("%s needs a value", argv[optind - 1]);
			return -1;
		default:
			log_error("unknown option %s", argv[optind - 1]);
			return -1;
		}
	}
	return optind;
}

/* How many of argv's words name words (e.g. "roster import"), or 0. */
static int
ctl_match(const char *words, int argc, char **argv)
{
	const char *p = words;
	int n = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, " ");

		if (n >= argc || strlen(argv[n]) != len ||
		    strncmp(argv[n], p, len) != 0)
			return 0;
		n++;
		p += len;
		if (*p == ' ')
			p++;
	}
	return n;
}

/* The command argv starts with, and how many words it took. */
static const struct ctl_cmd *
ctl_find(int argc, char **argv, int *nwords)
{
	for (size_t i = 0; i < nitems(ctl_cmds); i++) {
		if ((*nwords = ctl_match(ctl_cmds[i].words, argc, argv)) > 0)
			return &ctl_cmds[i];
	}
	return NULL;
}

/* Is name an option without a value? */
static bool
ctl_is_flag(const char *name)
{
	for (size_t i = 0; ctl_flags[i] != NULL; i++) {
		if (strcmp(ctl_flags[i], name) == 0)
			return true;
	}
	return false;
}

/* Build the getopt_long table: the command's options, then the globals. */
static void
ctl_long_options(const struct ctl_cmd *cmd,
    struct option opts[CTL_OPTS_MAX + 4])
{
	size_t n;

	for (n = 0; cmd->opts[n] != NULL; n++) {
		if (n == CTL_OPTS_MAX)
			fatalx("%s: more than %d options", cmd->words,
			    CTL_OPTS_MAX);
		opts[n] = (struct option){ cmd->opts[n],
			ctl_is_flag(cmd->opts[n]) ? no_argument
			                          : required_argument,
			NULL, CTL_OPT_BASE + (int)n };
	}
	opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	opts[n++] = (struct option){ "format", required_argument, NULL, 'f' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
}

/*
 * Parse the command's options and arguments; argv[0] is its last word.
 * CTL_OK, or CTL_USAGE with the error printed.
 */
static int
ctl_parse_args(struct ctl *ctl, struct ctl_globals *g, int argc, char **argv)
{
	struct option opts[CTL_OPTS_MAX + 4];
	int c, npos;

	ctl_long_options(ctl->cmd, opts);
	optind = 0; /* a fresh scan: GNU getopt re-initialises at 0 */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:f:h", opts, NULL)) != -1) {
		if (c >= CTL_OPT_BASE)
			ctl->opt[c - CTL_OPT_BASE] =
			    optarg != NULL ? optarg : "";
		else if (c == 'c')
			g->config = optarg;
		else if (c == 'f')
			g->format = optarg;
		else if (c == 'h')
			g->help = true;
		else if (c == ':')
			return ctl_usage_error(ctl, "%s needs a value",
			    argv[optind - 1]);
		else
			return ctl_usage_error(ctl, "unknown option %s",
			    argv[optind - 1]);
	}
	if (g->help)
		return CTL_OK;
	npos = argc - optind;
	if (npos < (int)ctl->cmd->npos)
		return ctl_usage_error(ctl, "missing argument");
	if (npos > (int)ctl->cmd->npos)
		return ctl_usage_error(ctl, "unexpected argument %s",
		    argv[optind + (int)ctl->cmd->npos]);
	for (int i = 0; i < npos; i++)
		ctl->pos[i] = argv[optind + i];
	return CTL_OK;
}

/* Print every line of a multi-line cause as its own error. */
static void
ctl_log_lines(const char *cause)
{
	const char *p = cause;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");

		log_error("%.*s", (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
}

/* Load the config, open the store, run the command, tidy up. */
static int
ctl_run(struct ctl *ctl, const char *config)
{
	const char *path = conf_path(config);
	char *cause = NULL;
	int rc;

	if (conf_load(path, &ctl->conf, &cause) != 0) {
		ctl_log_lines(cause != NULL ? cause : path);
		free(cause);
		return CTL_USAGE;
	}
	if (token_init() != 0) {
		log_error("cannot initialise libsodium");
		conf_free(ctl->conf);
		return CTL_FAIL;
	}
	ctl->store = store_open(ctl->conf->database,
	    ctl->cmd->migrate ? STORE_OPEN_MIGRATE : STORE_OPEN_EXISTING,
	    &cause);
	if (ctl->store == NULL) {
		log_error("%s", cause);
		free(cause);
		conf_free(ctl->conf);
		return CTL_FAIL;
	}
	ctl->now_ms = util_now_ms();
	ctl_audit_init(ctl);
	rc = ctl->cmd->handler(ctl);
	store_close(ctl->store);
	conf_free(ctl->conf);
	if (fflush(stdout) != 0 && rc == CTL_OK)
		rc = ctl_output_fail();
	return rc;
}

/* crisisctl [global options] COMMAND [arguments and options]. */
int
main(int argc, char **argv)
{
	struct ctl_globals g = { 0 };
	struct ctl ctl = { 0 };
	int first, nwords, rc, format = FMT_TABLE;

	log_init("crisisctl", LOG_LEVEL_NOTICE);
	if ((first = ctl_parse_globals(argc, argv, &g)) < 0) {
		ctl_usage(stderr);
		return CTL_USAGE;
	}
	if (g.version) {
		printf("crisisctl %s\n", CRISISD_VERSION);
		return CTL_OK;
	}
	if (first == argc) {
		ctl_usage(g.help ? stdout : stderr);
		return g.help ? CTL_OK : CTL_USAGE;
	}
	ctl.cmd = ctl_find(argc - first, argv + first, &nwords);
	if (ctl.cmd == NULL) {
		log_error("unknown command: %s", argv[first]);
		ctl_usage(stderr);
		return CTL_USAGE;
	}
	rc = ctl_parse_args(&ctl, &g, argc - first - nwords + 1,
	    argv + first + nwords - 1);
	if (rc != CTL_OK)
		return rc;
	if (g.help) {
		ctl_cmd_usage(stdout, ctl.cmd);
		return CTL_OK;
	}
	if (g.format != NULL && (format = fmt_format_from_name(g.format)) == -1)
		return ctl_usage_error(&ctl,
		    "--format must be table, json or "
		    "csv, not %s",
		    g.format);
	ctl.format = (enum fmt_format)format;
	return ctl_run(&ctl, g.config);
}
