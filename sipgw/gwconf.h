/*
 * gwconf.h: crisis-sipgw's configuration (libconfig syntax, CONTRACT §9).
 *
 * Only gwconf.c touches libconfig: it checks every key, collects every
 * error as "FILE:LINE: key: what is wrong", and copies the result into a
 * plain struct gwconf.
 */
#ifndef SIPGW_GWCONF_H
#define SIPGW_GWCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GWCONF_LINES_MAX 64
#define GWCONF_OVERFLOW_MAX 16
#define GWCONF_NEEDS_MAX 16
#define GWCONF_STRING_MAX 256
/* crisisd nodes sharing one database (CONTRACT §10); one is active. */
#define GWCONF_CRISISD_MAX 16

/* One crisis line: the SIP user dialled, and the contact fields it sets. */
struct gwconf_line {
	char *user;
	char *risk;
	char *language; /* NULL: not sent */
	char *program; /* NULL: not sent */
	char *needs[GWCONF_NEEDS_MAX];
	int nneeds;
};

/* Where an overflow target ("tel:988") is reached as a SIP URI. */
struct gwconf_overflow {
	char *target;
	char *uri;
};

/* One HOST:PORT. */
struct gwconf_address {
	char *host;
	char *port;
};

/* TLS towards crisisd; paths are made absolute against the config file. */
struct gwconf_tls {
	bool enabled;
	char *ca;
	char *certificate; /* NULL: no client certificate */
	char *key;
	char *server_name; /* NULL: the host of the address in use */
};

struct gwconf {
	char *path;
	/* Tried in order; a standby's "unavailable" moves on to the next. */
	struct gwconf_address crisisd[GWCONF_CRISISD_MAX];
	int ncrisisd;
	char *principal;
	char *token_file;
	struct gwconf_tls tls;
	char *evapi_host;
	char *evapi_port;
	char *log_level;
	struct gwconf_line lines[GWCONF_LINES_MAX];
	int nlines;
	struct gwconf_overflow overflow[GWCONF_OVERFLOW_MAX];
	int noverflow;
	/* timers */
	int64_t reply_timeout_ms; /* contact sent, no queued: overflow */
	int64_t outage_grace_ms; /* crisisd away this long: overflow */
	int64_t max_wait_ms; /* no result at all: overflow */
	int64_t reconnect_min_ms;
	int64_t reconnect_max_ms;
	int64_t ping_interval_ms;
	/* limits */
	int max_calls;
	size_t max_netstring_bytes;
	size_t max_line_bytes;
	int max_requests; /* requests to crisisd awaiting a reply */
};

/*
 * Load and check path.  NULL with *cause (every error, one a line) when
 * the file is unreadable or wrong.
 */
struct gwconf *gwconf_load(const char *path, char **cause);
void gwconf_free(struct gwconf *conf);

/* The line a dialled user names, or NULL. */
const struct gwconf_line *
gwconf_line(const struct gwconf *conf, const char *user);
/*
 * The SIP URI for an overflow target; the first entry when the target is
 * not listed (a caller must reach someone), with *listed false.
 */
const char *gwconf_overflow_uri(const struct gwconf *conf, const char *target,
    bool *listed);

/* Read the token file: its first line, trimmed.  NULL with *cause. */
char *gwconf_read_token(const char *path, char **cause);

#endif
