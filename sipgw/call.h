/*
 * call.h: the calls the gateway tracks, by Call-ID and by contact id.
 *
 * A call is born from Kamailio's invite event (or from an event about a
 * call we lost track of in a restart), moves through enum call_state by
 * call_enter() alone, and ends in call_free().  The table holds at most
 * max_calls calls: a call beyond it is sent to the overflow target
 * untracked, so a flood cannot exhaust memory and no caller is dropped.
 */
#ifndef SIPGW_CALL_H
#define SIPGW_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <uthash.h>

#include "gwmsg.h"

enum call_state {
	CALL_WAITING, /* crisisd away: held briefly, then overflow */
	CALL_SUBMITTED, /* contact sent, no queued yet */
	CALL_QUEUED, /* crisisd routes it: waiting for a result */
	CALL_RELAYING, /* relay command sent to Kamailio */
	CALL_RINGING, /* the clinician's phone rings */
	CALL_CONNECTED, /* the clinician answered */
	CALL_REROUTING, /* failed sent: waiting for a new result */
	CALL_OVERFLOWED, /* sent to the overflow URI: nothing left to do */
	CALL_CLOSING, /* the call is over; crisisd is still owed news */
	CALL_NSTATES,
};

/* Messages crisisd is owed about a call (bits of owed and inflight). */
#define CALL_OWE_ABANDON 0x1
#define CALL_OWE_ENDED 0x2
#define CALL_OWE_FAILED 0x4
#define CALL_OWE_ACK 0x8

struct call {
	char callid[GWMSG_CALLID_MAX + 1];
	char contact[GWMSG_CONTACT_MAX + 1]; /* "" until queued */
	char line[GWMSG_USER_MAX + 1];
	char caller[GWMSG_CALLER_MAX + 1];
	enum call_state state;
	bool suspended; /* Kamailio holds the transaction for us */
	uint32_t tindex, tlabel;
	bool relay_overflow; /* the last relay went to the overflow URI */
	char relay_target[GWMSG_TEXT_MAX + 1]; /* its user or URI */
	bool ack_on_relayed; /* ack crisisd's result once Kamailio relayed */
	bool routed; /* a clinician was named: the end is "ended" */
	char fail_reason[GWMSG_TEXT_MAX + 1];
	int failures; /* the last failed event's attempt number */
	unsigned owed; /* CALL_OWE_* not sent yet */
	unsigned inflight; /* CALL_OWE_* sent, reply not yet read */
	int64_t invite_ms; /* monotonic: when Kamailio told us */
	int64_t result_ms; /* monotonic: when the last result came */
	struct event timer;
	void *owner; /* the table's owner, for the timer's callback */
	UT_hash_handle hh; /* by callid */
	UT_hash_handle hh_cid; /* by contact, once known */
};

struct call_table {
	struct call *by_callid;
	struct call *by_contact;
	int count;
	int max;
	struct event_base *base;
	event_callback_fn on_timer; /* gets the call as its argument */
	void *owner;
};

void call_table_init(struct call_table *t, struct event_base *base, int max,
    event_callback_fn on_timer, void *owner);
/* Free every call (at exit). */
void call_table_clear(struct call_table *t);

/* A new call in state CALL_WAITING, or NULL when the table is full. */
struct call *call_new(struct call_table *t, const struct kam_event *ev);
struct call *call_by_callid(struct call_table *t, const char *callid);
struct call *call_by_contact(struct call_table *t, const char *contact);
/* Learn the call's contact id (from queued); indexes it. */
void
call_set_contact(struct call_table *t, struct call *c, const char *contact);
/*
 * Move to state; logs old -> new.  A move the table below does not allow
 * is a bug in the gateway: logged as an error and refused (returns -1).
 */
int call_enter(struct call *c, enum call_state state);
const char *call_state_name(enum call_state state);
/* (Re)arm the call's one timer for ms from now; 0 ms stops it. */
void call_arm(struct call *c, int64_t ms);
/* Unlink and free. */
void call_free(struct call_table *t, struct call *c);
/* Is a result (routed or overflow) something this call is waiting for? */
bool call_awaits_result(const struct call *c);

#endif
