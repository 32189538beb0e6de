/*
 * evapi.h: the connection to Kamailio's evapi module: netstrings over TCP,
 * reconnected with backoff for as long as the gateway runs.
 *
 * Kamailio is the server; we connect.  Frames are parsed strictly and
 * within limits.max_netstring_bytes (netstring.c): a peer that breaks the
 * framing is closed and connected to again, since there is no telling
 * where its next frame would start.
 */
#ifndef SIPGW_EVAPI_H
#define SIPGW_EVAPI_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "gwconf.h"

struct evapi;

struct evapi_callbacks {
	void (*up)(void *arg); /* connected */
	void (*down)(void *arg); /* connection lost; reconnecting */
	void (*frame)(void *arg, const char *payload, size_t len);
};

struct evapi *evapi_new(struct event_base *base, const struct gwconf *conf,
    const struct evapi_callbacks *cb, void *arg);
/* Connect (and keep reconnecting). */
void evapi_start(struct evapi *e);
bool evapi_up(const struct evapi *e);
/* Send one payload as a netstring; -1 when not connected. */
int evapi_send(struct evapi *e, const char *payload);
void evapi_free(struct evapi *e);

#endif
