/*
 * link.h: what the two connections (evapi.c to Kamailio, upstream.c to
 * crisisd) share: connecting to HOST:PORT without blocking on anything but
 * name resolution, and a reconnect delay that backs off.
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
 * Start connecting bev to host:port (numeric or resolvable).  0, or -1
 * with *cause when the address does not resolve or the connect fails at
 * once.
 */
int link_connect(struct bufferevent *bev, const char *host, const char *port,
    char **cause);

#endif
