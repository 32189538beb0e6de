/*
 * engine_snapshot.c: the supervisors' snapshot, built a slice at a time.
 *
 * A snapshot lists every open contact, and there may be tens of thousands:
 * serialised in one go that would hold the event loop (every timer, every
 * offer) for as long as it takes.  So the contacts are serialised a slice
 * per loop turn into one growing line, and the clinicians and follow-ups,
 * which are few, at the end.  Between slices contacts come and go: the
 * snapshot lists each contact as it stood when its slice was written, in
 * queue order, and never one twice.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* Open follow-ups listed in a snapshot (the count covers them all). */
#define ENGINE_SNAPSHOT_FOLLOWUPS 100

struct snapshot {
	char *buf;
	size_t len, cap;
	bool started; /* a contact is in already */
	bool contacts_done;
	/* The last contact written: the next slice starts after it. */
	char last_id[CONTACT_ID_MAX + 1];
	int64_t last_queued_at;
};

/* Append n bytes of text. */
static void
snapshot_append(struct snapshot *sn, const char *text, size_t n)
{
	if (sn->len + n + 1 > sn->cap) {
		while (sn->len + n + 1 > sn->cap)
			sn->cap = sn->cap == 0 ? 4096 : sn->cap * 2;
		sn->buf = xreallocarray(sn->buf, sn->cap, 1);
	}
	memcpy(sn->buf + sn->len, text, n);
	sn->len += n;
	sn->buf[sn->len] = '\0';
}

/* Append a string. */
static void
snapshot_puts(struct snapshot *sn, const char *text)
{
	snapshot_append(sn, text, strlen(text));
}

/* Append a JSON value (stolen), serialised. */
static void
snapshot_json(struct snapshot *sn, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(v);
	if (text == NULL)
		fatalx("snapshot: out of memory");
	snapshot_puts(sn, text);
	free(text);
}

/* The tiers in a mask as a JSON array. */
static json_t *
engine_tiers_json(uint32_t tiers)
{
	json_t *a = json_array();

	for (int t = 1; t <= ROSTER_TIER_MAX; t++) {
		if (tiers & (UINT32_C(1) << t))
			json_array_append_new(a, json_integer(t));
	}
	return a;
}
/* One contact as a supervisor sees it live (no caller identity). */
static json_t *
engine_contact_json(const struct contact *ct, int64_t now)
{
	char at[RFC3339_MAX];
	json_t *o, *offers = json_array();
	struct offer *of;

	TAILQ_FOREACH (of, &ct->offers, by_contact)
		json_array_append_new(offers,
		    json_pack("{s:s, s:i, s:I}", "clinician", of->clin->id,
		        "tier", of->tier, "expires_in_ms",
		        (json_int_t)(of->expires_at - now)));
	util_format_rfc3339(ct->queued_at, at);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "contact",
	    ct->id, "ref", ct->ref, "risk", msg_risk_name(ct->risk), "channel",
	    msg_channel_name(ct->channel), "state",
	    contact_state_name(ct->state), "queued_at", at, "waited_ms",
	    (json_int_t)(now - ct->queued_at), "offers", offers);
	json_object_set_new(o, "stage",
	    json_string(route_stage_name(ct->pos.stage)));
	if (ct->pos.stage == ROUTE_TIER)
		json_object_set_new(o, "tier",
		    json_integer(ct->policy->tiers[ct->pos.tier_index].tier));
	if (ct->program != NULL)
		json_object_set_new(o, "program", json_string(ct->program));
	if (ct->assigned != NULL)
		json_object_set_new(o, "clinician",
		    json_string(ct->assigned->id));
	return o;
}

/* Start a snapshot that answers a request with this id (may be NULL). */
struct snapshot *
engine_snapshot_start(json_t *id)
{
	struct snapshot *sn = xcalloc(1, sizeof(*sn));

	snapshot_puts(sn, "{\"type\":\"snapshot\",");
	if (id != NULL) {
		snapshot_puts(sn, "\"id\":");
		snapshot_json(sn, json_incref(id));
		snapshot_puts(sn, ",");
	}
	snapshot_puts(sn, "\"contacts\":[");
	return sn;
}

