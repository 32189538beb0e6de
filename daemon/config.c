/*
 * config.c: read crisisd.conf with libconfig, check every key and copy the
 * values into a plain struct conf.  Only config.c, config_value.c (one
 * value's checks) and config_tls.c (the tls group) include <libconfig.h>;
 * what they share is in config_int.h.
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
 * Every name here starts with conf_, like the exports in config.h, because
 * libconfig already owns the config_ prefix.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"
#include "log.h"
#include "roster.h"
#include "util.h"

#define CONF_DAY_MS (24LL * 60 * 60 * 1000)
#define CONF_TEN_MINUTES_MS (10LL * 60 * 1000)
#define CONF_MISSED_OFFERS_MAX 1000
#define CONF_OFFERS_PER_CLINICIAN_MAX 1000
#define CONF_CONNECTIONS_MAX 1000000
#define CONF_LINE_BYTES_MIN 256
#define CONF_LINE_BYTES_MAX (16LL * 1024 * 1024)
#define CONF_HELLO_TIMEOUT_MIN_MS 100
/*
 * Unsent output of all connections: under a megabyte one big snapshot, or
 * one burst of events to every watcher, could pass it and close readers;
 * a terabyte is as good as no limit.
 */
#define CONF_OUTPUT_TOTAL_MIN_BYTES (1LL << 20)
#define CONF_OUTPUT_TOTAL_MAX_BYTES (1LL << 40)
#define CONF_TARGET_MAX_BYTES 1024
#define CONF_DATABASE_MAX_BYTES 4096
#define CONF_TZ_NAME_MAX_BYTES 128
#define CONF_ERROR_MAX_BYTES 1024
#define CONF_NAME_MAX_BYTES 256

/* What an optional key holds when the file leaves it out. */
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
/* Connections still waiting for their hello (CONTRACT §7). */
#define CONF_DEFAULT_MAX_UNAUTHENTICATED 256
/*
 * Unsent output of all connections (CONTRACT §7): past it the connections
 * holding the most are closed as slow readers, so that max_connections
 * peers that never read cannot hold 4 MiB each.
 */
#define CONF_DEFAULT_MAX_OUTPUT_BYTES_TOTAL (256 * 1024 * 1024)
/*
 * Contacts being routed at once from all gateways: past it a new contact
 * is refused at once ("overloaded") so the gateway sends the caller to 988
 * now rather than into a queue that cannot be served in time.
 */
#define CONF_DEFAULT_OPEN_CONTACTS_TOTAL 20000
/* CONTRACT §4 rule 9: a phone rings for one caller at a time. */
#define CONF_DEFAULT_OFFERS_PER_CLINICIAN 1
#define CONF_RATE_MAX 1000000
#define CONF_DEFAULT_GAP_WARNING_HOURS 24
#define CONF_GAP_WARNING_HOURS_MAX (24 * 31)
#define CONF_DEFAULT_SERVICE_LEVEL_MS 20000
#define CONF_DEFAULT_SHORT_ABANDON_MS 5000
/* A console session unused for 12 hours ends: a clinician's shift. */
#define CONF_DEFAULT_SESSION_IDLE_MS (12LL * 60 * 60 * 1000)
#define CONF_SESSION_IDLE_MIN_MS 1000
/*
 * ha: a lease of 3 s (CONTRACT §10), renewed every second or every third
 * of it if shorter (tests run short leases).
 */
#define CONF_DEFAULT_LEASE_MS 3000
#define CONF_LEASE_MIN_MS 300
#define CONF_LEASE_MAX_MS 600000
#define CONF_NODE_MAX_BYTES 63
#define CONF_SESSION_IDLE_MAX_MS (30 * CONF_DAY_MS)

static const char *const conf_strategy_names[] = {
	[STRATEGY_RING_ALL] = "ring-all",
	[STRATEGY_LONGEST_IDLE] = "longest-idle",
	[STRATEGY_ROUND_ROBIN] = "round-robin",
	[STRATEGY_SEQUENTIAL] = "sequential",
	[STRATEGY_FEWEST_CONTACTS] = "fewest-contacts",
};

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
void
conf_error(struct conf_check *ck, const config_setting_t *s, const char *fmt,
    ...)
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
	xasprintf(&errors, "%s%s%s:%u: %s%s%s",
	    ck->errors != NULL ? ck->errors : "",
	    ck->errors != NULL ? "\n" : "", file != NULL ? file : ck->path,
	    line > 0 ? line : 1, name, name[0] != '\0' ? ": " : "", msg);
	free(ck->errors);
	ck->errors = errors;
	ck->nerrors++;
}

