/*
 * gwconf.c: read crisis-sipgw.conf with libconfig, check every key against
 * a table, collect every error with its file and line, and copy the result
 * into struct gwconf (gwconf.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "gwconf.h"
#include "log.h"
#include "util.h"

#define GWCONF_ERROR_MAX_BYTES 512
#define GWCONF_TOKEN_MAX_BYTES 512
#define GWCONF_ADDRESS_MAX_BYTES 300

static const char *const gwconf_risks[] = { "imminent", "high", "moderate",
	"low", "unknown" };

/* The errors found so far, and the file they are about. */
struct gwconf_check {
	const char *path;
	char *errors;
	int nerrors;
};

/* Add "FILE:LINE: key: message" to the errors. */
static void __attribute__((format(printf, 3, 4)))
gwconf_error(struct gwconf_check *ck, const config_setting_t *s,
    const char *fmt, ...)
{
	char msg[GWCONF_ERROR_MAX_BYTES], *all;
	const char *file = s != NULL ? config_setting_source_file(s) : NULL;
	const char *name = s != NULL ? config_setting_name(s) : NULL;
	unsigned int line = s != NULL ? config_setting_source_line(s) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	xasprintf(&all, "%s%s%s:%u: %s%s%s", ck->errors ? ck->errors : "",
	    ck->errors ? "\n" : "", file ? file : ck->path, line ? line : 1,
	    name ? name : "", name ? ": " : "", msg);
	free(ck->errors);
	ck->errors = all;
	ck->nerrors++;
}

/* A string setting of 1..max bytes, or NULL after an error. */
static const char *
gwconf_string(struct gwconf_check *ck, const config_setting_t *s, size_t max)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		gwconf_error(ck, s, "must be a string");
		return NULL;
	}
	v = config_setting_get_string(s);
	if (v[0] == '\0' || strlen(v) > max) {
		gwconf_error(ck, s, "must be 1 to %zu bytes", max);
		return NULL;
	}
	if (!util_utf8_valid(v)) {
		gwconf_error(ck, s, "is not UTF-8");
		return NULL;
	}
	return v;
}

/* Store a copy of a string setting in *field. */
static void
gwconf_set_string(struct gwconf_check *ck, const config_setting_t *s,
    char **field)
{
	const char *v = gwconf_string(ck, s, GWCONF_STRING_MAX);

	if (v != NULL) {
		free(*field);
		*field = xstrdup(v);
	}
}

/* An integer setting in min..max, or -1 after an error. */
static int
gwconf_integer(struct gwconf_check *ck, const config_setting_t *s,
    long long min, long long max, long long *out)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		gwconf_error(ck, s, "must be an integer");
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		gwconf_error(ck, s, "%lld is out of range %lld..%lld", v, min,
		    max);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * Split "host:port" or "[v6]:port" into copies of its parts.  Returns
 * NULL, or why it is not an address.
 */
static const char *
gwconf_split_address(const char *v, char **host, char **port)
{
	const char *colon, *h = v, *end;
	char *p;
	long n;

	if (v[0] == '[') {
		if ((end = strchr(v, ']')) == NULL || end[1] != ':')
			return "expected [IPv6]:PORT";
		h = v + 1;
		colon = end + 1;
	} else {
		if ((colon = strrchr(v, ':')) == NULL || colon == v)
			return "expected HOST:PORT";
		end = colon;
	}
	errno = 0;
	n = strtol(colon + 1, &p, 10);
	if (colon[1] == '\0' || *p != '\0' || errno != 0 || n < 1 || n > 65535)
		return "the port must be 1..65535";
	*host = strndup(h, (size_t)(end - h));
	*port = xstrdup(colon + 1);
	if (*host == NULL)
		fatal("strndup");
	return NULL;
}

