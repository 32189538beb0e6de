/*
 * contact.c: what a contact is: its states and their legal transitions,
 * who refused it, its saved routing position, and the messages about it.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "log.h"
#include "util.h"

static const char *const contact_state_names[] = {
	[CONTACT_OPEN] = "open",
	[CONTACT_ASSIGNED] = "assigned",
	[CONTACT_COMPLETED] = "completed",
	[CONTACT_OVERFLOW] = "overflow",
	[CONTACT_ABANDONED] = "abandoned",
};

/*
 * Legal transitions, from (row) to (column).  An open contact is assigned,
 * overflows or is abandoned; an assigned one is completed; the rest are
 * final.
 */
static const bool contact_transitions[][5] = {
	[CONTACT_OPEN] = { [CONTACT_ASSIGNED] = true,
	    [CONTACT_OVERFLOW] = true,
	    [CONTACT_ABANDONED] = true },
	[CONTACT_ASSIGNED] = { [CONTACT_COMPLETED] = true },
	[CONTACT_COMPLETED] = { false },
	[CONTACT_OVERFLOW] = { false },
	[CONTACT_ABANDONED] = { false },
};

/* The stored name of a state. */
const char *
contact_state_name(enum contact_state s)
{
	return contact_state_names[s];
}

/* The one place a contact changes state: illegal moves are refused. */
int
contact_set_state(struct contact *ct, enum contact_state to)
{
	if (!contact_transitions[ct->state][to]) {
		log_contact(LOG_LEVEL_ERROR, ct->id, NULL,
		    "contact %s: illegal state change %s -> %s", ct->id,
		    contact_state_names[ct->state], contact_state_names[to]);
		return -1;
	}
	log_contact(LOG_LEVEL_DEBUG, ct->id, NULL, "contact %s: %s -> %s",
	    ct->id, contact_state_names[ct->state], contact_state_names[to]);
	ct->state = to;
	return 0;
}

/* Did this clinician decline the contact or let its offer expire? */
bool
contact_refused_by(const struct contact *ct, const char *clin)
{
	for (size_t i = 0; i < ct->nrefused; i++) {
		if (strcmp(ct->refused[i], clin) == 0)
			return true;
	}
	return false;
}

/* Remember a refusal (once). */
void
contact_add_refused(struct contact *ct, const char *clin)
{
	if (contact_refused_by(ct, clin))
		return;
	ct->refused =
	    xreallocarray(ct->refused, ct->nrefused + 1, sizeof(*ct->refused));
	ct->refused[ct->nrefused++] = xstrdup(clin);
}

/* The routing position, refusals and primary as JSON text. */
char *
contact_route_json(const struct contact *ct)
{
	json_t *refused = json_array(), *o;
	char *text;

	for (size_t i = 0; i < ct->nrefused; i++)
		json_array_append_new(refused, json_string(ct->refused[i]));
	o = json_pack("{s:s, s:i, s:I, s:b, s:o, s:s}", "stage",
	    route_stage_name(ct->pos.stage), "tier_index", ct->pos.tier_index,
	    "stage_deadline", (json_int_t)ct->pos.stage_deadline,
	    "waiting_told", ct->pos.waiting_told, "refused", refused, "primary",
	    ct->primary);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		fatalx("contact_route_json: out of memory");
	return text;
}

/* Read a saved routing position back into ct (deadline is kept as is). */
int
contact_route_parse(struct contact *ct, const char *text)
{
	json_t *o = json_loads(text, 0, NULL), *refused = NULL, *v;
	const char *stage = NULL, *primary = "";
	json_int_t stage_deadline = 0;
	int tier_index = 0, waiting = 0, st;
	size_t i;

	if (o == NULL)
		return -1;
	if (json_unpack(o, "{s:s, s:i, s:I, s:b, s:o, s?s}", "stage", &stage,
	        "tier_index", &tier_index, "stage_deadline", &stage_deadline,
	        "waiting_told", &waiting, "refused", &refused, "primary",
	        &primary) != 0 ||
	    (st = route_stage_from_name(stage)) < 0 ||
	    !json_is_array(refused)) {
		json_decref(o);
		return -1;
	}
	ct->pos.stage = (enum route_stage)st;
	ct->pos.tier_index = tier_index;
	ct->pos.stage_deadline = stage_deadline;
	ct->pos.waiting_told = waiting != 0;
	strlcpy_(ct->primary, primary, sizeof(ct->primary));
	json_array_foreach (refused, i, v) {
		if (json_is_string(v))
			contact_add_refused(ct, json_string_value(v));
	}
	json_decref(o);
	return 0;
}

/* The needs as a JSON array. */
json_t *
contact_needs_json(const struct contact *ct)
{
	json_t *a = json_array();

	for (size_t i = 0; i < ct->nneeds; i++)
		json_array_append_new(a, json_string(ct->needs[i]));
	return a;
}

/* Set key to a string, or to null when there is none. */
static void
contact_set_opt(json_t *o, const char *key, const char *value)
{
	json_object_set_new(o, key,
	    value != NULL ? json_string(value) : json_null());
}

/* The fields an offer shows: everything but the caller's identity. */
static json_t *
contact_offer_fields(const struct contact *ct, int tier)
{
	json_t *o = json_object();

	json_object_set_new(o, "contact", json_string(ct->id));
	json_object_set_new(o, "tier", json_integer(tier));
	json_object_set_new(o, "risk", json_string(msg_risk_name(ct->risk)));
	json_object_set_new(o, "channel",
	    json_string(msg_channel_name(ct->channel)));
	contact_set_opt(o, "program", ct->program);
	contact_set_opt(o, "language", ct->language);
	json_object_set_new(o, "needs", contact_needs_json(ct));
	contact_set_opt(o, "patient", ct->patient);
	return o;
}

/* The offer pushed to a clinician, with the time it has left. */
json_t *
contact_offer_json(const struct offer *o, int64_t now)
{
	json_t *m = contact_offer_fields(o->contact, o->tier);
	int64_t left = o->expires_at - now;

	json_object_set_new(m, "type", json_string("offer"));
	json_object_set_new(m, "expires_in_ms",
	    json_integer(left > 0 ? left : 0));
	if (o->continuity)
		json_object_set_new(m, "continuity", json_true());
	return m;
}

/* The reply to an accept: the offer's fields plus ref and caller. */
json_t *
contact_assigned_json(const struct contact *ct, int tier)
{
	json_t *m = contact_offer_fields(ct, tier);

	json_object_set_new(m, "type", json_string("assigned"));
	json_object_set_new(m, "ref", json_string(ct->ref));
	contact_set_opt(m, "caller", ct->caller);
	return m;
}

/* Free a contact's memory (its timer and offers are the engine's). */
void
contact_free(struct contact *ct)
{
	if (ct == NULL)
		return;
	free(ct->ref);
	free(ct->caller);
	free(ct->patient);
	free(ct->program);
	free(ct->language);
	for (size_t i = 0; i < ct->nneeds; i++)
		free(ct->needs[i]);
	free(ct->needs);
	for (size_t i = 0; i < ct->nrefused; i++)
		free(ct->refused[i]);
	free(ct->refused);
	free(ct->matches);
	free(ct);
}
