/*
 * upstream.h: the connection to crisisd as an intake principal: TCP or
 * TLS (libevent_openssl), hello with the token read fresh from token_file
 * on every attempt, JSON lines in and out, a ping when the line is quiet,
 * and reconnection with backoff.
 *
 * crisisd.address may list several nodes of one database, of which one is
 * active (CONTRACT §10).  A standby answers hello with "unavailable" and
 * closes; that, a failed connect and a lost connection all move on to the
 * next address at once, and only a whole round of failures waits for the
 * backoff.  The gateway sees one connection that goes down and comes back.
 *
 * "Ready" means welcomed: only then may the gateway send.  A line from
 * crisisd longer than limits.max_line_bytes, or a ping without an answer,
 * closes the connection.
 */
#ifndef SIPGW_UPSTREAM_H
#define SIPGW_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "gwconf.h"
#include "gwmsg.h"

struct upstream;

struct upstream_callbacks {
	void (*ready)(void *arg); /* welcomed */
	void (*down)(void *arg); /* the welcomed connection was lost */
	void (*message)(void *arg, const struct cd_msg *msg);
};

/* NULL with *cause when the TLS files cannot be used. */
struct upstream *
upstream_new(struct event_base *base, const struct gwconf *conf,
    const struct upstream_callbacks *cb, void *arg, char **cause);
void upstream_start(struct upstream *u);
bool upstream_ready(const struct upstream *u);
/* Monotonic ms since when crisisd has not been ready (start-up counts). */
int64_t upstream_down_since(const struct upstream *u);
/* Send one line (with its '\n'); -1 when not ready. */
int upstream_send(struct upstream *u, const char *line);
void upstream_free(struct upstream *u);

#endif