/* An address setting into *host and *port; -1 after an error. */
static int
gwconf_set_address(struct gwconf_check *ck, const config_setting_t *s,
    char **host, char **port)
{
	const char *v = gwconf_string(ck, s, GWCONF_ADDRESS_MAX_BYTES), *why;

	if (v == NULL)
		return -1;
	free(*host);
	free(*port);
	*host = *port = NULL;
	if ((why = gwconf_split_address(v, host, port)) != NULL) {
		gwconf_error(ck, s, "\"%s\": %s", v, why);
		return -1;
	}
	return 0;
}

/* A path, made absolute against the config file's folder. */
static void
gwconf_set_path(struct gwconf_check *ck, const config_setting_t *s,
    char **field)
{
	const char *v = gwconf_string(ck, s, PATH_MAX / 2), *slash;

	if (v == NULL)
		return;
	free(*field);
	slash = strrchr(ck->path, '/');
	if (v[0] == '/' || slash == NULL)
		*field = xstrdup(v);
	else
		xasprintf(field, "%.*s/%s", (int)(slash - ck->path), ck->path,
		    v);
}

/* One key a group may hold, and what it does with the setting. */
struct gwconf_key {
	const char *name;
	bool required;
	void (*handle)(struct gwconf_check *, const config_setting_t *,
	    struct gwconf *, void *);
};

/* Check every setting of group against keys; report missing ones. */
static void
gwconf_group(struct gwconf_check *ck, const config_setting_t *group,
    const struct gwconf_key *keys, size_t nkeys, struct gwconf *conf,
    void *item)
{
	const config_setting_t *s;
	size_t k;
	int i;

	if (!config_setting_is_group(group)) {
		gwconf_error(ck, group, "must be a group { ... }");
		return;
	}
	for (i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
		for (k = 0; k < nkeys; k++) {
			if (strcmp(config_setting_name(s), keys[k].name) == 0)
				break;
		}
		if (k == nkeys)
			gwconf_error(ck, s, "unknown key");
		else
			keys[k].handle(ck, s, conf, item);
	}
	for (k = 0; k < nkeys; k++) {
		if (keys[k].required &&
		    config_setting_get_member(group, keys[k].name) == NULL)
			gwconf_error(ck, group, "%s is missing", keys[k].name);
	}
}

/* One more crisisd address. */
static void
gwconf_add_crisisd(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf)
{
	struct gwconf_address *a = &conf->crisisd[conf->ncrisisd];

	if (gwconf_set_address(ck, s, &a->host, &a->port) == 0)
		conf->ncrisisd++;
}

/*
 * crisisd.address: one "HOST:PORT", or a list of them, the nodes that
 * share one database (CONTRACT §10), tried in order.
 */
static void
gwconf_key_address(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	const config_setting_t *e;
	int i, n;

	(void)item;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		gwconf_add_crisisd(ck, s, conf);
		return;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		gwconf_error(ck, s, "must be \"HOST:PORT\" or a list of them");
		return;
	}
	if ((n = config_setting_length(s)) == 0 || n > GWCONF_CRISISD_MAX) {
		gwconf_error(ck, s, "must list 1 to %d addresses",
		    GWCONF_CRISISD_MAX);
		return;
	}
	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++)
		gwconf_add_crisisd(ck, e, conf);
}

/* crisisd.principal */
static void
gwconf_key_principal(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	const char *v = gwconf_string(ck, s, PRINCIPAL_ID_MAX);

	(void)item;
	if (v != NULL && !util_valid_principal_id(v))
		gwconf_error(ck, s, "\"%s\" is not a principal id", v);
	else if (v != NULL)
		gwconf_set_string(ck, s, &conf->principal);
}

/* crisisd.token_file */
static void
gwconf_key_token_file(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	(void)item;
	gwconf_set_path(ck, s, &conf->token_file);
}

