/*
 * gateway_int.h: what gateway.c (Kamailio's side) and gateway_crisisd.c
 * (crisisd's side) share.
 */
#ifndef SIPGW_GATEWAY_INT_H
#define SIPGW_GATEWAY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uthash.h>

#include "call.h"
#include "evapi.h"
#include "gateway.h"
#include "log.h"
#include "gwconf.h"
#include "upstream.h"

/* A request to crisisd awaiting its reply, by id "rN". */
struct gw_request {
	uint64_t id;
	char callid[GWMSG_CALLID_MAX + 1];
	unsigned what; /* CALL_OWE_* bit, or 0 for a contact */
	UT_hash_handle hh;
};

/* Results for calls we do not know are acked this long after a resync. */
#define GW_RESYNC_GRACE_MS 5000

struct gateway {
	struct event_base *base;
	const struct gwconf *conf;
	struct evapi *evapi;
	struct upstream *up;
	struct call_table calls;
	struct gw_request *requests;
	int nrequests;
	uint64_t next_id;
	int64_t resync_ms; /* monotonic: when we last asked for a resync */
	struct log_limit full;
};

/* gateway.c */
void gateway_overflow_local(struct gateway *g, struct call *c, const char *why);
void gateway_relay(struct gateway *g, struct call *c, bool overflow,
    const char *target);
void gateway_done_maybe(struct gateway *g, struct call *c);
void gateway_arm(struct gateway *g, struct call *c);

/* gateway_crisisd.c */
void gateway_submit(struct gateway *g, struct call *c);
void gateway_flush(struct gateway *g, struct call *c);
void gateway_crisisd_ready(void *arg);
void gateway_crisisd_down(void *arg);
void gateway_crisisd_message(void *arg, const struct cd_msg *msg);
void gateway_requests_clear(struct gateway *g);

#endif
