/*
 * config.c: read crisisd.conf with libconfig, check every key and copy the
 * values into a plain struct conf.  This is the only file that includes
 * <libconfig.h>.
 *
 * The checker walks the file once, table-driven: each group (the top level,
 * routing, limits, one tier entry) has a table of the keys it may hold, each
 * with a handler that checks the type and range and stores the value.  Every
 * problem is collected as "file:line: key: what is wrong", so an operator
 * fixes a broken file in one pass rather than one error per restart.
 *
 * Required keys: listen, database, routing (and in it tiers, max_wait_ms and
 * overflow_target), and in each tier entry tier and strategy.  Everything
 * else has the default shown in conf/crisisd.conf.  A missing key is reported
 * at the line of the group that lacks it, line 1 for the top level.
 *
 * A relative database path is taken relative to the directory of the file
 * that names it (not to the daemon's working directory, which systemd sets
 * to /), and made absolute.  ":memory:" is passed through for tests.
 *
 * Every name here starts with conf_, like the exports in config.h, because
 * libconfig already owns the config_ prefix.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"
#include "log.h"
#include "roster.h"
#include "util.h"

#define CONF_DAY_MS (24LL * 60 * 60 * 1000)
#define CONF_TEN_MINUTES_MS (10LL * 60 * 1000)
#define CONF_MISSED_OFFERS_MAX 1000
#define CONF_CONNECTIONS_MAX 1000000
#define CONF_LINE_BYTES_MIN 256
#define CONF_LINE_BYTES_MAX (16LL * 1024 * 1024)
#define CONF_HELLO_TIMEOUT_MIN_MS 100
#define CONF_TARGET_MAX_BYTES 1024
#define CONF_DATABASE_MAX_BYTES 4096
#define CONF_LISTEN_MAX_BYTES 300
#define CONF_TZ_NAME_MAX_BYTES 128
#define CONF_TLS_PATH_MAX_BYTES 4096
#define CONF_ERROR_MAX_BYTES 1024
#define CONF_NAME_MAX_BYTES 256
#define CONF_TZDIR_DEFAULT "/usr/share/zoneinfo"
#define CONF_DIGITS "0123456789"
#define CONF_ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
    CONF_DIGITS

/* What an optional key holds when the file leaves it out. */
#define CONF_DEFAULT_OFFER_TIMEOUT_MS 20000
#define CONF_DEFAULT_CONTINUITY_MS 10000
#define CONF_DEFAULT_IMMINENT_MAX_WAIT_MS 30000
#define CONF_DEFAULT_WRAPUP_MS 30000
#define CONF_DEFAULT_MAX_MISSED_OFFERS 3
#define CONF_DEFAULT_MAX_CONNECTIONS 10000
#define CONF_DEFAULT_MAX_LINE_BYTES 16384
#define CONF_DEFAULT_HELLO_TIMEOUT_MS 5000
#define CONF_DEFAULT_TIMEZONE "UTC"
#define CONF_DEFAULT_CONTACTS_PER_SECOND 100
#define CONF_DEFAULT_OPEN_CONTACTS 5000
#define CONF_RATE_MAX 1000000
#define CONF_DEFAULT_GAP_WARNING_HOURS 24
#define CONF_GAP_WARNING_HOURS_MAX (24 * 31)
#define CONF_DEFAULT_SERVICE_LEVEL_MS 20000
#define CONF_DEFAULT_SHORT_ABANDON_MS 5000

/* One file being checked: the struct being filled and the errors so far. */
struct conf_check {
	const char *path;
	struct conf *conf;
	char *errors; /* "file:line: ..." lines joined by '\n' */
	int nerrors;
	unsigned int tier_lines[CONF_TIERS_MAX]; /* where each tier was set */
};

struct conf_key;

/* The keys one group may hold. */
struct conf_table {
	const struct conf_key *keys;
	size_t nkeys;
};

/* One key: how to check and store it, where, and its bounds. */
struct conf_key {
	const char *name;
	bool required;
	void (*handler)(struct conf_check *, const config_setting_t *,
	    const struct conf_key *, void *);
	size_t offset; /* into struct conf or struct conf_tier */
	int64_t min;
	int64_t max;
	const struct conf_table *sub; /* for groups */
};

