/*
 * config.h: crisisd.conf as a plain struct.  Only config*.c touch libconfig;
 * everyone else reads struct conf.  A reload parses into a new struct and
 * swaps it in only if it is whole.
 */
#ifndef CRISISD_CONFIG_H
#define CRISISD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_DEFAULT_PATH "/etc/crisisd/crisisd.conf"
#define CONF_LISTEN_MAX 16
#define CONF_TIERS_MAX 16

enum strategy {
	STRATEGY_RING_ALL = 0,
	STRATEGY_LONGEST_IDLE,
	STRATEGY_ROUND_ROBIN,
	STRATEGY_SEQUENTIAL,
	STRATEGY_FEWEST_CONTACTS,
};

struct conf_tier {
	int tier; /* 1, 2, 3 ... as written */
	enum strategy strategy;
	int64_t offer_timeout_ms;
};

/* TLS versions tls.min_version may name. */
enum conf_tls_version {
	CONF_TLS_1_2 = 12,
	CONF_TLS_1_3 = 13,
};

/*
 * The tls group: listeners of their own, beside the plain `listen` ones.
 * No tls.listen address: no TLS.  Paths are absolute (resolved against the
 * config file's directory) and were readable when the file was checked.
 */
struct conf_tls {
	char *listen[CONF_LISTEN_MAX]; /* "host:port" or "[v6]:port" */
	size_t nlisten;
	char *certificate; /* PEM: the server certificate, then its chain */
	char *key; /* PEM: its private key */
	char *ca; /* PEM: CAs of client certificates; NULL: none asked */
	bool require_client_cert;
	int min_version; /* enum conf_tls_version */
};

/*
 * The http group: the web console (CONTRACT §8), on listeners of its own,
 * over TLS with the tls group's certificate when that group has one.  No
 * http group (nlisten 0): no console.
 */
struct conf_http {
	char *listen[CONF_LISTEN_MAX];
	size_t nlisten;
	int64_t session_idle_ms; /* a session unused this long ends */
};

/*
 * The ha group (CONTRACT §10): on a PostgreSQL database several crisisd
 * share it, one active at a time under a lease.  node names this one
 * (default: the host name); lease_ms is how long a lease lasts unrenewed.
 */
struct conf_ha {
	char *node;
	int64_t lease_ms;
};

struct conf {
	char *path;

	char *listen[CONF_LISTEN_MAX]; /* "host:port" or "[v6]:port" */
	size_t nlisten;
	char *database;
	char *database_shown; /* for logs: a URI's password blanked out */
	int log_level; /* enum log_level */
	char *timezone;

	/* routing */
	struct conf_tier tiers[CONF_TIERS_MAX]; /* sorted by tier, ascending */
	size_t ntiers;
	int64_t max_wait_ms;
	char *overflow_target;
	int64_t continuity_ms;
	int64_t imminent_max_wait_ms;
	int64_t wrapup_ms;
	int max_missed_offers;
	/* the tier walk rings a clinician for no more contacts; 0: no cap */
	int max_offers_per_clinician;

	/* limits */
	int max_connections;
	int max_unauthenticated; /* connections not yet past hello */
	size_t max_output_bytes_total; /* unsent output, all connections */
	size_t max_line_bytes;
	int64_t hello_timeout_ms;
	int max_contacts_per_second; /* per intake principal; 0: no limit */
	int max_open_contacts; /* per intake principal, being routed */
	int max_open_contacts_total; /* all principals, being routed */

	/* roster: warn of tier-1 gaps starting within this many hours (0: off)
	 */
	int gap_warning_hours;

	/* review: crisisctl stats thresholds */
	int64_t
	    service_level_ms; /* answered within this counts as in service */
	int64_t short_abandon_ms; /* abandoned sooner is counted apart */

	/* tls: TLS listeners, their certificate and client certificates */
	struct conf_tls tls;

	/* http: the web console */
	struct conf_http http;

	/* ha: active/standby on a shared PostgreSQL database */
	struct conf_ha ha;
};

/*
 * Parse and validate path.  On failure returns -1 and sets *cause to every
 * error found, one per line, each "file:line: what is wrong" (caller frees).
 */
int conf_load(const char *path, struct conf **out, char **cause);
void conf_free(struct conf *conf);

/* The config path to use: explicit, else $CRISISD_CONF, else the default. */
const char *conf_path(const char *explicit_path);

/* Name of a strategy, and the reverse (-1 if unknown). */
const char *conf_strategy_name(enum strategy s);
int conf_strategy_from_name(const char *name);

/* The tier's settings, or NULL if the config has no such tier. */
const struct conf_tier *conf_tier(const struct conf *conf, int tier);

#endif
