/*
 * contact.c: what a contact is: its states and their legal transitions,
 * who refused it, its saved routing position, and what the messages about
 * it show (wire.c builds them).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "log.h"
#include "util.h"
#include "wire.h"

static const char *const contact_state_names[] = {
	[CONTACT_OPEN] = "open",
	[CONTACT_ASSIGNED] = "assigned",
	[CONTACT_COMPLETED] = "completed",
	[CONTACT_OVERFLOW] = "overflow",
	[CONTACT_ABANDONED] = "abandoned",
};

/*
 * Legal transitions, from (row) to (column).  An open contact is assigned,
 * overflows or is abandoned; an assigned one is completed, or open again
 * when the gateway could not connect the caller (CONTRACT §4 rule 8); the
 * rest are final.
 */
static const bool contact_transitions[][5] = {
	[CONTACT_OPEN] = { [CONTACT_ASSIGNED] = true,
	    [CONTACT_OVERFLOW] = true,
	    [CONTACT_ABANDONED] = true },
	[CONTACT_ASSIGNED] = { [CONTACT_COMPLETED] = true,
	    [CONTACT_OPEN] = true },
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

/* What the offer and assigned messages show of ct. */
static struct wire_contact
contact_wire(const struct contact *ct)
{
	struct wire_contact w = {
		.id = ct->id,
		.ref = ct->ref,
		.risk = ct->risk,
		.channel = ct->channel,
		.caller = ct->caller,
		.patient = ct->patient,
		.program = ct->program,
		.language = ct->language,
		.needs = (const char *const *)ct->needs,
		.nneeds = ct->nneeds,
	};

	return w;
}

/* The offer pushed to a clinician, with the time it has left. */
json_t *
contact_offer_json(const struct offer *o, int64_t now)
{
	struct wire_contact w = contact_wire(o->contact);

	return wire_offer(&w, o->tier, o->expires_at - now, o->continuity);
}

/* The reply to an accept: the offer's fields plus ref and caller. */
json_t *
contact_assigned_json(const struct contact *ct, int tier)
{
	struct wire_contact w = contact_wire(ct);

	return wire_assigned(&w, tier);
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