/*
 * Handler: a nested group, checked against its own table; its keys are
 * fields of the struct at key->offset (0: struct conf itself).
 */
static void
conf_key_group(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	if (!config_setting_is_group(s))
		conf_error(ck, s, "must be a group, as in %s : { ... };",
		    key->name);
	else
		conf_check_group(ck, s, key->sub, (char *)base + key->offset);
}

/*
 * The key tables, one per group.  Their handlers live in config_value.c
 * (one value each) and config_tls.c (the tls group); a handler that checks
 * nested entries (routing.tiers, tls, the plain groups) finds their table
 * in key->sub.
 */
static const struct conf_key conf_tier_keys[] = {
	CONF_KEY(conf_tier, tier, true, conf_key_int, 1, ROSTER_TIER_MAX),
	CONF_KEY(conf_tier, strategy, true, conf_key_strategy, 0, 32),
	CONF_KEY(conf_tier, offer_timeout_ms, false, conf_key_ms, 1,
	    CONF_DAY_MS),
};
static const struct conf_table conf_tier_table = { conf_tier_keys,
	nitems(conf_tier_keys) };

static const struct conf_key conf_routing_keys[] = {
	{ "tiers", true, conf_key_tiers, 0, 0, 0, &conf_tier_table },
	CONF_KEY(conf, max_wait_ms, true, conf_key_ms, 1, CONF_DAY_MS),
	CONF_KEY(conf, overflow_target, true, conf_key_string, 0,
	    CONF_TARGET_MAX_BYTES),
	CONF_KEY(conf, continuity_ms, false, conf_key_ms, 0, CONF_DAY_MS),
	CONF_KEY(conf, imminent_max_wait_ms, false, conf_key_ms, 1,
	    CONF_DAY_MS),
	CONF_KEY(conf, wrapup_ms, false, conf_key_ms, 0, CONF_DAY_MS),
	CONF_KEY(conf, max_missed_offers, false, conf_key_int, 1,
	    CONF_MISSED_OFFERS_MAX),
	CONF_KEY(conf, max_offers_per_clinician, false, conf_key_int, 0,
	    CONF_OFFERS_PER_CLINICIAN_MAX),
};
static const struct conf_table conf_routing_table = { conf_routing_keys,
	nitems(conf_routing_keys) };

static const struct conf_key conf_limits_keys[] = {
	CONF_KEY(conf, max_connections, false, conf_key_int, 1,
	    CONF_CONNECTIONS_MAX),
	CONF_KEY(conf, max_unauthenticated, false, conf_key_int, 1,
	    CONF_CONNECTIONS_MAX),
	CONF_KEY(conf, max_output_bytes_total, false, conf_key_size,
	    CONF_OUTPUT_TOTAL_MIN_BYTES, CONF_OUTPUT_TOTAL_MAX_BYTES),
	CONF_KEY(conf, max_line_bytes, false, conf_key_size,
	    CONF_LINE_BYTES_MIN, CONF_LINE_BYTES_MAX),
	CONF_KEY(conf, hello_timeout_ms, false, conf_key_ms,
	    CONF_HELLO_TIMEOUT_MIN_MS, CONF_TEN_MINUTES_MS),
	CONF_KEY(conf, max_contacts_per_second, false, conf_key_int, 0,
	    CONF_RATE_MAX),
	CONF_KEY(conf, max_open_contacts, false, conf_key_int, 0,
	    CONF_RATE_MAX),
	CONF_KEY(conf, max_open_contacts_total, false, conf_key_int, 0,
	    CONF_RATE_MAX),
};
static const struct conf_table conf_limits_table = { conf_limits_keys,
	nitems(conf_limits_keys) };

static const struct conf_key conf_roster_keys[] = {
	CONF_KEY(conf, gap_warning_hours, false, conf_key_int, 0,
	    CONF_GAP_WARNING_HOURS_MAX),
};
static const struct conf_table conf_roster_table = { conf_roster_keys,
	nitems(conf_roster_keys) };

