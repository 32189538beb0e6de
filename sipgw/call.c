/*
 * call.c: the table of calls and the one function that moves a call from
 * state to state (call.h).
 */
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "log.h"
#include "util.h"

static const char *const call_state_names[CALL_NSTATES] = {
	"waiting",
	"submitted",
	"queued",
	"relaying",
	"ringing",
	"connected",
	"rerouting",
	"overflowed",
	"closing",
};

#define S(x) (1u << (x))
/*
 * The moves allowed out of each state.  Any state may close (the caller
 * hung up, or the call ended) and may overflow (a timer, or crisisd said
 * so); the rest follow the call's life: submitted, queued, relayed,
 * ringing, connected, or failed and routed again.
 */
static const unsigned call_moves[CALL_NSTATES] = {
	[CALL_WAITING] = S(CALL_SUBMITTED) | S(CALL_RELAYING),
	[CALL_SUBMITTED] =
	    S(CALL_QUEUED) | S(CALL_RELAYING) | S(CALL_REROUTING),
	[CALL_QUEUED] = S(CALL_RELAYING),
	[CALL_RELAYING] = S(CALL_RINGING) | S(CALL_OVERFLOWED) |
	    S(CALL_REROUTING) | S(CALL_CONNECTED),
	[CALL_RINGING] = S(CALL_CONNECTED) | S(CALL_REROUTING),
	[CALL_CONNECTED] = 0,
	[CALL_REROUTING] = S(CALL_RELAYING),
	[CALL_OVERFLOWED] = S(CALL_CONNECTED),
	[CALL_CLOSING] = 0,
};

/* Set up an empty table. */
void
call_table_init(struct call_table *t, struct event_base *base, int max,
    event_callback_fn on_timer, void *owner)
{
	memset(t, 0, sizeof *t);
	t->base = base;
	t->max = max;
	t->on_timer = on_timer;
	t->owner = owner;
}

/* Free every call. */
void
call_table_clear(struct call_table *t)
{
	struct call *c, *tmp;

	HASH_ITER (hh, t->by_callid, c, tmp) {
		call_free(t, c);
	}
}

/* A new call from Kamailio's event. */
struct call *
call_new(struct call_table *t, const struct kam_event *ev)
{
	struct call *c;

	if (t->count >= t->max)
		return NULL;
	c = xcalloc(1, sizeof *c);
	strlcpy_(c->callid, ev->callid, sizeof c->callid);
	strlcpy_(c->line, ev->line, sizeof c->line);
	strlcpy_(c->caller, ev->caller, sizeof c->caller);
	c->state = CALL_WAITING;
	c->invite_ms = util_monotonic_ms();
	c->owner = t->owner;
	evtimer_assign(&c->timer, t->base, t->on_timer, c);
	HASH_ADD_STR(t->by_callid, callid, c);
	t->count++;
	return c;
}

/* The call with this Call-ID. */
struct call *
call_by_callid(struct call_table *t, const char *callid)
{
	struct call *c;

	HASH_FIND_STR(t->by_callid, callid, c);
	return c;
}

/* The call with this contact id. */
struct call *
call_by_contact(struct call_table *t, const char *contact)
{
	struct call *c;

	HASH_FIND(hh_cid, t->by_contact, contact, strlen(contact), c);
	return c;
}

/* Learn a call's contact id. */
void
call_set_contact(struct call_table *t, struct call *c, const char *contact)
{
	if (c->contact[0] != '\0')
		return;
	strlcpy_(c->contact, contact, sizeof c->contact);
	HASH_ADD(hh_cid, t->by_contact, contact[0], strlen(c->contact), c);
}

/* The name of a state, for logs. */
const char *
call_state_name(enum call_state state)
{
	return state < CALL_NSTATES ? call_state_names[state] : "?";
}

/* Move a call to state, if the move is allowed. */
int
call_enter(struct call *c, enum call_state state)
{
	bool allowed = state == CALL_CLOSING || state == c->state ||
	    (state == CALL_RELAYING && c->state != CALL_CLOSING) ||
	    (call_moves[c->state] & S(state)) != 0;

	if (!allowed) {
		log_error("call %s: no move from %s to %s", c->callid,
		    call_state_name(c->state), call_state_name(state));
		return -1;
	}
	if (state != c->state)
		log_debug("call %s: %s -> %s", c->callid,
		    call_state_name(c->state), call_state_name(state));
	c->state = state;
	return 0;
}

/* (Re)arm the call's timer. */
void
call_arm(struct call *c, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)((ms % 1000) * 1000) };

	evtimer_del(&c->timer);
	if (ms > 0)
		evtimer_add(&c->timer, &tv);
}

/* Unlink and free a call. */
void
call_free(struct call_table *t, struct call *c)
{
	evtimer_del(&c->timer);
	HASH_DELETE(hh, t->by_callid, c);
	if (c->contact[0] != '\0')
		HASH_DELETE(hh_cid, t->by_contact, c);
	t->count--;
	free(c);
}

/* Is a result something this call waits for? */
bool
call_awaits_result(const struct call *c)
{
	return c->state == CALL_SUBMITTED || c->state == CALL_QUEUED ||
	    c->state == CALL_REROUTING;
}
