/*
 * util.c: small things everyone needs: allocation that cannot fail,
 * wall-clock milliseconds, RFC 3339 text and contact ids.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "log.h"
#include "util.h"

/* malloc or die: running out of memory is not a per-contact error we can
 * answer. */
void *
xmalloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		fatal("malloc %zu bytes", size);
	return p;
}

/* calloc or die. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("calloc %zu x %zu bytes", nmemb, size);
	return p;
}

/* reallocarray or die. */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		fatalx("reallocarray: %zu x %zu overflows", nmemb, size);
	p = realloc(ptr, nmemb * size == 0 ? 1 : nmemb * size);
	if (p == NULL)
		fatal("realloc %zu x %zu bytes", nmemb, size);
	return p;
}

/* strdup or die. */
char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

/* xstrdup that passes NULL through. */
char *
xstrdup_null(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

/* asprintf or die. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("vasprintf");
	return n;
}

/* Copy with truncation, always terminated; returns strlen(src). */
size_t
strlcpy_(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* Milliseconds on clock id. */
static int64_t
util_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the epoch by the wall clock. */
int64_t
util_now_ms(void)
{
	return util_clock_ms(CLOCK_REALTIME);
}

/* Milliseconds on the monotonic clock, for intervals. */
int64_t
util_monotonic_ms(void)
{
	return util_clock_ms(CLOCK_MONOTONIC);
}

/* Read exactly n decimal digits at *p into *out and advance. */
static int
util_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Expect the character c at *p and advance. */
static int
util_expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* Parse an RFC 3339 date-time (with "Z" or a numeric offset) into ms. */
int
util_parse_rfc3339(const char *text, int64_t *ms)
{
	const char *p = text;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, frac_ms = 0;
	int64_t offset_s = 0;
	struct tm tm;
	time_t t;

	if (util_digits(&p, 4, &year) || util_expect(&p, '-') ||
	    util_digits(&p, 2, &mon) || util_expect(&p, '-') ||
	    util_digits(&p, 2, &day))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (util_digits(&p, 2, &hour) || util_expect(&p, ':') ||
	    util_digits(&p, 2, &min) || util_expect(&p, ':') ||
	    util_digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		int scale = 100, ndigits = 0;
		for (p++; isdigit((unsigned char)*p); p++, ndigits++) {
			frac_ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (ndigits == 0)
			return -1;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		p++;
		if (util_digits(&p, 2, &oh) || util_expect(&p, ':') ||
		    util_digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		offset_s = sign * (oh * 3600 + om * 60);
	} else
		return -1;
	/* No leap second: ms since the epoch has no place for a :60. */
	if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 ||
	    hour > 23 || min > 59 || sec > 59)
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: refuse such dates. */
	if (tm.tm_mday != day || tm.tm_mon != mon - 1)
		return -1;
	*ms = ((int64_t)t - offset_s) * 1000 + frac_ms;
	return 0;
}

/* Format ms as RFC 3339 UTC with milliseconds. */
void
util_format_rfc3339(int64_t ms, char buf[RFC3339_MAX])
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	/* Not %Y: it writes year 0 as "0", and RFC 3339 wants four digits. */
	n = (size_t)snprintf(buf, RFC3339_MAX, "%04d", tm.tm_year + 1900);
	n += strftime(buf + n, RFC3339_MAX - n, "-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, RFC3339_MAX - n, ".%03uZ", (unsigned)frac % 1000u);
}

/*
 * Format ms in the zone tz.  The C library only converts through $TZ, so
 * set it for the call and put the old value back.
 */
void
util_format_local(int64_t ms, const char *tz, char *buf, size_t size)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	const char *old = getenv("TZ");
	char *saved = old != NULL ? xstrdup(old) : NULL;
	struct tm tm;
	int n;

	setenv("TZ", tz != NULL ? tz : "UTC", 1);
	tzset();
	localtime_r(&t, &tm);
	/* Four-digit years: %Y writes year 0 as "0". */
	n = snprintf(buf, size, "%04d-", tm.tm_year + 1900);
	if (n > 0 && (size_t)n < size)
		strftime(buf + n, size - (size_t)n, "%m-%d %H:%M:%S %Z", &tm);
	if (saved != NULL) {
		setenv("TZ", saved, 1);
		free(saved);
	} else
		unsetenv("TZ");
	tzset();
}

/* A ULID-layout contact id: 10 characters of time, 16 of randomness. */
void
util_contact_id(int64_t now_ms, char id[CONTACT_ID_MAX + 1])
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint64_t t = (uint64_t)now_ms;
	unsigned char rnd[10];

	for (int i = 9; i >= 0; i--) {
		id[i] = alphabet[t & 31];
		t >>= 5;
	}
	randombytes_buf(rnd, sizeof(rnd));
	/* 80 random bits as 16 five-bit groups. */
	for (int i = 0; i < 16; i++) {
		int bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)rnd[byte] << 8;

		if (byte + 1 < (int)sizeof(rnd))
			v |= rnd[byte + 1];
		id[10 + i] = alphabet[(v >> (11 - shift)) & 31];
	}
	id[26] = '\0';
}

/* Is s 1..PRINCIPAL_ID_MAX characters of [A-Za-z0-9._@-]? */
bool
util_valid_principal_id(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		if (!isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-')
			return false;
		if (n >= PRINCIPAL_ID_MAX)
			return false;
	}
	return n > 0;
}

/* Code points below this need 2, 3 or 4 bytes of UTF-8 (index: bytes). */
static const unsigned long util_utf8_min[] = { 0, 0, 0x80, 0x800, 0x10000 };

/* Is b a UTF-8 continuation byte (10xxxxxx)? */
static bool
util_utf8_cont(unsigned char b)
{
	return (b & 0xc0) == 0x80;
}

/* How many bytes the sequence led by b takes; 0 if b cannot lead one. */
static size_t
util_utf8_length(unsigned char b)
{
	if (b < 0x80)
		return 1;
	if ((b & 0xe0) == 0xc0)
		return 2;
	if ((b & 0xf0) == 0xe0)
		return 3;
	if ((b & 0xf8) == 0xf0)
		return 4;
	return 0;
}

/*
 * Decode the code point at s (len bytes left) into *cp; its length in
 * bytes, or 0 if it is not valid UTF-8: a truncated sequence, a stray
 * continuation byte, an overlong form, a surrogate, or beyond U+10FFFF.
 */
size_t
util_utf8_next(const unsigned char *s, size_t len, unsigned long *cp)
{
	size_t n = util_utf8_length(s[0]);
	unsigned long v;

	if (n == 0 || n > len)
		return 0;
	v = n == 1 ? s[0] : s[0] & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if (!util_utf8_cont(s[i]))
			return 0;
		v = (v << 6) | (s[i] & 0x3fu);
	}
	if (v < util_utf8_min[n] || (v >= 0xd800 && v <= 0xdfff) ||
	    v > 0x10ffff)
		return 0;
	*cp = v;
	return n;
}

/* Is s (NUL-terminated) valid UTF-8 throughout? */
bool
util_utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), n;
	unsigned long cp;

	for (size_t i = 0; i < len; i += n) {
		if ((n = util_utf8_next(u + i, len - i, &cp)) == 0)
			return false;
	}
	return true;
}

/* Is this database setting a PostgreSQL URI rather than a file's path? */
bool
util_is_postgresql_uri(const char *database)
{
	return database != NULL &&
	    (strncmp(database, "postgresql://", 13) == 0 ||
	        strncmp(database, "postgres://", 11) == 0);
}
