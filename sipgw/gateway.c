/*
 * gateway.c: Kamailio's side of the gateway (gateway.h): the events of
 * kamailio.cfg, the relay commands they lead to, and the per-call timer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_int.h"
#include "log.h"
#include "util.h"

/* Relay a call Kamailio holds without tracking it (the table is full). */
static void
gateway_overflow_untracked(struct gateway *g, const struct kam_event *ev,
    const char *why)
{
	bool listed;
	const char *uri = gwconf_overflow_uri(g->conf, NULL, &listed);
	char *cmd =
	    gwmsg_relay_overflow(ev->callid, ev->tindex, ev->tlabel, uri);

	log_limited(&g->full, LOG_LEVEL_WARNING,
	    "call %s: %s; sent to the overflow target untracked", ev->callid,
	    why);
	evapi_send(g->evapi, cmd);
	free(cmd);
}

/*
 * Tell Kamailio to continue a suspended call towards a clinician's
 * registered phone (target is their SIP user) or an overflow URI.  When
 * Kamailio is away the command waits: its resync tells us of the call
 * again, and gateway_invite sends it then.
 */
void
gateway_relay(struct gateway *g, struct call *c, bool overflow,
    const char *target)
{
	char *cmd;

	if (call_enter(c, CALL_RELAYING) == -1)
		return;
	c->relay_overflow = overflow;
	strlcpy_(c->relay_target, target, sizeof c->relay_target);
	call_arm(c, 0);
	if (!c->suspended || !evapi_up(g->evapi))
		return;
	cmd = overflow
	    ? gwmsg_relay_overflow(c->callid, c->tindex, c->tlabel, target)
	    : gwmsg_relay_clinician(c->callid, c->tindex, c->tlabel, target);
	if (evapi_send(g->evapi, cmd) == 0)
		c->suspended = false;
	free(cmd);
	log_contact(LOG_LEVEL_INFO, c->contact[0] ? c->contact : NULL, NULL,
	    "call %s: relayed to %s %s", c->callid,
	    overflow ? "overflow" : "clinician", target);
}

/*
 * Send the caller to the overflow target on the gateway's own decision
 * (crisisd away, slow, refusing, or past max_wait_ms).  A contact crisisd
 * holds, or may hold, is abandoned so that nobody is offered a caller who
 * is no longer waiting.
 */
void
gateway_overflow_local(struct gateway *g, struct call *c, const char *why)
{
	bool listed;

	log_contact(LOG_LEVEL_WARNING, c->contact[0] ? c->contact : NULL, NULL,
	    "call %s: %s: sending the caller to the overflow target", c->callid,
	    why);
	if (c->state != CALL_WAITING)
		c->owed |= CALL_OWE_ABANDON;
	gateway_relay(g, c, true, gwconf_overflow_uri(g->conf, NULL, &listed));
	gateway_flush(g, c);
}

/* Free a call that has nothing left to do or to tell. */
void
gateway_done_maybe(struct gateway *g, struct call *c)
{
	if ((c->state == CALL_CLOSING || c->state == CALL_OVERFLOWED) &&
	    c->owed == 0 && c->inflight == 0 && !c->ack_on_relayed)
		call_free(&g->calls, c);
}

/* Time left of max_wait_ms since Kamailio told us of the call. */
static int64_t
gateway_wait_left(const struct gateway *g, const struct call *c)
{
	int64_t left =
	    c->invite_ms + g->conf->max_wait_ms - util_monotonic_ms();

	return left > 1 ? left : 1;
}

/* Arm the timer that fits the call's state. */
void
gateway_arm(struct gateway *g, struct call *c)
{
	int64_t grace;

	switch (c->state) {
	case CALL_WAITING:
		grace = upstream_down_since(g->up) + g->conf->outage_grace_ms -
		    util_monotonic_ms();
		call_arm(c, grace > 1 ? grace : 1);
		break;
	case CALL_SUBMITTED:
		call_arm(c, g->conf->reply_timeout_ms);
		break;
	case CALL_QUEUED:
	case CALL_REROUTING:
		call_arm(c, gateway_wait_left(g, c));
		break;
	default:
		call_arm(c, 0);
		break;
	}
}

