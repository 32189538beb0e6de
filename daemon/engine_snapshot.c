/*
 * engine_snapshot.c: the supervisors' snapshot, built a slice at a time.
 *
 * A snapshot lists every open contact, and there may be tens of thousands:
 * serialised in one go that would hold the event loop (every timer, every
 * offer) for as long as it takes.  So the contacts are serialised a slice
 * per loop turn into one growing line, and the clinicians and follow-ups,
 * which are few, at the end.  Between slices contacts come and go: the
 * snapshot lists each contact as it stood when its slice was written, in
 * queue order, and never one twice.  wire.c builds the pieces of the line.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "wire.h"

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

/* One contact as a supervisor sees it live (no caller identity). */
static json_t *
engine_contact_json(const struct contact *ct, int64_t now)
{
	struct wire_snapshot_contact w = {
		.id = ct->id,
		.ref = ct->ref,
		.risk = ct->risk,
		.channel = ct->channel,
		.state = contact_state_name(ct->state),
		.stage = route_stage_name(ct->pos.stage),
		.queued_at = ct->queued_at,
		.waited_ms = now - ct->queued_at,
		.offers = json_array(),
		.tier = ct->pos.stage == ROUTE_TIER
		    ? ct->policy->tiers[ct->pos.tier_index].tier
		    : 0,
		.program = ct->program,
		.clinician = ct->assigned != NULL ? ct->assigned->id : NULL,
	};
	struct offer *of;

	TAILQ_FOREACH (of, &ct->offers, by_contact)
		json_array_append_new(w.offers,
		    wire_snapshot_offer(of->clin->id, of->tier,
		        of->expires_at - now));
	return wire_snapshot_contact(&w);
}

/* Start a snapshot that answers a request with this id (may be NULL). */
struct snapshot *
engine_snapshot_start(json_t *id)
{
	struct snapshot *sn = xcalloc(1, sizeof(*sn));
	char *head = wire_snapshot_head(id);

	snapshot_puts(sn, head);
	free(head);
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
	json_t *clinicians = json_array();

	for (struct clin *c = clin_first(&e->clins); c != NULL;
	     c = clin_next(c)) {
		if (c->session == NULL)
			continue;
		json_array_append_new(clinicians,
		    wire_snapshot_clinician(c->id, clin_status_name(c, now),
		        c->info != NULL ? roster_oncall_tiers(c->info, now) : 0,
		        c->noffers, c->info != NULL ? c->info->name : NULL,
		        c->assigned != NULL ? c->assigned->id : NULL));
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
	json_t *clinicians, *followups;
	char *line, *tail;

	while (!engine_snapshot_step(e, sn, SIZE_MAX, now))
		;
	clinicians = engine_snapshot_clinicians(e, now);
	followups = store_review_followups_recent(e->st,
	    ENGINE_SNAPSHOT_FOLLOWUPS, &nfollowups);
	if (followups == NULL) {
		log_warnx("snapshot: follow-ups: %s", store_error(e->st));
		followups = json_array();
	}
	tail = wire_snapshot_tail(clinicians, nfollowups, followups);
	snapshot_puts(sn, tail);
	free(tail);
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
