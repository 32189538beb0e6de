/*
 * gateway_crisisd.c: crisisd's side of the gateway (gateway.h): contacts
 * and what is owed about them, the replies, and the results (routed,
 * overflow), each acted on once and acknowledged after.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_int.h"
#include "log.h"
#include "util.h"

/* The messages a call may owe, in the order they are sent. */
static const struct {
	unsigned bit;
	const char *type;
} gateway_owed_order[] = {
	{ CALL_OWE_ACK, "ack" },
	{ CALL_OWE_FAILED, "failed" },
	{ CALL_OWE_ENDED, "ended" },
	{ CALL_OWE_ABANDON, "abandon" },
};

/* Note a request; its id into id.  -1 when too many are in flight. */
static int
gateway_request(struct gateway *g, const struct call *c, unsigned what,
    char id[GWMSG_ID_MAX + 1])
{
	struct gw_request *r;

	if (g->nrequests >= g->conf->max_requests)
		return -1;
	r = xcalloc(1, sizeof *r);
	r->id = g->next_id++;
	r->what = what;
	strlcpy_(r->callid, c->callid, sizeof r->callid);
	HASH_ADD(hh, g->requests, id, sizeof r->id, r);
	g->nrequests++;
	snprintf(id, GWMSG_ID_MAX + 1, "r%" PRIu64, r->id);
	return 0;
}

/* Take the request a reply's id names (NULL if none). */
static struct gw_request *
gateway_request_take(struct gateway *g, const char *id)
{
	struct gw_request *r;
	uint64_t n;
	char *end;

	if (id[0] != 'r')
		return NULL;
	n = strtoull(id + 1, &end, 10);
	if (*end != '\0' || end == id + 1)
		return NULL;
	HASH_FIND(hh, g->requests, &n, sizeof n, r);
	if (r != NULL) {
		HASH_DEL(g->requests, r);
		g->nrequests--;
	}
	return r;
}

/* Forget every request in flight (the connection is gone). */
void
gateway_requests_clear(struct gateway *g)
{
	struct gw_request *r, *tmp;

	HASH_ITER (hh, g->requests, r, tmp) {
		HASH_DEL(g->requests, r);
		free(r);
	}
	g->nrequests = 0;
}

/*
 * Send the call's contact to crisisd (again, after a reconnect or a
 * restart: the same ref and fields give the same contact).  While crisisd
 * is away a waiting call is held for outage_grace_ms at most.
 */
void
gateway_submit(struct gateway *g, struct call *c)
{
	const struct gwconf_line *line = gwconf_line(g->conf, c->line);
	char id[GWMSG_ID_MAX + 1], *msg;

	if (!upstream_ready(g->up)) {
		if (c->state == CALL_WAITING &&
		    util_monotonic_ms() - upstream_down_since(g->up) >=
		        g->conf->outage_grace_ms)
			gateway_overflow_local(g, c, "crisisd is unreachable");
		else if (c->state == CALL_WAITING)
			gateway_arm(g, c);
		return;
	}
	if (line == NULL || gateway_request(g, c, 0, id) == -1) {
		if (c->state == CALL_WAITING || c->state == CALL_SUBMITTED)
			gateway_overflow_local(g, c,
			    line == NULL ? "the line is no longer configured"
			                 : "too many requests in flight");
		return;
	}
	msg = gwmsg_contact(id, c->callid, line, c->caller);
	upstream_send(g->up, msg);
	free(msg);
	if (c->state == CALL_WAITING)
		call_enter(c, CALL_SUBMITTED);
	if (c->state == CALL_SUBMITTED)
		gateway_arm(g, c);
}

/* Send what the call owes crisisd, once its contact id is known. */
void
gateway_flush(struct gateway *g, struct call *c)
{
	char id[GWMSG_ID_MAX + 1], *msg;
	size_t i;
	unsigned bit;

	if (!upstream_ready(g->up) || c->contact[0] == '\0')
		return;
	for (i = 0; i < nitems(gateway_owed_order); i++) {
		bit = gateway_owed_order[i].bit;
		if (!(c->owed & bit) || (c->inflight & bit))
			continue;
		if (gateway_request(g, c, bit, id) == -1)
			return; /* sent after the next reply */
		if (bit == CALL_OWE_FAILED)
			msg = gwmsg_failed(id, c->contact, c->fail_reason);
		else
			msg = gwmsg_about_contact(id,
			    gateway_owed_order[i].type, c->contact);
		upstream_send(g->up, msg);
		free(msg);
		c->owed &= ~bit;
		c->inflight |= bit;
	}
}

/* The reply to a contact: queued, or an error (route the caller away). */
static void
gateway_contact_reply(struct gateway *g, struct call *c,
    const struct cd_msg *msg)
{
	if (msg->type != CD_QUEUED) {
		log_warnx("call %s: crisisd refused the contact: %s: %s",
		    c->callid, msg->code, msg->message);
		if (c->state == CALL_SUBMITTED || c->state == CALL_WAITING) {
			c->owed &= ~(unsigned)CALL_OWE_FAILED;
			gateway_overflow_local(g, c, "crisisd refused it");
		}
		return;
	}
	call_set_contact(&g->calls, c, msg->contact);
	log_contact(LOG_LEVEL_INFO, c->contact, NULL, "call %s: queued",
	    c->callid);
	if (c->state == CALL_SUBMITTED &&
	    call_enter(c,
	        (c->owed & CALL_OWE_FAILED) ? CALL_REROUTING : CALL_QUEUED) ==
	        0)
		gateway_arm(g, c);
	gateway_flush(g, c);
}