/* Timer: what the call waited for did not come in time. */
static void
gateway_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	struct gateway *g = c->owner;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CALL_WAITING:
		gateway_overflow_local(g, c, "crisisd is unreachable");
		break;
	case CALL_SUBMITTED:
		gateway_overflow_local(g, c,
		    "crisisd did not queue the call "
		    "in time");
		break;
	case CALL_QUEUED:
	case CALL_REROUTING:
		if (!upstream_ready(g->up))
			gateway_overflow_local(g, c, "crisisd went away");
		else
			gateway_overflow_local(g, c,
			    "no result within "
			    "max_wait_ms");
		break;
	default:
		break;
	}
}

/*
 * A call we do not know, from an event about a later moment of it (the
 * gateway restarted meanwhile): tracked again, and its contact sent again
 * under the same ref, so crisisd names the same contact.
 */
static struct call *
gateway_adopt(struct gateway *g, const struct kam_event *ev)
{
	struct call *c;

	if (gwconf_line(g->conf, ev->line) == NULL)
		return NULL;
	if ((c = call_new(&g->calls, ev)) == NULL)
		return NULL;
	log_info("call %s: adopted after a restart", c->callid);
	return c;
}

/* invite: a new call, suspended; or one Kamailio tells us of again. */
static void
gateway_invite(struct gateway *g, const struct kam_event *ev)
{
	struct call *c = call_by_callid(&g->calls, ev->callid);

	if (c == NULL && gwconf_line(g->conf, ev->line) == NULL) {
		gateway_overflow_untracked(g, ev, "not one of our lines");
		return;
	}
	if (c == NULL && (c = call_new(&g->calls, ev)) == NULL) {
		gateway_overflow_untracked(g, ev, "limits.max_calls reached");
		return;
	}
	c->suspended = true;
	c->tindex = ev->tindex;
	c->tlabel = ev->tlabel;
	if (c->state == CALL_RELAYING) {
		/* Our relay was lost with the connection: send it again. */
		gateway_relay(g, c, c->relay_overflow, c->relay_target);
		return;
	}
	if (c->state == CALL_WAITING)
		gateway_submit(g, c);
}

/* failed: the clinician's phone did not take the call; suspended again. */
static void
gateway_failed(struct gateway *g, const struct kam_event *ev)
{
	struct call *c = call_by_callid(&g->calls, ev->callid);

	if (c == NULL && (c = gateway_adopt(g, ev)) == NULL) {
		gateway_overflow_untracked(g, ev,
		    "a failed call we cannot "
		    "track");
		return;
	}
	if (ev->attempt <= c->failures) {
		/* Kamailio's resync telling us again: not a new failure. */
		gateway_invite(g, ev);
		return;
	}
	c->failures = ev->attempt;
	c->suspended = true;
	c->tindex = ev->tindex;
	c->tlabel = ev->tlabel;
	snprintf(c->fail_reason, sizeof c->fail_reason, "%d%s%s", ev->code,
	    ev->reason[0] ? " " : "", ev->reason);
	log_contact(LOG_LEVEL_NOTICE, c->contact[0] ? c->contact : NULL, NULL,
	    "call %s: the clinician's phone failed: %s", c->callid,
	    c->fail_reason);
	c->owed |= CALL_OWE_FAILED;
	c->routed = false;
	if (c->state == CALL_WAITING) {
		gateway_submit(g, c);
		return;
	}
	if (call_enter(c, CALL_REROUTING) == 0)
		gateway_arm(g, c);
	gateway_flush(g, c);
}

/* What crisisd is owed when the caller's side of a call ends. */
static void
gateway_call_over(struct gateway *g, struct call *c)
{
	if (c->state == CALL_WAITING) {
		call_free(&g->calls, c);
		return;
	}
	if (c->routed)
		c->owed |= CALL_OWE_ENDED;
	else if (c->state != CALL_OVERFLOWED &&
	    !(c->state == CALL_RELAYING && c->relay_overflow))
		c->owed |= CALL_OWE_ABANDON;
	c->owed &= ~(unsigned)CALL_OWE_FAILED;
	call_enter(c, CALL_CLOSING);
	call_arm(c, 0);
	gateway_flush(g, c);
	gateway_done_maybe(g, c);
}

/* cancel or bye: the call is over. */
static void
gateway_hangup(struct gateway *g, const struct kam_event *ev)
{
	struct call *c = call_by_callid(&g->calls, ev->callid);

	if (c == NULL) {
		/*
		 * A call from before a restart: crisisd still needs to hear
		 * of its end, under the contact its ref names.
		 */
		if (ev->leg_overflow ||
		    (ev->type == KAM_BYE && !ev->leg_clinician) ||
		    (c = gateway_adopt(g, ev)) == NULL)
			return;
		c->routed = ev->leg_clinician;
		c->owed |= c->routed ? CALL_OWE_ENDED : CALL_OWE_ABANDON;
		call_enter(c, CALL_CLOSING);
		gateway_submit(g, c);
		return;
	}
	log_contact(LOG_LEVEL_INFO, c->contact[0] ? c->contact : NULL, NULL,
	    "call %s: %s while %s", c->callid,
	    ev->type == KAM_BYE ? "hung up" : "cancelled",
	    call_state_name(c->state));
	gateway_call_over(g, c);
}

