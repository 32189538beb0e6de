/*
 * wire.h: every message crisisd sends (CONTRACT §3), built in one place.
 *
 * Each function takes plain values, never the engine's structs, and
 * returns the message as today's clients see it: keys in the order they
 * have always come (jansson keeps insertion order), optional fields
 * omitted or null exactly as before.  tests/unit/test_wire.c pins the
 * text of every message, so a change in the wire format fails a test.
 *
 * Most return a json_t (the caller owns it; wire_line serialises it as
 * connections write it).  A request's "id" is not set here: session_reply
 * echoes it last.  The error and the snapshot carry it second, so their
 * builders take it and return the finished text.
 */
#ifndef CRISISD_WIRE_H
#define CRISISD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "msg.h"
#include "util.h"

/* A message (stolen) as one line without its '\n' (caller frees). */
char *wire_line(json_t *msg);

/* --- any role --- */

/* {"type":"welcome","role":R,"principal":P,"server":"crisisd/VERSION"} */
json_t *wire_welcome(enum role role, const char *principal);
json_t *wire_pong(void);
json_t *wire_ok(void);
/*
 * {"type":"error","id":ID,"code":C,"message":M} as a line (caller frees);
 * id (borrowed) may be NULL, and is then left out.  A message that is not
 * valid UTF-8 is sent with its non-ASCII bytes as '?', never dropped.
 */
char *wire_error(enum msg_code code, const char *message, json_t *id);

/* --- intake --- */

json_t *wire_queued(const char *ref, const char *contact);
/* A clinician accepted; endpoint NULL (none in the roster) is null. */
json_t *wire_routed(const char *contact, const char *ref, const char *clinician,
    const char *endpoint);
json_t *wire_overflow(const char *contact, const char *ref, const char *target);

/* --- clinician --- */

/* What offer and assigned show of a contact. */
struct wire_contact {
	const char *id;
	const char *ref;
	enum risk risk;
	enum channel channel;
	/* NULL when the gateway sent none: null on the wire. */
	const char *caller, *patient, *program, *language;
	const char *const *needs;
	size_t nneeds;
};

/*
 * An offer: the contact without its caller's identity.  A time already
 * past is 0; "continuity" is there only when true.
 */
json_t *wire_offer(const struct wire_contact *ct, int tier,
    int64_t expires_in_ms, bool continuity);
/* The reply to an accept: the offer's fields, then ref and caller. */
json_t *wire_assigned(const struct wire_contact *ct, int tier);

/* The longest withdrawn line, with its NUL (reasons: "abandoned" at most). */
#define WIRE_WITHDRAWN_MAX                                                     \
	(sizeof("{\"type\":\"withdrawn\",\"contact\":\"\","                    \
	        "\"reason\":\"abandoned\"}") +                                 \
	    CONTACT_ID_MAX)
/*
 * {"type":"withdrawn","contact":CID,"reason":R} written into line.  A
 * ring-all accept withdraws one contact from many clinicians, so this is
 * plain formatting, not a JSON tree: contact is the daemon's own id
 * (util_contact_id) and reason one of the contract's words, neither of
 * which JSON needs to escape.
 */
void wire_withdrawn(char line[WIRE_WITHDRAWN_MAX], const char *contact,
    const char *reason);
/* {"type":"status","status":"away","reason":R} */
json_t *wire_status_away(const char *reason);

/* --- supervisor --- */

/*
 * A contact event at time at (ms).  tier is left out when 0, clinician
 * and detail (stolen) when NULL.  contact NULL is null: an event about no
 * contact.
 */
json_t *wire_event(const char *contact, const char *event, int64_t at, int tier,
    const char *clinician, json_t *detail);
/*
 * A roster_gap event at time at: nobody on call on tier from `from` until
 * `to`, or with no known end (null) when !to_known.
 */
json_t *
wire_roster_gap(int64_t at, int tier, int64_t from, int64_t to, bool to_known);

/*
 * A snapshot is written as one line in pieces (engine_snapshot.c): the
 * head, the contacts joined by ',', then the tail.
 */

/* {"type":"snapshot","id":ID,"contacts":[ (caller frees); id may be NULL. */
char *wire_snapshot_head(json_t *id);

/* One offer of a listed contact; the time left may be negative. */
json_t *
wire_snapshot_offer(const char *clinician, int tier, int64_t expires_in_ms);

/* One open or assigned contact as a supervisor sees it live. */
struct wire_snapshot_contact {
	const char *id;
	const char *ref;
	enum risk risk;
	enum channel channel;
	const char *state; /* "open", "assigned" */
	const char *stage; /* the routing stage's name */
	int64_t queued_at;
	int64_t waited_ms;
	json_t *offers; /* an array of wire_snapshot_offer (stolen) */
	int tier; /* 0 (left out) when not ringing a tier */
	const char *program; /* NULL: left out */
	const char *clinician; /* assigned to; NULL: left out */
};
json_t *wire_snapshot_contact(const struct wire_snapshot_contact *c);

/*
 * One connected clinician: on call on the tiers of the mask (bit t for
 * tier t), holding offers; name and contact (the one it is busy with) are
 * left out when NULL.
 */
json_t *wire_snapshot_clinician(const char *id, const char *status,
    uint32_t tiers, size_t offers, const char *name, const char *contact);

/*
 * ],"clinicians":[...],"followups_open":N,"followups":[...]} (caller
 * frees): clinicians and followups (arrays, stolen) close the line.
 */
char *wire_snapshot_tail(json_t *clinicians, int64_t followups_open,
    json_t *followups);

#endif