/* crisisd.tls.{ca,certificate,key} */
static void
gwconf_key_tls_path(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	const char *name = config_setting_name(s);

	(void)item;
	if (strcmp(name, "ca") == 0)
		gwconf_set_path(ck, s, &conf->tls.ca);
	else if (strcmp(name, "certificate") == 0)
		gwconf_set_path(ck, s, &conf->tls.certificate);
	else
		gwconf_set_path(ck, s, &conf->tls.key);
}

/* crisisd.tls.server_name */
static void
gwconf_key_tls_name(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	(void)item;
	gwconf_set_string(ck, s, &conf->tls.server_name);
}

static const struct gwconf_key gwconf_tls_keys[] = {
	{ "ca", true, gwconf_key_tls_path },
	{ "certificate", false, gwconf_key_tls_path },
	{ "key", false, gwconf_key_tls_path },
	{ "server_name", false, gwconf_key_tls_name },
};

/* crisisd.tls: TLS towards crisisd. */
static void
gwconf_key_tls(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	conf->tls.enabled = true;
	gwconf_group(ck, s, gwconf_tls_keys, nitems(gwconf_tls_keys), conf,
	    item);
	if ((conf->tls.certificate == NULL) != (conf->tls.key == NULL))
		gwconf_error(ck, s, "certificate and key go together");
}

static const struct gwconf_key gwconf_crisisd_keys[] = {
	{ "address", true, gwconf_key_address },
	{ "principal", true, gwconf_key_principal },
	{ "token_file", true, gwconf_key_token_file },
	{ "tls", false, gwconf_key_tls },
};

/* crisisd: where crisisd is and who we are to it. */
static void
gwconf_key_crisisd(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	gwconf_group(ck, s, gwconf_crisisd_keys, nitems(gwconf_crisisd_keys),
	    conf, item);
}

/* evapi: Kamailio's evapi_bind. */
static void
gwconf_key_evapi(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	(void)item;
	gwconf_set_address(ck, s, &conf->evapi_host, &conf->evapi_port);
}

/* log_level */
static void
gwconf_key_log_level(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	static const char *const levels[] = { "debug", "info", "notice",
		"warning", "error" };
	const char *v = gwconf_string(ck, s, 16);
	size_t i;

	(void)item;
	for (i = 0; v != NULL && i < nitems(levels); i++) {
		if (strcmp(v, levels[i]) == 0) {
			gwconf_set_string(ck, s, &conf->log_level);
			return;
		}
	}
	if (v != NULL)
		gwconf_error(ck, s,
		    "\"%s\": debug, info, notice, warning or "
		    "error",
		    v);
}