/* A key stored in the field of struct s of the same name. */
#define CONF_KEY(s, field, required, handler, min, max) \
	{ #field, required, handler, offsetof(struct s, field), min, max, NULL }

static const char *const conf_strategy_names[] = {
	[STRATEGY_RING_ALL] = "ring-all",
	[STRATEGY_LONGEST_IDLE] = "longest-idle",
	[STRATEGY_ROUND_ROBIN] = "round-robin",
	[STRATEGY_SEQUENTIAL] = "sequential",
	[STRATEGY_FEWEST_CONTACTS] = "fewest-contacts",
};

static void conf_error(struct conf_check *, const config_setting_t *,
    const char *, ...) __attribute__((format(printf, 3, 4)));
static void conf_check_group(struct conf_check *,
    const config_setting_t *, const struct conf_table *, void *);

/* Write the dotted name of s ("routing.tiers[1].strategy") into buf. */
static void
conf_name(const config_setting_t *s, char *buf, size_t size)
{
	const config_setting_t *parent = config_setting_parent(s);
	const char *name = config_setting_name(s);
	size_t len;

	buf[0] = '\0';
	if (parent == NULL)
		return;
	conf_name(parent, buf, size);
	len = strlen(buf);
	if (len >= size)
		return;
	if (name != NULL)
		snprintf(buf + len, size - len, "%s%s", len > 0 ? "." : "",
		    name);
	else
		snprintf(buf + len, size - len, "[%d]",
		    config_setting_index(s));
}

/*
 * Keep one error on one line: a string from the file may hold a newline or
 * another control character, which would break (or forge) the "file:line:"
 * lines that crisisd -t prints and an operator reads.
 */
static void
conf_error_clean(char *msg)
{
	for (; *msg != '\0'; msg++) {
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			*msg = '?';
	}
}

/* Record one error at s's file and line, prefixed with s's name. */
static void
conf_error(struct conf_check *ck, const config_setting_t *s,
    const char *fmt, ...)
{
	char msg[CONF_ERROR_MAX_BYTES], name[CONF_NAME_MAX_BYTES];
	const char *file = config_setting_source_file(s);
	unsigned int line = config_setting_source_line(s);
	char *errors;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	conf_error_clean(msg);
	conf_name(s, name, sizeof name);
	xasprintf(&errors, "%s%s%s:%u: %s%s%s", ck->errors != NULL ?
	    ck->errors : "", ck->errors != NULL ? "\n" : "",
	    file != NULL ? file : ck->path, line > 0 ? line : 1, name,
	    name[0] != '\0' ? ": " : "", msg);
	free(ck->errors);
	ck->errors = errors;
	ck->nerrors++;
}

/* Read an integer (int or int64 in the file) within [min, max]. */
static int
conf_integer(struct conf_check *ck, const config_setting_t *s,
    int64_t min, int64_t max, int64_t *out)
{
	int type = config_setting_type(s);
	int64_t v;

	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
		conf_error(ck, s, "must be an integer");
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		conf_error(ck, s, "%" PRId64 " is out of range %" PRId64
		    "..%" PRId64, v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Read a string of 1 to max bytes. */
static const char *
conf_string(struct conf_check *ck, const config_setting_t *s,
    size_t max)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error(ck, s, "must be a string");
		return NULL;
	}
	v = config_setting_get_string(s);
	if (v[0] == '\0') {
		conf_error(ck, s, "must not be empty");
		return NULL;
	}
	if (strlen(v) > max) {
		conf_error(ck, s, "longer than %zu bytes", max);
		return NULL;
	}
	return v;
}

/* Replace the string at field with a copy of v. */
static void
conf_set_string(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

/* Handler: a duration in milliseconds, stored as int64_t. */
static void
conf_key_ms(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int64_t v;

	if (conf_integer(ck, s, key->min, key->max, &v) == 0)
		*(int64_t *)((char *)base + key->offset) = v;
}

/* Handler: a count, stored as int. */
static void
conf_key_int(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int64_t v;

	if (conf_integer(ck, s, key->min, key->max, &v) == 0)
		*(int *)((char *)base + key->offset) = (int)v;
}

/* Handler: a size in bytes, stored as size_t. */
static void
conf_key_size(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int64_t v;

	if (conf_integer(ck, s, key->min, key->max, &v) == 0)
		*(size_t *)((char *)base + key->offset) = (size_t)v;
}

/* Handler: a non-empty string of at most key->max bytes. */
static void
conf_key_string(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);

	if (v != NULL)
		conf_set_string((char **)((char *)base + key->offset), v);
}

/* The directory part of path, "." if it has none (caller frees). */
static char *
conf_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	xasprintf(&dir, "%.*s", (int)(slash - path), path);
	return dir;
}