/* relayed or gone: Kamailio acted on our relay command. */
static void
gateway_relayed(struct gateway *g, const struct kam_event *ev)
{
	struct call *c = call_by_callid(&g->calls, ev->callid);

	if (c == NULL)
		return;
	if (c->ack_on_relayed) {
		c->ack_on_relayed = false;
		c->owed |= CALL_OWE_ACK;
	}
	if (ev->type == KAM_GONE) {
		log_info("call %s: gone before it could be relayed", c->callid);
		gateway_call_over(g, c);
		return;
	}
	if (c->state == CALL_RELAYING)
		call_enter(c, ev->overflow ? CALL_OVERFLOWED : CALL_RINGING);
	gateway_flush(g, c);
	gateway_done_maybe(g, c);
}

/* answered: the clinician (or the overflow target) took the call. */
static void
gateway_answered(struct gateway *g, const struct kam_event *ev)
{
	struct call *c = call_by_callid(&g->calls, ev->callid);

	if (c == NULL || !c->routed)
		return;
	if (c->state == CALL_RELAYING || c->state == CALL_RINGING) {
		call_enter(c, CALL_CONNECTED);
		log_contact(LOG_LEVEL_INFO, c->contact, NULL,
		    "call %s: connected", c->callid);
	}
}

/* One frame from Kamailio. */
static void
gateway_evapi_frame(void *arg, const char *payload, size_t len)
{
	struct gateway *g = arg;
	struct kam_event ev;
	const char *why = NULL;

	if (gwmsg_parse_event(payload, len, &ev, &why) == -1) {
		log_warnx("evapi: unusable event (%s); ignored", why);
		return;
	}
	switch (ev.type) {
	case KAM_INVITE:
		gateway_invite(g, &ev);
		break;
	case KAM_FAILED:
		gateway_failed(g, &ev);
		break;
	case KAM_CANCEL:
	case KAM_BYE:
		gateway_hangup(g, &ev);
		break;
	case KAM_RELAYED:
	case KAM_GONE:
		gateway_relayed(g, &ev);
		break;
	case KAM_ANSWERED:
		gateway_answered(g, &ev);
		break;
	case KAM_LINES:
		log_notice("evapi: Kamailio routes %d line%s to us", ev.count,
		    ev.count == 1 ? "" : "s");
		break;
	}
}

/* Connected to Kamailio: say which users are lines; ask for its calls. */
static void
gateway_evapi_up(void *arg)
{
	struct gateway *g = arg;
	char *cmd = gwmsg_lines(g->conf);

	evapi_send(g->evapi, cmd);
	free(cmd);
	cmd = gwmsg_resync();
	evapi_send(g->evapi, cmd);
	free(cmd);
	g->resync_ms = util_monotonic_ms();
}

/* Make the gateway and its two connections. */
struct gateway *
gateway_new(struct event_base *base, const struct gwconf *conf, char **cause)
{
	static const struct evapi_callbacks ecb = { gateway_evapi_up, NULL,
		gateway_evapi_frame };
	static const struct upstream_callbacks ucb = { gateway_crisisd_ready,
		gateway_crisisd_down, gateway_crisisd_message };
	struct gateway *g = xcalloc(1, sizeof *g);

	g->base = base;
	g->conf = conf;
	g->next_id = 1;
	call_table_init(&g->calls, base, conf->max_calls, gateway_timer_cb, g);
	if ((g->up = upstream_new(base, conf, &ucb, g, cause)) == NULL) {
		free(g);
		return NULL;
	}
	g->evapi = evapi_new(base, conf, &ecb, g);
	return g;
}

/* Connect to both sides. */
void
gateway_start(struct gateway *g)
{
	upstream_start(g->up);
	evapi_start(g->evapi);
}

/* Free everything. */
void
gateway_free(struct gateway *g)
{
	if (g == NULL)
		return;
	call_table_clear(&g->calls);
	gateway_requests_clear(g);
	evapi_free(g->evapi);
	upstream_free(g->up);
	free(g);
}
