/*
 * log.h: the daemon's and crisisctl's logging.
 *
 * Six verbs, one sink: stderr in the foreground, the systemd journal when
 * stderr is connected to it (JOURNAL_STREAM).  Never log PHI (caller ids,
 * patient ids, notes, tokens) at info or above.
 */
#ifndef CRISISD_LOG_H
#define CRISISD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Set the program name shown on stderr and the lowest level printed. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parse "debug|info|notice|warning|error"; -1 if unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Structured variant for the journal: "contact" and "clinician" become the
 * CONTACT_ID= and CLINICIAN= fields (either may be NULL).
 */
void
log_contact(enum log_level level, const char *contact, const char *clinician,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A cause that may repeat many times (a failing disk, a flood of refused
 * connections): its first line is logged, and after that at most one line
 * a minute, which says how many were held back since the last.
 */
#define LOG_LIMIT_WINDOW_MS 60000
struct log_limit {
	long long window_end_ms; /* repeats until then are counted */
	unsigned long held_back;
};
void log_limited(struct log_limit *ll, enum log_level level, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/*
 * The same, with one limit per cause (a short text such as OpenSSL's
 * reason): different causes at one place are each logged.
 */
void log_limited_cause(const char *cause, enum log_level level, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Start-up failures and broken invariants only. */
void
fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void
fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