/* name made absolute relative to the directory of the file `from`. */
static char *
conf_resolve(const char *from, const char *name)
{
	char *dir, *cwd, *path;

	if (name[0] == '/' || strcmp(name, ":memory:") == 0)
		return xstrdup(name);
	dir = conf_dirname(from);
	cwd = dir[0] == '/' ? NULL : getcwd(NULL, 0);
	if (cwd == NULL)
		xasprintf(&path, "%s/%s", dir, name);
	else if (strcmp(dir, ".") == 0)
		xasprintf(&path, "%s/%s", cwd, name);
	else
		xasprintf(&path, "%s/%s/%s", cwd, dir, name);
	free(cwd);
	free(dir);
	return path;
}

/* Handler: the database path, resolved against the config's directory. */
static void
conf_key_database(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	const char *from = config_setting_source_file(s);
	struct conf *conf = base;

	if (v == NULL)
		return;
	free(conf->database);
	conf->database = conf_resolve(from != NULL ? from : ck->path, v);
}

/* Is text a port number 1..65535? */
static bool
conf_port_valid(const char *text)
{
	size_t len = strspn(text, CONF_DIGITS);

	return len > 0 && len <= 5 && text[len] == '\0' &&
	    atol(text) >= 1 && atol(text) <= 65535;
}

/* Is the len bytes at text a plausible host name or IPv4 address? */
static bool
conf_host_valid(const char *text, size_t len)
{
	return len > 0 && strspn(text, CONF_ALNUM "._-") >= len;
}

/* Why text is not "host:port" or "[v6]:port", or NULL if it is. */
static const char *
conf_listen_check(const char *text)
{
	char v6[INET6_ADDRSTRLEN];
	struct in6_addr addr;
	const char *colon, *close;

	if (text[0] == '[') {
		close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return "IPv6 needs the form [address]:port";
		if ((size_t)(close - text - 1) >= sizeof v6)
			return "IPv6 address too long";
		memcpy(v6, text + 1, (size_t)(close - text - 1));
		v6[close - text - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &addr) != 1)
			return "not a valid IPv6 address";
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return "needs the form host:port";
		if (memchr(text, ':', (size_t)(colon - text)) != NULL)
			return "put an IPv6 address in brackets: [::1]:7410";
		if (!conf_host_valid(text, (size_t)(colon - text)))
			return "not a valid host name or address";
	}
	if (!conf_port_valid(colon + 1))
		return "port must be a number from 1 to 65535";
	return NULL;
}

/* Check and store one listen address. */
static void
conf_listen_one(struct conf_check *ck, const config_setting_t *s)
{
	struct conf *conf = ck->conf;
	const char *v, *why;

	if ((v = conf_string(ck, s, CONF_LISTEN_MAX_BYTES)) == NULL)
		return;
	if ((why = conf_listen_check(v)) != NULL) {
		conf_error(ck, s, "\"%s\": %s", v, why);
		return;
	}
	if (conf->nlisten == CONF_LISTEN_MAX)
		conf_error(ck, s, "more than %d addresses", CONF_LISTEN_MAX);
	else
		conf->listen[conf->nlisten++] = xstrdup(v);
}

/* Handler: listen, an array of "host:port" strings (or one string). */
static void
conf_key_listen(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int i, n;

	(void)key;
	(void)base;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		conf_listen_one(ck, s);
		return;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error(ck, s, "must be a list of addresses, as in "
		    "[ \"127.0.0.1:7410\" ]");
		return;
	}
	if ((n = config_setting_length(s)) == 0) {
		conf_error(ck, s, "must name at least one address");
		return;
	}
	for (i = 0; i < n; i++)
		conf_listen_one(ck, config_setting_get_elem(s, i));
}