static const struct conf_key conf_review_keys[] = {
	CONF_KEY(conf, service_level_ms, false, conf_key_ms, 1, CONF_DAY_MS),
	CONF_KEY(conf, short_abandon_ms, false, conf_key_ms, 0, CONF_DAY_MS),
};
static const struct conf_table conf_review_table = { conf_review_keys,
	nitems(conf_review_keys) };

/* Handler: http.listen, the web console's own addresses. */
static void
conf_key_http_listen(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	struct conf_http *http = base;

	(void)key;
	conf_address_list(ck, s, http->listen, &http->nlisten, false,
	    "127.0.0.1:7411");
}

static const struct conf_key conf_http_keys[] = {
	CONF_KEY(conf_http, listen, true, conf_key_http_listen, 0, 0),
	CONF_KEY(conf_http, session_idle_ms, false, conf_key_ms,
	    CONF_SESSION_IDLE_MIN_MS, CONF_SESSION_IDLE_MAX_MS),
};
static const struct conf_table conf_http_table = { conf_http_keys,
	nitems(conf_http_keys) };

static const struct conf_key conf_ha_keys[] = {
	CONF_KEY(conf_ha, node, false, conf_key_string, 1, CONF_NODE_MAX_BYTES),
	CONF_KEY(conf_ha, lease_ms, false, conf_key_ms, CONF_LEASE_MIN_MS,
	    CONF_LEASE_MAX_MS),
};
static const struct conf_table conf_ha_table = { conf_ha_keys,
	nitems(conf_ha_keys) };

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
	{ "http", false, conf_key_group, offsetof(struct conf, http), 0, 0,
	    &conf_http_table },
	{ "ha", false, conf_key_group, offsetof(struct conf, ha), 0, 0,
	    &conf_ha_table },
};
static const struct conf_table conf_root_table = { conf_root_keys,
	nitems(conf_root_keys) };

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
void
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

/* The host's name, which names this node unless ha.node says otherwise. */
static char *
conf_default_node(void)
{
	char host[CONF_NODE_MAX_BYTES + 1];

	if (gethostname(host, sizeof host) == -1 || host[0] == '\0')
		return xstrdup("crisisd");
	host[sizeof host - 1] = '\0';
	return xstrdup(host);
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
	conf->max_unauthenticated = CONF_DEFAULT_MAX_UNAUTHENTICATED;
	conf->max_output_bytes_total = CONF_DEFAULT_MAX_OUTPUT_BYTES_TOTAL;
	conf->max_line_bytes = CONF_DEFAULT_MAX_LINE_BYTES;
	conf->hello_timeout_ms = CONF_DEFAULT_HELLO_TIMEOUT_MS;
	conf->max_contacts_per_second = CONF_DEFAULT_CONTACTS_PER_SECOND;
	conf->max_open_contacts = CONF_DEFAULT_OPEN_CONTACTS;
	conf->max_open_contacts_total = CONF_DEFAULT_OPEN_CONTACTS_TOTAL;
	conf->max_offers_per_clinician = CONF_DEFAULT_OFFERS_PER_CLINICIAN;
	conf->gap_warning_hours = CONF_DEFAULT_GAP_WARNING_HOURS;
	conf->service_level_ms = CONF_DEFAULT_SERVICE_LEVEL_MS;
	conf->short_abandon_ms = CONF_DEFAULT_SHORT_ABANDON_MS;
	conf->http.session_idle_ms = CONF_DEFAULT_SESSION_IDLE_MS;
	conf->ha.lease_ms = CONF_DEFAULT_LEASE_MS;
	conf->ha.node = conf_default_node();
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
		xasprintf(&ck->errors, "%s:%d: %s",
		    config_error_file(cfg) != NULL ? config_error_file(cfg)
		                                   : ck->path,
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
	free(conf->database_shown);
	free(conf->timezone);
	free(conf->overflow_target);
	for (i = 0; i < conf->tls.nlisten; i++)
		free(conf->tls.listen[i]);
	free(conf->tls.certificate);
	free(conf->tls.key);
	free(conf->tls.ca);
	for (i = 0; i < conf->http.nlisten; i++)
		free(conf->http.listen[i]);
	free(conf->ha.node);
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
