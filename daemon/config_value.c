/*
 * config_value.c: check one value of crisisd.conf and store it, for the key
 * tables of config.c: integers, durations and sizes within their bounds,
 * strings, listen addresses, the database path, the log level, the time
 * zone, and routing.tiers, whose entries are checked against the tier
 * table and added in one place that refuses a tier given twice.
 *
 * A relative database path is taken relative to the directory of the file
 * that names it (not to the daemon's working directory, which systemd sets
 * to /), and made absolute.  ":memory:" is passed through for tests.
 */
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"
#include "log.h"
#include "util.h"

#define CONF_TZDIR_DEFAULT "/usr/share/zoneinfo"
#define CONF_DIGITS "0123456789"
#define CONF_ALNUM                                                             \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" CONF_DIGITS

/* What a tier entry holds when it leaves offer_timeout_ms out. */
#define CONF_DEFAULT_OFFER_TIMEOUT_MS 20000

/* Read an integer (int or int64 in the file) within [min, max]. */
static int
conf_integer(struct conf_check *ck, const config_setting_t *s, int64_t min,
    int64_t max, int64_t *out)
{
	int type = config_setting_type(s);
	int64_t v;

	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
		conf_error(ck, s, "must be an integer");
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		conf_error(ck, s,
		    "%" PRId64 " is out of range %" PRId64 "..%" PRId64, v, min,
		    max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Read a string of 1 to max bytes. */
const char *
conf_string(struct conf_check *ck, const config_setting_t *s, size_t max)
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
void
conf_key_ms(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int64_t v;

	if (conf_integer(ck, s, key->min, key->max, &v) == 0)
		*(int64_t *)((char *)base + key->offset) = v;
}

/* Handler: a count, stored as int. */
void
conf_key_int(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int64_t v;

	if (conf_integer(ck, s, key->min, key->max, &v) == 0)
		*(int *)((char *)base + key->offset) = (int)v;
}

/* Handler: a size in bytes, stored as size_t. */
void
conf_key_size(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	int64_t v;

	if (conf_integer(ck, s, key->min, key->max, &v) == 0)
		*(size_t *)((char *)base + key->offset) = (size_t)v;
}

/* Handler: a non-empty string of at most key->max bytes. */
void
conf_key_string(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);

	if (v != NULL)
		conf_set_string((char **)((char *)base + key->offset), v);
}

/*
 * The database as logs may show it: a URI's password (scheme://user:PASS@)
 * becomes "***"; a path as it is.
 */
static char *
conf_database_shown(const char *database)
{
	const char *auth = strstr(database, "://"), *at, *colon;
	char *shown;

	if (!util_is_postgresql_uri(database) || auth == NULL)
		return xstrdup(database);
	auth += 3;
	at = strchr(auth, '@');
	colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon == NULL)
		return xstrdup(database);
	xasprintf(&shown, "%.*s***%s", (int)(colon + 1 - database), database,
	    at);
	return shown;
}

/* Handler: true or false. */
void
conf_key_bool(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		conf_error(ck, s, "must be true or false");
	else
		*(bool *)((char *)base + key->offset) =
		    config_setting_get_bool(s) != 0;
}

/* The directory part of path, "." if it has none (caller frees). */
char *
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
char *
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
void
conf_key_database(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	const char *from = config_setting_source_file(s);
	struct conf *conf = base;

	if (v == NULL)
		return;
	free(conf->database);
	/* A PostgreSQL URI is libpq's to read, not a path to resolve. */
	if (util_is_postgresql_uri(v))
		conf->database = xstrdup(v);
	else
		conf->database =
		    conf_resolve(from != NULL ? from : ck->path, v);
	free(conf->database_shown);
	conf->database_shown = conf_database_shown(conf->database);
}

/* Is text a port number 1..65535? */
static bool
conf_port_valid(const char *text)
{
	size_t len = strspn(text, CONF_DIGITS);

	return len > 0 && len <= 5 && text[len] == '\0' && atol(text) >= 1 &&
	    atol(text) <= 65535;
}

/* Is the len bytes at text a plausible host name or IPv4 address? */
static bool
conf_host_valid(const char *text, size_t len)
{
	return len > 0 && strspn(text, CONF_ALNUM "._-") >= len;
}