/* Handler: log_level, stored as enum log_level. */
static void
conf_key_log_level(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	int level;

	if (v == NULL)
		return;
	if ((level = log_level_from_name(v)) == -1)
		conf_error(ck, s, "unknown level \"%s\" (debug, info, notice, "
		    "warning or error)", v);
	else
		((struct conf *)base)->log_level = level;
}

/* Does name look like an IANA zone name, with no way out of the tz dir? */
static bool
conf_tz_name_valid(const char *name)
{
	return name[0] != '/' && name[0] != '.' &&
	    strstr(name, "..") == NULL && strstr(name, "/.") == NULL &&
	    name[strspn(name, CONF_ALNUM "/_+-.")] == '\0';
}

/*
 * Is name a zone the C library can load?  glibc takes any TZ text and falls
 * back to UTC, silently, when no such zone file exists, so a typo would show
 * every time in crisisctl off by hours.  We look for the same file glibc
 * would read ($TZDIR, else /usr/share/zoneinfo) and check it starts with
 * the TZif magic, which rules out directories and the zone.tab files.  UTC
 * is always accepted, so a machine without tzdata still runs on defaults.
 */
static bool
conf_tz_known(const char *name)
{
	const char *dir = getenv("TZDIR");
	char *path, magic[4];
	ssize_t n;
	int fd;

	if (strcmp(name, "UTC") == 0)
		return true;
	if (!conf_tz_name_valid(name))
		return false;
	if (dir == NULL || dir[0] == '\0')
		dir = CONF_TZDIR_DEFAULT;
	xasprintf(&path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return false;
	n = read(fd, magic, sizeof magic);
	close(fd);
	return n == (ssize_t)sizeof magic && memcmp(magic, "TZif", 4) == 0;
}

/* Handler: timezone, an IANA zone name. */
static void
conf_key_timezone(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);

	if (v == NULL)
		return;
	if (!conf_tz_known(v))
		conf_error(ck, s, "unknown time zone \"%s\" (an IANA name "
		    "such as America/New_York)", v);
	else
		conf_set_string(&((struct conf *)base)->timezone, v);
}

/* Handler: a tier's strategy name. */
static void
conf_key_strategy(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	int strategy;

	if (v == NULL)
		return;
	if ((strategy = conf_strategy_from_name(v)) == -1)
		conf_error(ck, s, "unknown strategy \"%s\" (ring-all, "
		    "longest-idle, round-robin, sequential or fewest-contacts)",
		    v);
	else
		*(enum strategy *)((char *)base + key->offset) = strategy;
}

/* Handler: a nested group, checked against its own table. */
static void
conf_key_group(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	if (!config_setting_is_group(s))
		conf_error(ck, s, "must be a group, as in %s : { ... };",
		    key->name);
	else
		conf_check_group(ck, s, key->sub, base);
}

static const struct conf_key conf_tier_keys[] = {
	CONF_KEY(conf_tier, tier, true, conf_key_int, 1, ROSTER_TIER_MAX),
	CONF_KEY(conf_tier, strategy, true, conf_key_strategy, 0, 32),
	CONF_KEY(conf_tier, offer_timeout_ms, false, conf_key_ms, 1,
	    CONF_DAY_MS),
};
static const struct conf_table conf_tier_table = {
	conf_tier_keys, nitems(conf_tier_keys)
};

/* Add one checked tier entry, refusing duplicates and too many tiers. */
static void
conf_tier_add(struct conf_check *ck, const config_setting_t *entry,
    const struct conf_tier *t)
{
	const config_setting_t *num = config_setting_get_member(entry, "tier");
	struct conf *conf = ck->conf;
	size_t i;

	for (i = 0; i < conf->ntiers; i++) {
		if (conf->tiers[i].tier == t->tier) {
			conf_error(ck, num, "tier %d is already defined at "
			    "line %u", t->tier, ck->tier_lines[i]);
			return;
		}
	}
	if (conf->ntiers == CONF_TIERS_MAX) {
		conf_error(ck, entry, "more than %d tiers", CONF_TIERS_MAX);
		return;
	}
	ck->tier_lines[conf->ntiers] = config_setting_source_line(num);
	conf->tiers[conf->ntiers++] = *t;
}