/*
 * The first contact not yet written: after the last one written if it is
 * still there, else the first queued after it.
 */
static struct contact *
engine_snapshot_next(const struct engine *e, const struct snapshot *sn)
{
	struct contact *ct;

	if (sn->last_id[0] == '\0')
		return TAILQ_FIRST(&e->queue);
	if ((ct = engine_find(e, sn->last_id)) != NULL)
		return TAILQ_NEXT(ct, entry);
	TAILQ_FOREACH (ct, &e->queue, entry) {
		if (ct->queued_at > sn->last_queued_at ||
		    (ct->queued_at == sn->last_queued_at &&
		        strcmp(ct->id, sn->last_id) > 0))
			return ct;
	}
	return NULL;
}

/* Write up to n more contacts; true once every contact is in. */
bool
engine_snapshot_step(struct engine *e, struct snapshot *sn, size_t n,
    int64_t now)
{
	struct contact *ct = engine_snapshot_next(e, sn);

	for (; ct != NULL && n > 0; ct = TAILQ_NEXT(ct, entry), n--) {
		if (sn->started)
			snapshot_puts(sn, ",");
		sn->started = true;
		snapshot_json(sn, engine_contact_json(ct, now));
		strlcpy_(sn->last_id, ct->id, sizeof(sn->last_id));
		sn->last_queued_at = ct->queued_at;
	}
	sn->contacts_done = ct == NULL;
	return sn->contacts_done;
}

/* The connected clinicians, as a snapshot lists them. */
static json_t *
engine_snapshot_clinicians(const struct engine *e, int64_t now)
{
	json_t *clinicians = json_array(), *o;

	for (struct clin *c = clin_first(&e->clins); c != NULL;
	     c = clin_next(c)) {
		if (c->session == NULL)
			continue;
		o = json_pack("{s:s, s:s, s:o, s:I}", "clinician", c->id,
		    "status", clin_status_name(c, now), "tiers",
		    engine_tiers_json(c->info != NULL
		            ? roster_oncall_tiers(c->info, now)
		            : 0),
		    "offers", (json_int_t)c->noffers);
		if (c->info != NULL && c->info->name != NULL)
			json_object_set_new(o, "name",
			    json_string(c->info->name));
		if (c->assigned != NULL)
			json_object_set_new(o, "contact",
			    json_string(c->assigned->id));
		json_array_append_new(clinicians, o);
	}
	return clinicians;
}

/*
 * Write the rest (any contacts left, the clinicians, the follow-ups: a
 * count and the newest few) and return the whole line; sn is freed.
 */
char *
engine_snapshot_finish(struct engine *e, struct snapshot *sn, int64_t now)
{
	int64_t nfollowups = 0;
	json_t *followups;
	char *line;

	while (!engine_snapshot_step(e, sn, SIZE_MAX, now))
		;
	snapshot_puts(sn, "],\"clinicians\":");
	snapshot_json(sn, engine_snapshot_clinicians(e, now));
	followups = store_review_followups_recent(e->st,
	    ENGINE_SNAPSHOT_FOLLOWUPS, &nfollowups);
	if (followups == NULL) {
		log_warnx("snapshot: follow-ups: %s", store_error(e->st));
		followups = json_array();
	}
	snapshot_puts(sn, ",\"followups_open\":");
	snapshot_json(sn, json_integer(nfollowups));
	snapshot_puts(sn, ",\"followups\":");
	snapshot_json(sn, followups);
	snapshot_puts(sn, "}");
	line = sn->buf;
	free(sn);
	return line;
}

/* Drop a snapshot being built (its connection closed). */
void
engine_snapshot_free(struct snapshot *sn)
{
	if (sn == NULL)
		return;
	free(sn->buf);
	free(sn);
}
