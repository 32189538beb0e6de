/*
 * log.c: one logging module for crisisd and crisisctl.
 *
 * In the foreground messages go to stderr with the program name.  When
 * stderr is the journal (systemd sets JOURNAL_STREAM to its device:inode),
 * messages go through sd_journal_send so that priority and the CONTACT_ID=
 * and CLINICIAN= fields survive for `journalctl -u crisisd CONTACT_ID=...`.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX_BYTES 2048

static const char *log_progname = "crisisd";
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_to_journal;

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int log_syslog_priority[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_NOTICE] = LOG_NOTICE,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

/* Is stderr the journal stream systemd told us about? */
static bool
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(fileno(stderr), &sb) == -1)
		return false;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

/* Set the program name and level; pick stderr or the journal. */
void
log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level = level;
	log_to_journal = log_stderr_is_journal();
}

/* Change the lowest level printed (config reload). */
void
log_set_level(enum log_level level)
{
	log_level = level;
}

/* The lowest level printed. */
enum log_level
log_get_level(void)
{
	return log_level;
}

/* Parse a level name; -1 if unknown. */
int
log_level_from_name(const char *name)
{
	for (size_t i = 0;
	     i < sizeof(log_level_names) / sizeof(*log_level_names); i++) {
		if (strcmp(name, log_level_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* The name of a level. */
const char *
log_level_name(enum log_level level)
{
	return log_level_names[level];
}

/* Write one formatted message to the chosen sink. */
static void
log_emit(enum log_level level, const char *contact, const char *clinician,
    const char *suffix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX_BYTES];

	if (level > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (!log_to_journal) {
		fprintf(stderr, "%s: %s%s%s\n", log_progname, line,
		    suffix != NULL ? ": " : "", suffix != NULL ? suffix : "");
		return;
	}
	sd_journal_send("MESSAGE=%s%s%s", line, suffix != NULL ? ": " : "",
	    suffix != NULL ? suffix : "", "PRIORITY=%d",
	    log_syslog_priority[level], "SYSLOG_IDENTIFIER=%s", log_progname,
	    contact != NULL ? "CONTACT_ID=%s" : "CONTACT_ID=",
	    contact != NULL ? contact : "",
	    clinician != NULL ? "CLINICIAN=%s" : "CLINICIAN=",
	    clinician != NULL ? clinician : "", NULL);
}

#define LOG_VERB(name, level)                                                  \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_emit(level, NULL, NULL, NULL, fmt, ap);                    \
		va_end(ap);                                                    \
	}

LOG_VERB(log_debug, LOG_LEVEL_DEBUG)
LOG_VERB(log_info, LOG_LEVEL_INFO)
LOG_VERB(log_notice, LOG_LEVEL_NOTICE)
LOG_VERB(log_warnx, LOG_LEVEL_WARNING)
LOG_VERB(log_error, LOG_LEVEL_ERROR)

/* A warning with the current errno's text appended. */
void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARNING, NULL, NULL, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A message about one contact and/or clinician, with journal fields. */
void
log_contact(enum log_level level, const char *contact, const char *clinician,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, contact, clinician, NULL, fmt, ap);
	va_end(ap);
}

/* Log a repeating cause at most once per window, counting the rest. */
static void
log_vlimited(struct log_limit *ll, enum log_level level, const char *fmt,
    va_list ap)
{
	long long now = util_monotonic_ms();
	char suffix[96];

	if (level > log_level)
		return;
	if (now < ll->window_end_ms) {
		ll->held_back++;
		return;
	}
	snprintf(suffix, sizeof(suffix), "%lu more like it in the last minute",
	    ll->held_back);
	log_emit(level, NULL, NULL, ll->held_back > 0 ? suffix : NULL, fmt, ap);
	ll->held_back = 0;
	ll->window_end_ms = now + LOG_LIMIT_WINDOW_MS;
}

/* Log a repeating cause at most once per window, counting the rest. */
void
log_limited(struct log_limit *ll, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlimited(ll, level, fmt, ap);
	va_end(ap);
}

/*
 * The limits of log_limited_cause(), one per slot of a small table keyed
 * by a hash of the cause: causes are few (OpenSSL's reasons), and two that
 * share a slot only share a limit.
 */
#define LOG_CAUSE_SLOTS 64
static struct log_limit log_cause_limits[LOG_CAUSE_SLOTS];

/* Log at most once a minute per cause. */
void
log_limited_cause(const char *cause, enum log_level level, const char *fmt, ...)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	va_list ap;

	for (const char *p = cause; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	va_start(ap, fmt);
	log_vlimited(&log_cause_limits[h % LOG_CAUSE_SLOTS], level, fmt, ap);
	va_end(ap);
}

/* Log an error with errno's text and exit 1. */
void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, NULL, NULL, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log an error and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
