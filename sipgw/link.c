/*
 * link.c: connecting, backing off and walking a list of addresses, for
 * evapi.c and upstream.c.
 */
#include <sys/socket.h>

#include <netdb.h>
#include <string.h>

#include <event2/util.h>

#include "link.h"
#include "util.h"

/* Backoff from min_ms. */
void
link_backoff_init(struct link_backoff *b, int64_t min_ms, int64_t max_ms)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	b->next_ms = min_ms;
}

/* The next delay; the one after is twice as long, up to max_ms. */
int64_t
link_backoff_next(struct link_backoff *b)
{
	int64_t ms = b->next_ms;

	b->next_ms = ms * 2 > b->max_ms ? b->max_ms : ms * 2;
	return ms;
}

/* Back to the shortest delay. */
void
link_backoff_reset(struct link_backoff *b)
{
	b->next_ms = b->min_ms;
}

/* A walk from the first of n addresses. */
void
link_walk_init(struct link_walk *w, int n, int64_t min_ms, int64_t max_ms)
{
	w->n = n;
	w->at = 0;
	w->failed = 0;
	link_backoff_init(&w->backoff, min_ms, max_ms);
}

/* Next address; no wait within a round, the backoff after a whole one. */
int64_t
link_walk_failed(struct link_walk *w)
{
	w->at = (w->at + 1) % w->n;
	if (++w->failed < w->n)
		return 0;
	w->failed = 0;
	return link_backoff_next(&w->backoff);
}

/* Stay at this address; the backoff starts again from its minimum. */
void
link_walk_ok(struct link_walk *w)
{
	w->failed = 0;
	link_backoff_reset(&w->backoff);
}

/* Resolve host:port and start connecting bev to its first address. */
int
link_connect(struct bufferevent *bev, const char *host, const char *port,
    char **cause)
{
	struct evutil_addrinfo hints, *res = NULL;
	int err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if ((err = evutil_getaddrinfo(host, port, &hints, &res)) != 0) {
		xasprintf(cause, "%s:%s: %s", host, port,
		    evutil_gai_strerror(err));
		return -1;
	}
	err =
	    bufferevent_socket_connect(bev, res->ai_addr, (int)res->ai_addrlen);
	evutil_freeaddrinfo(res);
	if (err != 0) {
		xasprintf(cause, "%s:%s: cannot connect", host, port);
		return -1;
	}
	return 0;
}