/* Handler: routing.tiers, a list of { tier; strategy; offer_timeout_ms; }. */
static void
conf_key_tiers(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const config_setting_t *entry;
	struct conf_tier t;
	int i, n, before;

	(void)key;
	(void)base;
	if (!config_setting_is_list(s)) {
		conf_error(ck, s, "must be a list of tier groups, as in "
		    "( { tier = 1; strategy = \"ring-all\"; } )");
		return;
	}
	if ((n = config_setting_length(s)) == 0) {
		conf_error(ck, s, "must define at least one tier");
		return;
	}
	for (i = 0; i < n; i++) {
		entry = config_setting_get_elem(s, i);
		if (!config_setting_is_group(entry)) {
			conf_error(ck, entry, "must be a group { tier = N; "
			    "strategy = \"...\"; }");
			continue;
		}
		memset(&t, 0, sizeof t);
		t.strategy = STRATEGY_RING_ALL;
		t.offer_timeout_ms = CONF_DEFAULT_OFFER_TIMEOUT_MS;
		before = ck->nerrors;
		conf_check_group(ck, entry, &conf_tier_table, &t);
		if (ck->nerrors == before)
			conf_tier_add(ck, entry, &t);
	}
}

static const struct conf_key conf_routing_keys[] = {
	CONF_KEY(conf, tiers, true, conf_key_tiers, 0, 0),
	CONF_KEY(conf, max_wait_ms, true, conf_key_ms, 1, CONF_DAY_MS),
	CONF_KEY(conf, overflow_target, true, conf_key_string, 0,
	    CONF_TARGET_MAX_BYTES),
	CONF_KEY(conf, continuity_ms, false, conf_key_ms, 0, CONF_DAY_MS),
	CONF_KEY(conf, imminent_max_wait_ms, false, conf_key_ms, 1,
	    CONF_DAY_MS),
	CONF_KEY(conf, wrapup_ms, false, conf_key_ms, 0, CONF_DAY_MS),
	CONF_KEY(conf, max_missed_offers, false, conf_key_int, 1,
	    CONF_MISSED_OFFERS_MAX),
};
static const struct conf_table conf_routing_table = {
	conf_routing_keys, nitems(conf_routing_keys)
};

static const struct conf_key conf_limits_keys[] = {
	CONF_KEY(conf, max_connections, false, conf_key_int, 1,
	    CONF_CONNECTIONS_MAX),
	CONF_KEY(conf, max_line_bytes, false, conf_key_size,
	    CONF_LINE_BYTES_MIN, CONF_LINE_BYTES_MAX),
	CONF_KEY(conf, hello_timeout_ms, false, conf_key_ms,
	    CONF_HELLO_TIMEOUT_MIN_MS, CONF_TEN_MINUTES_MS),
	CONF_KEY(conf, max_contacts_per_second, false, conf_key_int, 0,
	    CONF_RATE_MAX),
	CONF_KEY(conf, max_open_contacts, false, conf_key_int, 0,
	    CONF_RATE_MAX),
};
static const struct conf_table conf_limits_table = {
	conf_limits_keys, nitems(conf_limits_keys)
};

static const struct conf_key conf_roster_keys[] = {
	CONF_KEY(conf, gap_warning_hours, false, conf_key_int, 0,
	    CONF_GAP_WARNING_HOURS_MAX),
};
static const struct conf_table conf_roster_table = {
	conf_roster_keys, nitems(conf_roster_keys)
};

static const struct conf_key conf_review_keys[] = {
	CONF_KEY(conf, service_level_ms, false, conf_key_ms, 1, CONF_DAY_MS),
	CONF_KEY(conf, short_abandon_ms, false, conf_key_ms, 0, CONF_DAY_MS),
};
static const struct conf_table conf_review_table = {
	conf_review_keys, nitems(conf_review_keys)
};

