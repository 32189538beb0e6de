/*
 * util.h: allocation that cannot fail, wall-clock time in milliseconds,
 * RFC 3339 conversion and contact ids.
 */
#ifndef CRISISD_UTIL_H
#define CRISISD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* A contact id: printable ASCII, at most CONTACT_ID_MAX bytes. */
#define CONTACT_ID_MAX 64
/* Longest principal (intake, clinician, supervisor) id we accept. */
#define PRINCIPAL_ID_MAX 64
/* Longest RFC 3339 text util_format_rfc3339 writes, with its NUL. */
#define RFC3339_MAX 40

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
/* xstrdup that passes NULL through. */
char *xstrdup_null(const char *s);
int xasprintf(char **ret, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copy with truncation, always NUL-terminated; returns strlen(src). */
size_t strlcpy_(char *dst, const char *src, size_t size);

/* Milliseconds since the Unix epoch, from CLOCK_REALTIME. */
int64_t util_now_ms(void);
/* Milliseconds from CLOCK_MONOTONIC: for intervals, never for dates. */
int64_t util_monotonic_ms(void);

/*
 * RFC 3339: parse "2026-11-27T10:00:00Z", "...T10:00:00.123-05:00" and the
 * like into ms since the epoch (0 on success, -1 on bad text).  Format in
 * UTC with milliseconds: "2026-11-27T10:00:00.123Z".
 */
int util_parse_rfc3339(const char *text, int64_t *ms);
/*
 * Is this database setting a PostgreSQL URI (postgresql:// or
 * postgres://) rather than an SQLite file's path?  NULL is neither.
 */
bool util_is_postgresql_uri(const char *database);
void util_format_rfc3339(int64_t ms, char buf[RFC3339_MAX]);

/*
 * Format ms in the IANA time zone tz ("America/New_York") as
 * "2026-11-01 01:30:00 EDT".  Falls back to UTC if tz is NULL.
 */
void util_format_local(int64_t ms, const char *tz, char *buf, size_t size);

/*
 * A new contact id: 26 characters of Crockford base32, the first ten the
 * creation time so ids sort by age, the rest random (ULID layout).
 */
void util_contact_id(int64_t now_ms, char id[CONTACT_ID_MAX + 1]);

/* True if s is a sensible principal id: 1..64 of [A-Za-z0-9._@-]. */
bool util_valid_principal_id(const char *s);

/*
 * Decode the UTF-8 code point at s (len bytes left) into *cp; its length
 * in bytes, or 0 if it is not valid UTF-8 (truncated, a stray continuation
 * byte, overlong, a surrogate, beyond U+10FFFF).
 */
size_t util_utf8_next(const unsigned char *s, size_t len, unsigned long *cp);
/* Is s valid UTF-8 throughout?  JSON (jansson) takes nothing else. */
bool util_utf8_valid(const char *s);

#endif
