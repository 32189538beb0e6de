/*
 * wire.c: every message crisisd sends, built in one place (see wire.h).
 *
 * The order of the calls that set keys is the order of the keys on the
 * wire: clients and stored results have always seen them so, and the
 * tests compare whole lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "msg.h"
#include "util.h"
#include "version.h"
#include "wire.h"

/* A message (stolen) as one line, as every connection writes it. */
char *
wire_line(json_t *msg)
{
	char *line = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (line == NULL)
		fatalx("wire_line: out of memory");
	return line;
}

/* Set key to a string, or to null when there is none. */
static void
wire_set_opt(json_t *o, const char *key, const char *value)
{
	json_object_set_new(o, key,
	    value != NULL ? json_string(value) : json_null());
}

/* --- any role --- */

json_t *
wire_welcome(enum role role, const char *principal)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "type", "welcome", "role",
	    msg_role_name(role), "principal", principal, "server",
	    "crisisd/" CRISISD_VERSION);
}

json_t *
wire_pong(void)
{
	return json_pack("{s:s}", "type", "pong");
}

json_t *
wire_ok(void)
{
	return json_pack("{s:s}", "type", "ok");
}

/*
 * The "message" of an error reply.  jansson refuses text that is not valid
 * UTF-8; such text (quoted from a peer, say) keeps its ASCII and shows '?'
 * for the rest, so the client still gets its error.
 */
static json_t *
wire_error_text(const char *message)
{
	json_t *s;
	char *copy, *p;

	if (message == NULL)
		message = "";
	if ((s = json_string(message)) != NULL)
		return s;
	copy = xstrdup(message);
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x7f)
			*p = '?';
	}
	s = json_string(copy);
	free(copy);
	return s;
}

/* The id goes second, where clients of the first release found it. */
char *
wire_error(enum msg_code code, const char *message, json_t *id)
{
	json_t *o;

	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "type", json_string("error")) == -1 ||
	    (id != NULL && json_object_set(o, "id", id) == -1) ||
	    json_object_set_new(o, "code", json_string(msg_code_name(code))) ==
	        -1 ||
	    json_object_set_new(o, "message", wire_error_text(message)) == -1)
		fatalx("wire_error: out of memory");
	return wire_line(o);
}

/* --- intake --- */

json_t *
wire_queued(const char *ref, const char *contact)
{
	return json_pack("{s:s, s:s, s:s}", "type", "queued", "ref", ref,
	    "contact", contact);
}

json_t *
wire_routed(const char *contact, const char *ref, const char *clinician,
    const char *endpoint)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "routed",
	    "contact", contact, "ref", ref, "clinician", clinician, "endpoint",
	    endpoint != NULL ? json_string(endpoint) : json_null());
}

json_t *
wire_overflow(const char *contact, const char *ref, const char *target)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "type", "overflow", "contact",
	    contact, "ref", ref, "target", target);
}

/* --- clinician --- */

/* The needs as a JSON array. */
static json_t *
wire_needs(const struct wire_contact *ct)
{
	json_t *a = json_array();

	for (size_t i = 0; i < ct->nneeds; i++)
		json_array_append_new(a, json_string(ct->needs[i]));
	return a;
}

/*
 * The fields offer and assigned share, before their "type": the first
 * release built the offer from these and set the type after them.
 */
static json_t *
wire_contact_fields(const struct wire_contact *ct, int tier)
{
	json_t *o = json_object();

	json_object_set_new(o, "contact", json_string(ct->id));
	json_object_set_new(o, "tier", json_integer(tier));
	json_object_set_new(o, "risk", json_string(msg_risk_name(ct->risk)));
	json_object_set_new(o, "channel",
	    json_string(msg_channel_name(ct->channel)));
	wire_set_opt(o, "program", ct->program);
	wire_set_opt(o, "language", ct->language);
	json_object_set_new(o, "needs", wire_needs(ct));
	wire_set_opt(o, "patient", ct->patient);
	return o;
}

json_t *
wire_offer(const struct wire_contact *ct, int tier, int64_t expires_in_ms,
    bool continuity)
{
	json_t *m = wire_contact_fields(ct, tier);

	json_object_set_new(m, "type", json_string("offer"));
	json_object_set_new(m, "expires_in_ms",
	    json_integer(expires_in_ms > 0 ? expires_in_ms : 0));
	if (continuity)
		json_object_set_new(m, "continuity", json_true());
	return m;
}

json_t *
wire_assigned(const struct wire_contact *ct, int tier)
{
	json_t *m = wire_contact_fields(ct, tier);

	json_object_set_new(m, "type", json_string("assigned"));
	json_object_set_new(m, "ref", json_string(ct->ref));
	wire_set_opt(m, "caller", ct->caller);
	return m;
}

void
wire_withdrawn(char line[WIRE_WITHDRAWN_MAX], const char *contact,
    const char *reason)
{
	snprintf(line, WIRE_WITHDRAWN_MAX,
	    "{\"type\":\"withdrawn\",\"contact\":\"%s\",\"reason\":\"%s\"}",
	    contact, reason);
}

json_t *
wire_status_away(const char *reason)
{
	return json_pack("{s:s, s:s, s:s}", "type", "status", "status", "away",
	    "reason", reason);
}