/*
 * The tls group.  Its listen addresses are TLS only, so the top-level
 * listen keeps meaning plain TCP (for loopback).  The files are checked
 * here, when the config is loaded, so that crisisd -t and a reload report a
 * missing or unreadable one at its file:line; tls.c reads them when it
 * builds the TLS context.
 */
static const struct {
	const char *name;
	int version;
} conf_tls_versions[] = {
	{ "1.2", CONF_TLS_1_2 },
	{ "1.3", CONF_TLS_1_3 },
};

/* Check and store one tls.listen address. */
static void
conf_tls_listen_one(struct conf_check *ck, const config_setting_t *s,
    struct conf_tls *tls)
{
	const char *v, *why;

	if ((v = conf_string(ck, s, CONF_LISTEN_MAX_BYTES)) == NULL)
		return;
	if ((why = conf_listen_check(v)) != NULL)
		conf_error(ck, s, "\"%s\": %s", v, why);
	else if (tls->nlisten == CONF_LISTEN_MAX)
		conf_error(ck, s, "more than %d addresses", CONF_LISTEN_MAX);
	else
		tls->listen[tls->nlisten++] = xstrdup(v);
}

/* Handler: tls.listen, like listen, but an empty list means no TLS. */
static void
conf_key_tls_listen(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int i, n;

	(void)key;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		conf_tls_listen_one(ck, s, base);
		return;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error(ck, s, "must be a list of addresses, as in "
		    "[ \"0.0.0.0:7411\" ]");
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++)
		conf_tls_listen_one(ck, config_setting_get_elem(s, i), base);
}

/* Handler: a PEM file read at start, resolved like database, readable now. */
static void
conf_key_tls_file(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	const char *from = config_setting_source_file(s);
	char **field = (char **)((char *)base + key->offset);
	struct stat st;
	char *path;
	int fd;

	if (v == NULL)
		return;
	path = conf_resolve(from != NULL ? from : ck->path, v);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		conf_error(ck, s, "%s: %s", path, strerror(errno));
	else if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		conf_error(ck, s, "%s: not a regular file", path);
	else {
		free(*field);
		*field = path;
		path = NULL;
	}
	if (fd != -1)
		close(fd);
	free(path);
}

/* Handler: true or false. */
static void
conf_key_bool(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		conf_error(ck, s, "must be true or false");
	else
		*(bool *)((char *)base + key->offset) =
		    config_setting_get_bool(s) != 0;
}

/* Handler: tls.min_version, "1.2" or "1.3". */
static void
conf_key_tls_version(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < nitems(conf_tls_versions); i++) {
		if (strcmp(conf_tls_versions[i].name, v) == 0) {
			((struct conf_tls *)base)->min_version =
			    conf_tls_versions[i].version;
			return;
		}
	}
	conf_error(ck, s, "\"%s\": must be \"1.2\" or \"1.3\" (nothing older "
	    "than TLS 1.2)", v);
}

static const struct conf_key conf_tls_keys[] = {
	CONF_KEY(conf_tls, listen, false, conf_key_tls_listen, 0, 0),
	CONF_KEY(conf_tls, certificate, false, conf_key_tls_file, 0,
	    CONF_TLS_PATH_MAX_BYTES),
	CONF_KEY(conf_tls, key, false, conf_key_tls_file, 0,
	    CONF_TLS_PATH_MAX_BYTES),
	CONF_KEY(conf_tls, ca, false, conf_key_tls_file, 0,
	    CONF_TLS_PATH_MAX_BYTES),
	CONF_KEY(conf_tls, require_client_cert, false, conf_key_bool, 0, 0),
	CONF_KEY(conf_tls, min_version, false, conf_key_tls_version, 0, 8),
};
static const struct conf_table conf_tls_table = {
	conf_tls_keys, nitems(conf_tls_keys)
};