/* lines[].user: a SIP user part, as it appears in a Request-URI. */
static void
gwconf_key_line_user(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	struct gwconf_line *line = item;
	const char *v = gwconf_string(ck, s, 64);

	(void)conf;
	if (v != NULL &&
	    strspn(v,
	        "abcdefghijklmnopqrstuvwxyz"
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-_.") != strlen(v))
		gwconf_error(ck, s, "\"%s\": letters, digits and +-_. only", v);
	else if (v != NULL)
		gwconf_set_string(ck, s, &line->user);
}

/* lines[].risk */
static void
gwconf_key_line_risk(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	struct gwconf_line *line = item;
	const char *v = gwconf_string(ck, s, 16);
	size_t i;

	(void)conf;
	for (i = 0; v != NULL && i < nitems(gwconf_risks); i++) {
		if (strcmp(v, gwconf_risks[i]) == 0) {
			gwconf_set_string(ck, s, &line->risk);
			return;
		}
	}
	if (v != NULL)
		gwconf_error(ck, s,
		    "\"%s\": imminent, high, moderate, low or "
		    "unknown",
		    v);
}

/* lines[].language and lines[].program */
static void
gwconf_key_line_text(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	struct gwconf_line *line = item;

	(void)conf;
	if (strcmp(config_setting_name(s), "language") == 0)
		gwconf_set_string(ck, s, &line->language);
	else
		gwconf_set_string(ck, s, &line->program);
}

/* lines[].needs: a list of skills. */
static void
gwconf_key_line_needs(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	struct gwconf_line *line = item;
	const config_setting_t *e;
	const char *v;
	int i;

	(void)conf;
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		gwconf_error(ck, s, "must be a list of strings");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++) {
		if ((v = gwconf_string(ck, e, 64)) == NULL)
			continue;
		if (line->nneeds == GWCONF_NEEDS_MAX) {
			gwconf_error(ck, s, "more than %d", GWCONF_NEEDS_MAX);
			return;
		}
		line->needs[line->nneeds++] = xstrdup(v);
	}
}

static const struct gwconf_key gwconf_line_keys[] = {
	{ "user", true, gwconf_key_line_user },
	{ "risk", true, gwconf_key_line_risk },
	{ "language", false, gwconf_key_line_text },
	{ "program", false, gwconf_key_line_text },
	{ "needs", false, gwconf_key_line_needs },
};

/* lines: the crisis numbers; each user once. */
static void
gwconf_key_lines(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	const config_setting_t *e;
	struct gwconf_line *line;
	int i;

	(void)item;
	if (!config_setting_is_list(s)) {
		gwconf_error(ck, s, "must be a list ( { ... }, ... )");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++) {
		if (conf->nlines == GWCONF_LINES_MAX) {
			gwconf_error(ck, e, "more than %d lines",
			    GWCONF_LINES_MAX);
			return;
		}
		line = &conf->lines[conf->nlines++];
		gwconf_group(ck, e, gwconf_line_keys, nitems(gwconf_line_keys),
		    conf, line);
		if (line->user != NULL && conf->nlines > 1 &&
		    gwconf_line(conf, line->user) != line)
			gwconf_error(ck, e, "line \"%s\" is listed twice",
			    line->user);
	}
}

/* overflow_uris[].target and .uri */
static void
gwconf_key_overflow_item(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	struct gwconf_overflow *o = item;
	const char *v = gwconf_string(ck, s, GWCONF_STRING_MAX);

	(void)conf;
	if (v == NULL)
		return;
	if (strcmp(config_setting_name(s), "target") == 0) {
		gwconf_set_string(ck, s, &o->target);
	} else if (strncmp(v, "sip:", 4) != 0 || strchr(v, '@') == NULL ||
	    strpbrk(v, " \t\r\n\"<>;,") != NULL) {
		gwconf_error(ck, s, "\"%s\" is not a plain sip:USER@HOST URI",
		    v);
	} else {
		gwconf_set_string(ck, s, &o->uri);
	}
}

static const struct gwconf_key gwconf_overflow_keys[] = {
	{ "target", true, gwconf_key_overflow_item },
	{ "uri", true, gwconf_key_overflow_item },
};

/* overflow_uris: where each overflow target is reached. */
static void
gwconf_key_overflow(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	const config_setting_t *e;
	int i;

	(void)item;
	if (!config_setting_is_list(s)) {
		gwconf_error(ck, s, "must be a list ( { ... }, ... )");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++) {
		if (conf->noverflow == GWCONF_OVERFLOW_MAX) {
			gwconf_error(ck, e, "more than %d entries",
			    GWCONF_OVERFLOW_MAX);
			return;
		}
		gwconf_group(ck, e, gwconf_overflow_keys,
		    nitems(gwconf_overflow_keys), conf,
		    &conf->overflow[conf->noverflow++]);
	}
}

/* A duration or count key of the timers and limits groups. */
struct gwconf_number {
	const char *group;
	const char *name;
	long long min, max;
	size_t offset;
	int kind; /* 0: int64_t, 1: int, 2: size_t */
};

static const struct gwconf_number gwconf_numbers[] = {
	{ "timers", "reply_timeout_ms", 100, 60000,
	    offsetof(struct gwconf, reply_timeout_ms), 0 },
	{ "timers", "outage_grace_ms", 0, 60000,
	    offsetof(struct gwconf, outage_grace_ms), 0 },
	{ "timers", "max_wait_ms", 1000, 3600000,
	    offsetof(struct gwconf, max_wait_ms), 0 },
	{ "timers", "reconnect_min_ms", 10, 60000,
	    offsetof(struct gwconf, reconnect_min_ms), 0 },
	{ "timers", "reconnect_max_ms", 10, 600000,
	    offsetof(struct gwconf, reconnect_max_ms), 0 },
	{ "timers", "ping_interval_ms", 100, 600000,
	    offsetof(struct gwconf, ping_interval_ms), 0 },
	{ "limits", "max_calls", 1, 1000000, offsetof(struct gwconf, max_calls),
	    1 },
	{ "limits", "max_netstring_bytes", 256, 1048576,
	    offsetof(struct gwconf, max_netstring_bytes), 2 },
	{ "limits", "max_line_bytes", 1024, 16777216,
	    offsetof(struct gwconf, max_line_bytes), 2 },
	{ "limits", "max_requests", 1, 1000000,
	    offsetof(struct gwconf, max_requests), 1 },
};

/* One key of timers or limits. */
static void
gwconf_key_number(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	const struct gwconf_number *n = item;
	long long v;
	char *field = (char *)conf + n->offset;

	if (gwconf_integer(ck, s, n->min, n->max, &v) == -1)
		return;
	if (n->kind == 0)
		*(int64_t *)(void *)field = v;
	else if (n->kind == 1)
		*(int *)(void *)field = (int)v;
	else
		*(size_t *)(void *)field = (size_t)v;
}

/* timers and limits: each key is one of gwconf_numbers. */
static void
gwconf_key_numbers(struct gwconf_check *ck, const config_setting_t *s,
    struct gwconf *conf, void *item)
{
	const config_setting_t *e;
	size_t k;
	int i;

	(void)item;
	if (!config_setting_is_group(s)) {
		gwconf_error(ck, s, "must be a group { ... }");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++) {
		for (k = 0; k < nitems(gwconf_numbers); k++) {
			if (strcmp(config_setting_name(s),
			        gwconf_numbers[k].group) == 0 &&
			    strcmp(config_setting_name(e),
			        gwconf_numbers[k].name) == 0)
				break;
		}
		if (k == nitems(gwconf_numbers))
			gwconf_error(ck, e, "unknown key");
		else
			gwconf_key_number(ck, e, conf,
			    (void *)&gwconf_numbers[k]);
	}
}

static const struct gwconf_key gwconf_top_keys[] = {
	{ "crisisd", true, gwconf_key_crisisd },
	{ "evapi", true, gwconf_key_evapi },
	{ "lines", true, gwconf_key_lines },
	{ "overflow_uris", true, gwconf_key_overflow },
	{ "log_level", false, gwconf_key_log_level },
	{ "timers", false, gwconf_key_numbers },
	{ "limits", false, gwconf_key_numbers },
};

/* A config with every default set. */
static struct gwconf *
gwconf_new(const char *path)
{
	struct gwconf *conf = xcalloc(1, sizeof *conf);

	conf->path = xstrdup(path);
	conf->log_level = xstrdup("info");
	conf->reply_timeout_ms = 1500;
	conf->outage_grace_ms = 1000;
	conf->max_wait_ms = 150000;
	conf->reconnect_min_ms = 100;
	conf->reconnect_max_ms = 5000;
	conf->ping_interval_ms = 10000;
	conf->max_calls = 2000;
	conf->max_netstring_bytes = 16384;
	conf->max_line_bytes = 65536;
	conf->max_requests = 4096;
	return conf;
}

/* What the keys say of each other. */
static void
gwconf_check_whole(struct gwconf_check *ck, const config_setting_t *root,
    struct gwconf *conf)
{
	if (conf->reconnect_min_ms > conf->reconnect_max_ms)
		gwconf_error(ck, root,
		    "timers: reconnect_min_ms is above reconnect_max_ms");
	if (config_setting_get_member(root, "lines") != NULL &&
	    conf->nlines == 0)
		gwconf_error(ck, config_setting_get_member(root, "lines"),
		    "needs at least one line");
	if (config_setting_get_member(root, "overflow_uris") != NULL &&
	    conf->noverflow == 0)
		gwconf_error(ck,
		    config_setting_get_member(root, "overflow_uris"),
		    "needs at least one entry: callers must reach someone");
}

/* Load and check a config file; see gwconf.h. */
struct gwconf *
gwconf_load(const char *path, char **cause)
{
	struct gwconf_check ck = { path, NULL, 0 };
	struct gwconf *conf;
	config_t cfg;

	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			xasprintf(cause, "%s: cannot read: %s", path,
			    strerror(errno));
		else
			xasprintf(cause, "%s:%d: %s",
			    config_error_file(&cfg) ? config_error_file(&cfg)
			                            : path,
			    config_error_line(&cfg), config_error_text(&cfg));
		config_destroy(&cfg);
		return NULL;
	}
	conf = gwconf_new(path);
	gwconf_group(&ck, config_root_setting(&cfg), gwconf_top_keys,
	    nitems(gwconf_top_keys), conf, NULL);
	gwconf_check_whole(&ck, config_root_setting(&cfg), conf);
	config_destroy(&cfg);
	if (ck.nerrors > 0) {
		*cause = ck.errors;
		gwconf_free(conf);
		return NULL;
	}
	return conf;
}