/* A reply to one of our requests. */
static void
gateway_reply(struct gateway *g, const struct cd_msg *msg)
{
	struct gw_request *r = gateway_request_take(g, msg->id);
	struct call *c;

	if (r == NULL)
		return; /* a ping's pong, or from a closed connection */
	c = call_by_callid(&g->calls, r->callid);
	if (c != NULL && r->what == 0)
		gateway_contact_reply(g, c, msg);
	else if (c != NULL) {
		c->inflight &= ~r->what;
		if (msg->type == CD_ERROR)
			log_contact(LOG_LEVEL_NOTICE, c->contact, NULL,
			    "call %s: crisisd answered %s to it: %s", c->callid,
			    msg->code, msg->message);
		gateway_flush(g, c);
		gateway_done_maybe(g, c);
	}
	free(r);
}

/* A result for a call we do not hold (it ended, or we restarted). */
static void
gateway_result_unknown(struct gateway *g, const struct cd_msg *msg)
{
	char id[GWMSG_ID_MAX + 1], *line;

	/*
	 * Until Kamailio has had time to tell us of the calls it holds, the
	 * result may be for one of them: leave it unacked, and crisisd sends
	 * it again when we send that contact again.  After that, nobody is
	 * waiting for it: ack, so it stops coming.
	 */
	if (!evapi_up(g->evapi) ||
	    util_monotonic_ms() - g->resync_ms < GW_RESYNC_GRACE_MS)
		return;
	log_contact(LOG_LEVEL_WARNING, msg->contact, NULL,
	    "%s for call %s, which is no longer here: acknowledged",
	    msg->type == CD_ROUTED ? "routed" : "overflow", msg->ref);
	snprintf(id, sizeof id, "u%" PRIu64, g->next_id++);
	line = gwmsg_about_contact(id, "ack", msg->contact);
	upstream_send(g->up, line);
	free(line);
}

/* Act on a routed or an overflow, once; a repeat is only acked. */
static void
gateway_result(struct gateway *g, const struct cd_msg *msg)
{
	struct call *c = call_by_callid(&g->calls, msg->ref);
	char user[GWMSG_USER_MAX + 1];
	const char *why = NULL, *uri;
	bool listed;

	if (c == NULL ||
	    (c->contact[0] != '\0' && strcmp(c->contact, msg->contact) != 0)) {
		gateway_result_unknown(g, msg);
		return;
	}
	call_set_contact(&g->calls, c, msg->contact);
	if (!call_awaits_result(c)) {
		c->owed |= CALL_OWE_ACK; /* a repeat: drop it, ack again */
		gateway_flush(g, c);
		return;
	}
	c->result_ms = util_monotonic_ms();
	c->owed &= ~(unsigned)CALL_OWE_FAILED;
	if (msg->type == CD_OVERFLOW) {
		uri = gwconf_overflow_uri(g->conf, msg->target, &listed);
		if (!listed)
			log_warnx("overflow target %s has no overflow_uris "
			          "entry: using %s",
			    msg->target, uri);
		c->ack_on_relayed = true;
		gateway_relay(g, c, true, uri);
		return;
	}
	if (!msg->has_endpoint ||
	    gwmsg_endpoint_user(msg->endpoint, user, &why) == -1) {
		/* crisisd routes the caller to someone else at once. */
		snprintf(c->fail_reason, sizeof c->fail_reason, "%s",
		    msg->has_endpoint ? why : "the clinician has no endpoint");
		c->owed |= CALL_OWE_ACK | CALL_OWE_FAILED;
		call_enter(c, CALL_REROUTING);
		gateway_flush(g, c);
		return;
	}
	c->routed = true;
	c->ack_on_relayed = true;
	gateway_relay(g, c, false, user);
}

/* One message from crisisd. */
void
gateway_crisisd_message(void *arg, const struct cd_msg *msg)
{
	struct gateway *g = arg;

	switch (msg->type) {
	case CD_ROUTED:
	case CD_OVERFLOW:
		gateway_result(g, msg);
		break;
	case CD_QUEUED:
	case CD_OK:
	case CD_ERROR:
		gateway_reply(g, msg);
		break;
	default:
		break;
	}
}

/*
 * Welcomed: every call that waited is sent now; every contact whose reply
 * was lost is sent again; what was owed is sent.
 */
void
gateway_crisisd_ready(void *arg)
{
	struct gateway *g = arg;
	struct call *c, *tmp;

	HASH_ITER (hh, g->calls.by_callid, c, tmp) {
		if (c->state == CALL_WAITING || c->state == CALL_SUBMITTED ||
		    (c->contact[0] == '\0' && c->owed != 0)) {
			gateway_submit(g, c);
		} else {
			gateway_arm(g, c);
			gateway_flush(g, c);
		}
	}
}

/*
 * The connection is gone: requests in flight are owed again, and calls
 * waiting on crisisd get outage_grace_ms before they overflow.
 */
void
gateway_crisisd_down(void *arg)
{
	struct gateway *g = arg;
	struct call *c, *tmp;
	int64_t grace = g->conf->outage_grace_ms;

	gateway_requests_clear(g);
	HASH_ITER (hh, g->calls.by_callid, c, tmp) {
		c->owed |= c->inflight;
		c->inflight = 0;
		if (call_awaits_result(c))
			call_arm(c, grace > 1 ? grace : 1);
	}
}