/* Handler: the tls group, then what its keys require of each other. */
static void
conf_key_tls(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	struct conf_tls *tls = &((struct conf *)base)->tls;
	static const char *const needed[] = { "certificate", "key" };
	size_t i;

	if (!config_setting_is_group(s)) {
		conf_error(ck, s, "must be a group, as in tls : { ... };");
		return;
	}
	conf_check_group(ck, s, key->sub, tls);
	for (i = 0; i < nitems(needed) && tls->nlisten > 0; i++) {
		if (config_setting_get_member(s, needed[i]) == NULL)
			conf_error(ck, s, "missing required key %s (listen "
			    "names an address)", needed[i]);
	}
	if (tls->require_client_cert &&
	    config_setting_get_member(s, "ca") == NULL)
		conf_error(ck, config_setting_get_member(s,
		    "require_client_cert"), "true needs ca, the CA file that "
		    "signs client certificates");
}

static const struct conf_key conf_root_keys[] = {
	CONF_KEY(conf, listen, true, conf_key_listen, 0, 0),
	CONF_KEY(conf, database, true, conf_key_database, 0,
	    CONF_DATABASE_MAX_BYTES),
	CONF_KEY(conf, log_level, false, conf_key_log_level, 0, 32),
	CONF_KEY(conf, timezone, false, conf_key_timezone, 0,
	    CONF_TZ_NAME_MAX_BYTES),
	{ "routing", true, conf_key_group, 0, 0, 0, &conf_routing_table },
	{ "limits", false, conf_key_group, 0, 0, 0, &conf_limits_table },
	{ "roster", false, conf_key_group, 0, 0, 0, &conf_roster_table },
	{ "review", false, conf_key_group, 0, 0, 0, &conf_review_table },
	{ "tls", false, conf_key_tls, 0, 0, 0, &conf_tls_table },
};
static const struct conf_table conf_root_table = {
	conf_root_keys, nitems(conf_root_keys)
};

/* The key called name in table, or NULL. */
static const struct conf_key *
conf_find_key(const struct conf_table *table, const char *name)
{
	size_t i;

	for (i = 0; i < table->nkeys; i++) {
		if (strcmp(table->keys[i].name, name) == 0)
			return &table->keys[i];
	}
	return NULL;
}

/* Report an unknown key with the names the group does know. */
static void
conf_unknown_key(struct conf_check *ck, const config_setting_t *s,
    const struct conf_table *table)
{
	char known[CONF_ERROR_MAX_BYTES / 2];
	size_t i, len = 0;

	known[0] = '\0';
	for (i = 0; i < table->nkeys && len < sizeof known; i++)
		len += (size_t)snprintf(known + len, sizeof known - len, "%s%s",
		    i > 0 ? ", " : "", table->keys[i].name);
	conf_error(ck, s, "unknown key (known here: %s)", known);
}

/* Check every member of group against table, then the required keys. */
static void
conf_check_group(struct conf_check *ck, const config_setting_t *group,
    const struct conf_table *table, void *base)
{
	const struct conf_key *key;
	const config_setting_t *m;
	int i, n = config_setting_length(group);
	size_t k;

	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(group, i);
		if ((key = conf_find_key(table, config_setting_name(m))) ==
		    NULL)
			conf_unknown_key(ck, m, table);
		else
			key->handler(ck, m, key, base);
	}
	for (k = 0; k < table->nkeys; k++) {
		if (table->keys[k].required &&
		    config_setting_get_member(group, table->keys[k].name) ==
		    NULL)
			conf_error(ck, group, "missing required key %s",
			    table->keys[k].name);
	}
}

/* Fill in the defaults of every optional key. */
static void
conf_defaults(struct conf *conf)
{
	conf->log_level = LOG_LEVEL_INFO;
	conf->timezone = xstrdup(CONF_DEFAULT_TIMEZONE);
	conf->continuity_ms = CONF_DEFAULT_CONTINUITY_MS;
	conf->imminent_max_wait_ms = CONF_DEFAULT_IMMINENT_MAX_WAIT_MS;
	conf->wrapup_ms = CONF_DEFAULT_WRAPUP_MS;
	conf->max_missed_offers = CONF_DEFAULT_MAX_MISSED_OFFERS;
	conf->max_connections = CONF_DEFAULT_MAX_CONNECTIONS;
	conf->max_line_bytes = CONF_DEFAULT_MAX_LINE_BYTES;
	conf->hello_timeout_ms = CONF_DEFAULT_HELLO_TIMEOUT_MS;
	conf->max_contacts_per_second = CONF_DEFAULT_CONTACTS_PER_SECOND;
	conf->max_open_contacts = CONF_DEFAULT_OPEN_CONTACTS;
	conf->gap_warning_hours = CONF_DEFAULT_GAP_WARNING_HOURS;
	conf->service_level_ms = CONF_DEFAULT_SERVICE_LEVEL_MS;
	conf->short_abandon_ms = CONF_DEFAULT_SHORT_ABANDON_MS;
	conf->tls.min_version = CONF_TLS_1_2;
}