/* Why text is not "host:port" or "[v6]:port", or NULL if it is. */
const char *
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

/* Check and store one address of a list. */
static void
conf_address_one(struct conf_check *ck, const config_setting_t *s, char **addrs,
    size_t *n)
{
	const char *v, *why;

	if ((v = conf_string(ck, s, CONF_LISTEN_MAX_BYTES)) == NULL)
		return;
	if ((why = conf_listen_check(v)) != NULL)
		conf_error(ck, s, "\"%s\": %s", v, why);
	else if (*n == CONF_LISTEN_MAX)
		conf_error(ck, s, "more than %d addresses", CONF_LISTEN_MAX);
	else
		addrs[(*n)++] = xstrdup(v);
}

/*
 * A list of "host:port" addresses (or one string) into addrs[*n]; an
 * empty list is an error unless empty_ok.  example shows the form.
 */
void
conf_address_list(struct conf_check *ck, const config_setting_t *s,
    char **addrs, size_t *n, bool empty_ok, const char *example)
{
	int i, len;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		conf_address_one(ck, s, addrs, n);
		return;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error(ck, s,
		    "must be a list of addresses, as in [ \"%s\" ]", example);
		return;
	}
	if ((len = config_setting_length(s)) == 0 && !empty_ok) {
		conf_error(ck, s, "must name at least one address");
		return;
	}
	for (i = 0; i < len; i++)
		conf_address_one(ck, config_setting_get_elem(s, i), addrs, n);
}

/* Handler: listen, an array of "host:port" strings (or one string). */
void
conf_key_listen(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	struct conf *conf = ck->conf;

	(void)key;
	(void)base;
	conf_address_list(ck, s, conf->listen, &conf->nlisten, false,
	    "127.0.0.1:7410");
}

/* Handler: log_level, stored as enum log_level. */
void
conf_key_log_level(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	int level;

	if (v == NULL)
		return;
	if ((level = log_level_from_name(v)) == -1)
		conf_error(ck, s,
		    "unknown level \"%s\" (debug, info, notice, "
		    "warning or error)",
		    v);
	else
		((struct conf *)base)->log_level = level;
}

/* Does name look like an IANA zone name, with no way out of the tz dir? */
static bool
conf_tz_name_valid(const char *name)
{
	return name[0] != '/' && name[0] != '.' && strstr(name, "..") == NULL &&
	    strstr(name, "/.") == NULL &&
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
void
conf_key_timezone(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);

	if (v == NULL)
		return;
	if (!conf_tz_known(v))
		conf_error(ck, s,
		    "unknown time zone \"%s\" (an IANA name "
		    "such as America/New_York)",
		    v);
	else
		conf_set_string(&((struct conf *)base)->timezone, v);
}

/* Handler: a tier's strategy name. */
void
conf_key_strategy(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	int strategy;

	if (v == NULL)
		return;
	if ((strategy = conf_strategy_from_name(v)) == -1)
		conf_error(ck, s,
		    "unknown strategy \"%s\" (ring-all, "
		    "longest-idle, round-robin, sequential or fewest-contacts)",
		    v);
	else
		*(enum strategy *)((char *)base + key->offset) = strategy;
}

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
			conf_error(ck, num,
			    "tier %d is already defined at "
			    "line %u",
			    t->tier, ck->tier_lines[i]);
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

/*
 * Handler: routing.tiers, a list of { tier; strategy; offer_timeout_ms; },
 * each entry checked against key->sub, the tier table.
 */
void
conf_key_tiers(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const config_setting_t *entry;
	struct conf_tier t;
	int i, n, before;

	(void)base;
	if (!config_setting_is_list(s)) {
		conf_error(ck, s,
		    "must be a list of tier groups, as in "
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
			conf_error(ck, entry,
			    "must be a group { tier = N; "
			    "strategy = \"...\"; }");
			continue;
		}
		memset(&t, 0, sizeof t);
		t.strategy = STRATEGY_RING_ALL;
		t.offer_timeout_ms = CONF_DEFAULT_OFFER_TIMEOUT_MS;
		before = ck->nerrors;
		conf_check_group(ck, entry, key->sub, &t);
		if (ck->nerrors == before)
			conf_tier_add(ck, entry, &t);
	}
}
