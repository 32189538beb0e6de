/*
 * wire.c: every message crisisd sends, built in one place (see wire.h).
 *
 * The order of the calls that set keys is the order of the keys on the
 * wire: clients and stored results have always seen them so, and the
 * tests compare whole lines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "msg.h"
#include "roster.h"
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

/* Any JSON value (stolen) as text: a piece of a line built by hand. */
static char *
wire_text(json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(v);
	if (text == NULL)
		fatalx("wire_text: out of memory");
	return text;
}

/* Set key to a string, or to null when there is none. */
static void
wire_set_opt(json_t *o, const char *key, const char *value)
{
	json_object_set_new(o, key,
	    value != NULL ? json_string(value) : json_null());
}

/* Set key to a string only when there is one. */
static void
wire_set_if(json_t *o, const char *key, const char *value)
{
	if (value != NULL)
		json_object_set_new(o, key, json_string(value));
}

/* A time in ms as RFC 3339 text. */
static json_t *
wire_time(int64_t ms)
{
	char text[RFC3339_MAX];

	util_format_rfc3339(ms, text);
	return json_string(text);
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

/* --- supervisor --- */

json_t *
wire_event(const char *contact, const char *event, int64_t at, int tier,
    const char *clinician, json_t *detail)
{
	json_t *m = json_object();

	json_object_set_new(m, "type", json_string("event"));
	wire_set_opt(m, "contact", contact);
	json_object_set_new(m, "event", json_string(event));
	json_object_set_new(m, "at", wire_time(at));
	if (tier > 0)
		json_object_set_new(m, "tier", json_integer(tier));
	wire_set_if(m, "clinician", clinician);
	if (detail != NULL)
		json_object_set_new(m, "detail", detail);
	return m;
}

json_t *
wire_roster_gap(int64_t at, int tier, int64_t from, int64_t to, bool to_known)
{
	json_t *detail = json_object();

	json_object_set_new(detail, "from", wire_time(from));
	json_object_set_new(detail, "to",
	    to_known ? wire_time(to) : json_null());
	return wire_event(NULL, "roster_gap", at, tier, NULL, detail);
}

char *
wire_snapshot_head(json_t *id)
{
	char *id_text, *head;

	if (id == NULL)
		return xstrdup("{\"type\":\"snapshot\",\"contacts\":[");
	id_text = wire_text(json_incref(id));
	xasprintf(&head, "{\"type\":\"snapshot\",\"id\":%s,\"contacts\":[",
	    id_text);
	free(id_text);
	return head;
}

json_t *
wire_snapshot_offer(const char *clinician, int tier, int64_t expires_in_ms)
{
	return json_pack("{s:s, s:i, s:I}", "clinician", clinician, "tier",
	    tier, "expires_in_ms", (json_int_t)expires_in_ms);
}

json_t *
wire_snapshot_contact(const struct wire_snapshot_contact *c)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o}",
	    "contact", c->id, "ref", c->ref, "risk", msg_risk_name(c->risk),
	    "channel", msg_channel_name(c->channel), "state", c->state,
	    "queued_at", wire_time(c->queued_at), "waited_ms",
	    (json_int_t)c->waited_ms, "offers", c->offers);

	json_object_set_new(o, "stage", json_string(c->stage));
	if (c->tier > 0)
		json_object_set_new(o, "tier", json_integer(c->tier));
	wire_set_if(o, "program", c->program);
	wire_set_if(o, "clinician", c->clinician);
	return o;
}

/* The tiers in a mask as a JSON array, lowest first. */
static json_t *
wire_tiers(uint32_t tiers)
{
	json_t *a = json_array();

	for (int t = 1; t <= ROSTER_TIER_MAX; t++) {
		if (tiers & (UINT32_C(1) << t))
			json_array_append_new(a, json_integer(t));
	}
	return a;
}

json_t *
wire_snapshot_clinician(const char *id, const char *status, uint32_t tiers,
    size_t offers, const char *name, const char *contact)
{
	json_t *o = json_object();

	json_object_set_new(o, "clinician", json_string(id));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "tiers", wire_tiers(tiers));
	json_object_set_new(o, "offers", json_integer((json_int_t)offers));
	wire_set_if(o, "name", name);
	wire_set_if(o, "contact", contact);
	return o;
}

char *
wire_snapshot_tail(json_t *clinicians, int64_t followups_open,
    json_t *followups)
{
	char *clinicians_text = wire_text(clinicians);
	char *followups_text = wire_text(followups);
	char *tail;

	xasprintf(&tail,
	    "],\"clinicians\":%s,\"followups_open\":%" PRId64
	    ",\"followups\":%s}",
	    clinicians_text, followups_open, followups_text);
	free(clinicians_text);
	free(followups_text);
	return tail;
}