/* qsort comparison of tiers by number. */
static int
conf_tier_cmp(const void *a, const void *b)
{
	const struct conf_tier *x = a, *y = b;

	return (x->tier > y->tier) - (x->tier < y->tier);
}

/* Let libconfig parse the file, or record why it could not. */
static int
conf_read(struct conf_check *ck, config_t *cfg)
{
	FILE *f;

	/* libconfig does not keep errno for I/O errors; ask first. */
	if ((f = fopen(ck->path, "r")) == NULL) {
		xasprintf(&ck->errors, "%s: %s", ck->path, strerror(errno));
		return -1;
	}
	fclose(f);
	if (config_read_file(cfg, ck->path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		xasprintf(&ck->errors, "%s: cannot read the file", ck->path);
	else
		xasprintf(&ck->errors, "%s:%d: %s", config_error_file(cfg) !=
		    NULL ? config_error_file(cfg) : ck->path,
		    config_error_line(cfg), config_error_text(cfg));
	return -1;
}

/* Parse and validate path into a new struct conf (see config.h). */
int
conf_load(const char *path, struct conf **out, char **cause)
{
	struct conf_check ck;
	config_t cfg;
	char *dir;

	*out = NULL;
	memset(&ck, 0, sizeof ck);
	ck.path = path;
	config_init(&cfg);
	/* @include "x.conf" is looked up next to the including file. */
	dir = conf_dirname(path);
	config_set_include_dir(&cfg, dir);
	if (conf_read(&ck, &cfg) == 0) {
		ck.conf = xcalloc(1, sizeof *ck.conf);
		ck.conf->path = xstrdup(path);
		conf_defaults(ck.conf);
		conf_check_group(&ck, config_root_setting(&cfg),
		    &conf_root_table, ck.conf);
	}
	config_destroy(&cfg);
	free(dir);
	if (ck.errors != NULL) {
		conf_free(ck.conf);
		if (cause != NULL)
			*cause = ck.errors;
		else
			free(ck.errors);
		return -1;
	}
	qsort(ck.conf->tiers, ck.conf->ntiers, sizeof ck.conf->tiers[0],
	    conf_tier_cmp);
	*out = ck.conf;
	return 0;
}

/* Free a struct conf and everything it owns; NULL is fine. */
void
conf_free(struct conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nlisten; i++)
		free(conf->listen[i]);
	free(conf->path);
	free(conf->database);
	free(conf->timezone);
	free(conf->overflow_target);
	for (i = 0; i < conf->tls.nlisten; i++)
		free(conf->tls.listen[i]);
	free(conf->tls.certificate);
	free(conf->tls.key);
	free(conf->tls.ca);
	free(conf);
}

/* The config path to use: explicit, else $CRISISD_CONF, else the default. */
const char *
conf_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL && explicit_path[0] != '\0')
		return explicit_path;
	env = getenv("CRISISD_CONF");
	if (env != NULL && env[0] != '\0')
		return env;
	return CONF_DEFAULT_PATH;
}

/* The name of a strategy, "unknown" for a value outside the enum. */
const char *
conf_strategy_name(enum strategy s)
{
	if ((size_t)s >= nitems(conf_strategy_names))
		return "unknown";
	return conf_strategy_names[s];
}

/* The strategy called name, or -1. */
int
conf_strategy_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(conf_strategy_names); i++) {
		if (strcmp(conf_strategy_names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

/* The settings of tier number `tier`, or NULL if the config has none. */
const struct conf_tier *
conf_tier(const struct conf *conf, int tier)
{
	size_t i;

	for (i = 0; i < conf->ntiers; i++) {
		if (conf->tiers[i].tier == tier)
			return &conf->tiers[i];
	}
	return NULL;
}