/* Free a config (NULL is fine). */
void
gwconf_free(struct gwconf *conf)
{
	int i, j;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nlines; i++) {
		free(conf->lines[i].user);
		free(conf->lines[i].risk);
		free(conf->lines[i].language);
		free(conf->lines[i].program);
		for (j = 0; j < conf->lines[i].nneeds; j++)
			free(conf->lines[i].needs[j]);
	}
	for (i = 0; i < conf->noverflow; i++) {
		free(conf->overflow[i].target);
		free(conf->overflow[i].uri);
	}
	free(conf->tls.ca);
	free(conf->tls.certificate);
	free(conf->tls.key);
	free(conf->tls.server_name);
	free(conf->path);
	for (i = 0; i < conf->ncrisisd; i++) {
		free(conf->crisisd[i].host);
		free(conf->crisisd[i].port);
	}
	free(conf->principal);
	free(conf->token_file);
	free(conf->evapi_host);
	free(conf->evapi_port);
	free(conf->log_level);
	free(conf);
}

/* The line for a dialled user. */
const struct gwconf_line *
gwconf_line(const struct gwconf *conf, const char *user)
{
	int i;

	for (i = 0; i < conf->nlines; i++) {
		if (conf->lines[i].user != NULL &&
		    strcmp(conf->lines[i].user, user) == 0)
			return &conf->lines[i];
	}
	return NULL;
}

/* The SIP URI for an overflow target. */
const char *
gwconf_overflow_uri(const struct gwconf *conf, const char *target, bool *listed)
{
	int i;

	for (i = 0; target != NULL && i < conf->noverflow; i++) {
		if (strcmp(conf->overflow[i].target, target) == 0) {
			*listed = true;
			return conf->overflow[i].uri;
		}
	}
	*listed = false;
	return conf->overflow[0].uri;
}

/* The token: the first line of the file, without surrounding blanks. */
char *
gwconf_read_token(const char *path, char **cause)
{
	char buf[GWCONF_TOKEN_MAX_BYTES + 2], *start, *end;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fgets(buf, sizeof buf, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	start = buf + strspn(buf, " \t");
	end = start + strcspn(start, "\r\n");
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	if (*start == '\0' || strlen(start) > GWCONF_TOKEN_MAX_BYTES ||
	    !util_utf8_valid(start)) {
		xasprintf(cause, "%s: no token on its first line", path);
		return NULL;
	}
	return xstrdup(start);
}
