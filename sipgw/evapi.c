/*
 * evapi.c: the netstring connection to Kamailio (evapi.h).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "evapi.h"
#include "link.h"
#include "log.h"
#include "netstring.h"
#include "util.h"

struct evapi {
	struct event_base *base;
	const struct gwconf *conf;
	struct evapi_callbacks cb;
	void *arg;
	struct bufferevent *bev;
	bool up;
	struct link_backoff backoff;
	struct event *retry;
	struct log_limit refused; /* "cannot connect", once a minute */
};

static void evapi_connect(struct evapi *e);

/* Drop the connection and try again after the backoff. */
static void
evapi_close(struct evapi *e, const char *why)
{
	bool was_up = e->up;
	int64_t ms = link_backoff_next(&e->backoff);
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)((ms % 1000) * 1000) };

	if (e->bev != NULL) {
		bufferevent_free(e->bev);
		e->bev = NULL;
	}
	e->up = false;
	if (was_up)
		log_warnx("evapi: connection to Kamailio lost: %s", why);
	else
		log_limited(&e->refused, LOG_LEVEL_WARNING,
		    "evapi: cannot reach Kamailio at %s:%s: %s",
		    e->conf->evapi_host, e->conf->evapi_port, why);
	evtimer_add(e->retry, &tv);
	if (was_up && e->cb.down != NULL)
		e->cb.down(e->arg);
}

/* Hand every whole frame in the input to the callback. */
static void
evapi_read_cb(struct bufferevent *bev, void *arg)
{
	struct evapi *e = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t have, look, max = e->conf->max_netstring_bytes;
	struct netstring_frame f;
	const char *why = NULL;
	char *buf;

	while ((have = evbuffer_get_length(in)) > 0) {
		look = have < max + NETSTRING_HEADER_MAX
		    ? have
		    : max + NETSTRING_HEADER_MAX;
		buf = (char *)evbuffer_pullup(in, (ev_ssize_t)look);
		switch (netstring_parse(buf, look, max, &f, &why)) {
		case NETSTRING_MORE:
			return;
		case NETSTRING_BAD:
			evapi_close(e, why);
			return;
		case NETSTRING_FRAME:
			e->cb.frame(e->arg, buf + f.payload_off, f.payload_len);
			/* The callback may not close us: it only sends. */
			evbuffer_drain(in, f.frame_len);
			break;
		}
	}
}

/* Connected, or the connection failed or closed. */
static void
evapi_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct evapi *e = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		e->up = true;
		link_backoff_reset(&e->backoff);
		log_notice("evapi: connected to Kamailio at %s:%s",
		    e->conf->evapi_host, e->conf->evapi_port);
		if (e->cb.up != NULL)
			e->cb.up(e->arg);
		return;
	}
	if (what & BEV_EVENT_EOF)
		evapi_close(e, "closed by Kamailio");
	else if (what & BEV_EVENT_ERROR)
		evapi_close(e,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* Start one connection attempt. */
static void
evapi_connect(struct evapi *e)
{
	char *cause = NULL;

	e->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (e->bev == NULL)
		fatalx("bufferevent_socket_new failed");
	bufferevent_setcb(e->bev, evapi_read_cb, NULL, evapi_event_cb, e);
	bufferevent_enable(e->bev, EV_READ | EV_WRITE);
	if (link_connect(e->bev, e->conf->evapi_host, e->conf->evapi_port,
	        &cause) == -1) {
		evapi_close(e, cause);
		free(cause);
	}
}

/* Timer: the backoff is over. */
static void
evapi_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evapi_connect(arg);
}

/* A connection to Kamailio, not yet started. */
struct evapi *
evapi_new(struct event_base *base, const struct gwconf *conf,
    const struct evapi_callbacks *cb, void *arg)
{
	struct evapi *e = xcalloc(1, sizeof *e);

	e->base = base;
	e->conf = conf;
	e->cb = *cb;
	e->arg = arg;
	link_backoff_init(&e->backoff, conf->reconnect_min_ms,
	    conf->reconnect_max_ms);
	if ((e->retry = evtimer_new(base, evapi_retry_cb, e)) == NULL)
		fatalx("evtimer_new failed");
	return e;
}

/* Connect now. */
void
evapi_start(struct evapi *e)
{
	evapi_connect(e);
}

/* Connected to Kamailio? */
bool
evapi_up(const struct evapi *e)
{
	return e->up;
}

/* Send one netstring. */
int
evapi_send(struct evapi *e, const char *payload)
{
	char header[NETSTRING_HEADER_MAX];
	size_t len = strlen(payload), n = netstring_header(len, header);
	struct evbuffer *out;

	if (!e->up)
		return -1;
	out = bufferevent_get_output(e->bev);
	if (evbuffer_add(out, header, n) == -1 ||
	    evbuffer_add(out, payload, len) == -1 ||
	    evbuffer_add(out, ",", 1) == -1)
		fatalx("evbuffer_add: out of memory");
	return 0;
}

/* Close and free. */
void
evapi_free(struct evapi *e)
{
	if (e == NULL)
		return;
	if (e->bev != NULL)
		bufferevent_free(e->bev);
	event_free(e->retry);
	free(e);
}
