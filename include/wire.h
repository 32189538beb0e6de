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

#endif
