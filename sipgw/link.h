/*
 * link.h: what the two connections (evapi.c to Kamailio, upstream.c to
 * crisisd) share: connecting to HOST:PORT without blocking on anything but
 * name resolution, a reconnect delay that backs off, and the walk through
 * a list of addresses.
 */
#ifndef SIPGW_LINK_H
#define SIPGW_LINK_H

#include <stdint.h>

#include <event2/bufferevent.h>

/* Exponential backoff between min_ms and max_ms. */
struct link_backoff {
	int64_t min_ms, max_ms, next_ms;
};

void link_backoff_init(struct link_backoff *b, int64_t min_ms, int64_t max_ms);
/* The delay before the next attempt; doubles the one after. */
int64_t link_backoff_next(struct link_backoff *b);
/* A connection worked: start again from min_ms. */
void link_backoff_reset(struct link_backoff *b);

/*
 * A list of addresses of which one serves (crisisd nodes on one database):
 * a failure at one moves to the next at once, and only a whole round of
 * failures waits, for the backoff, so that a takeover elsewhere is found
 * fast and a list of nodes all down is not tried in a busy loop.
 */
struct link_walk {
	int n; /* addresses */
	int at; /* the one in use, or tried next */
	int failed; /* failures since the last success or pause */
	struct link_backoff backoff;
};

void link_walk_init(struct link_walk *w, int n, int64_t min_ms, int64_t max_ms);
/* The current address failed: move to the next; the ms to wait first. */
int64_t link_walk_failed(struct link_walk *w);
/* The current address works: the next failure starts a fresh round. */
void link_walk_ok(struct link_walk *w);

/*
 * Start connecting bev to host:port (numeric or resolvable).  0, or -1
 * with *cause when the address does not resolve or the connect fails at
 * once.
 */
int link_connect(struct bufferevent *bev, const char *host, const char *port,
    char **cause);

#endif
