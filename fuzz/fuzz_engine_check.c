/*
 * fuzz_engine_check.c: the promises fuzz_engine.c checks after every
 * operation, on what each peer was sent and on the engine's own state:
 *
 * - a gateway hears of a contact (queued) before any result of it, and
 *   every contact it was told queued is in the store (nothing lost);
 * - a contact is routed to one clinician at a time: a second routed, to
 *   another clinician, only after the gateway said the first call failed;
 *   an overflow is final; no result is sent twice on one connection
 *   unless the ref was sent again or it was first sent as its commit
 *   failed (at least once, never needlessly more);
 * - an assigned reply goes to one clinician per contact at a time, and a
 *   clinician holds one contact at a time;
 * - an offer goes only to a clinician who was available; no clinician
 *   rings for more than max_offers_per_clinician contacts of the tier
 *   walk (continuity and imminent offers aside); no open offer is held by
 *   a clinician away, gone, busy or in wrap-up;
 * - no contact is open past its overflow deadline (unless, the store
 *   failing, its gateway was told and the record waits);
 * - the store holds no offer of a contact that is not open, and no write
 *   the schema would refuse.
 *
 * At the end, with the store working and time past every deadline: no
 * contact is open, and every one that was routed or overflowed was told
 * to its gateway.
 */
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "util.h"

#include "../daemon/engine_int.h"
#include "../tests/unit/engine_rig.h"
#include "../tests/unit/fake_store.h"
#include "fuzz.h"
#include "fuzz_engine.h"

/* Time, at the end, to run past every deadline (waits are at most 2 min). */
#define FZ_END_MS (10 * 60 * 1000)

/* A member of a message, as a string ("" if none). */
static const char *
fz_str(const json_t *m, const char *key)
{
	const char *s = json_string_value(json_object_get(m, key));

	return s != NULL ? s : "";
}

/* A result for the gateway: routed or overflow. */
static void
fz_gateway_result(struct fz_world *w, const json_t *m, const char *type)
{
	struct fz_contact *ct = fz_contact_by_id(w, fz_str(m, "contact"));
	char result[sizeof(ct->result)];

	/* Told queued first (on this or an earlier connection). */
	FUZZ_CHECK(ct != NULL);
	snprintf(result, sizeof(result), "%s %s", type, fz_str(m, "clinician"));
	if (strcmp(result, ct->result) == 0) {
		/* A repeat: a new connection, the ref again, or on record now.
		 */
		FUZZ_CHECK(ct->result_conn != w->gw_conn || ct->resend ||
		    ct->unrecorded);
	} else if (ct->result[0] != '\0') {
		/* Overflow is final; a second clinician only after failed. */
		FUZZ_CHECK(strncmp(ct->result, "overflow", 8) != 0);
		FUZZ_CHECK(ct->failed);
	}
	strlcpy_(ct->result, result, sizeof(ct->result));
	ct->result_conn = w->gw_conn;
	ct->unrecorded = fake_store_failed_commits(w->st) != w->failures_before;
	ct->resend = false;
	ct->failed = false;
	ct->ever_results++;
}

/* One line the gateway was sent. */
static void
fz_gateway_line(struct fz_world *w, const json_t *m)
{
	const char *type = fz_str(m, "type");
	struct fz_contact *ct;

	if (strcmp(type, "queued") == 0) {
		for (size_t i = 0; i < w->ncontacts; i++) {
			ct = &w->contacts[i];
			if (strcmp(ct->ref, fz_str(m, "ref")) != 0)
				continue;
			/* The same ref is always the same contact. */
			FUZZ_CHECK(ct->id[0] == '\0' ||
			    strcmp(ct->id, fz_str(m, "contact")) == 0);
			strlcpy_(ct->id, fz_str(m, "contact"), sizeof(ct->id));
		}
	} else if (strcmp(type, "routed") == 0 || strcmp(type, "overflow") == 0)
		fz_gateway_result(w, m, type);
}

/* One line a clinician was sent. */
static void
fz_clin_line(struct fz_world *w, struct fz_clin *c, const json_t *m)
{
	const char *type = fz_str(m, "type");
	struct fz_contact *ct = fz_contact_by_id(w, fz_str(m, "contact"));

	if (strcmp(type, "offer") == 0) {
		FUZZ_CHECK(c->was_available);
		FUZZ_CHECK(ct != NULL);
	} else if (strcmp(type, "assigned") == 0) {
		FUZZ_CHECK(ct != NULL);
		/* One clinician per contact, one contact per clinician. */
		FUZZ_CHECK(
		    ct->holder[0] == '\0' || strcmp(ct->holder, c->id) == 0);
		FUZZ_CHECK(
		    c->holding[0] == '\0' || strcmp(c->holding, ct->id) == 0);
		strlcpy_(ct->holder, c->id, sizeof(ct->holder));
		strlcpy_(c->holding, ct->id, sizeof(c->holding));
	} else if (strcmp(type, "status") == 0) {
		c->available = false;
	}
}

/* Read what peer name was sent since the last look. */
static void
fz_read_party(struct fz_world *w, const char *name, struct fz_clin *c)
{
	const char *line;
	json_t *m;

	while ((line = rig_read(w->r, name)) != NULL) {
		fz_trace("%lld %s < %s", (long long)(w->r->now - w->t0), name,
		    line);
		m = json_loads(line, 0, NULL);
		FUZZ_CHECK(m != NULL);
		if (c != NULL)
			fz_clin_line(w, c, m);
		else
			fz_gateway_line(w, m);
		json_decref(m);
	}
}

/*
 * A contact no longer assigned to its holder in the store (completed,
 * closed, routed again) frees both.
 */
static void
fz_release_holders(struct fz_world *w)
{
	for (size_t i = 0; i < w->ncontacts; i++) {
		struct fz_contact *ct = &w->contacts[i];
		const struct fake_contact *row;
		struct fz_clin *c;

		if (ct->holder[0] == '\0')
			continue;
		row = fake_store_contact(w->st, ct->id);
		if (row != NULL && strcmp(row->state, "assigned") == 0 &&
		    strcmp(row->clinician, ct->holder) == 0)
			continue;
		c = fz_clin_by_id(w, ct->holder);
		if (c != NULL && strcmp(c->holding, ct->id) == 0)
			c->holding[0] = '\0';
		ct->holder[0] = '\0';
	}
}

/* Every line every peer was sent in the last operation. */
void
fz_check_lines(struct fz_world *w)
{
	fz_read_party(w, "gw", NULL);
	for (size_t i = 0; i < w->nclins; i++)
		fz_read_party(w, w->clins[i].id, &w->clins[i]);
	fz_release_holders(w);
	/* Told queued: stored, durably. */
	for (size_t i = 0; i < w->ncontacts; i++) {
		if (w->contacts[i].id[0] != '\0')
			FUZZ_CHECK(fake_store_contact(w->st,
			               w->contacts[i].id) != NULL);
	}
}

/* One clinician, as the engine keeps it. */
static void
fz_check_clin(struct fz_world *w, const struct engine *e, struct clin *c)
{
	int64_t now = w->r->now;
	size_t n = 0, walk = 0;
	const struct offer *o;

	TAILQ_FOREACH (o, &c->offers, by_clin) {
		n++;
		if (!o->continuity && o->contact->risk != RISK_IMMINENT)
			walk++;
		FUZZ_CHECK(o->contact->state == CONTACT_OPEN);
		/* While the store fails, given-back offers wait for a retry. */
		if (o->sent && !e->store_down) {
			FUZZ_CHECK(c->session != NULL && c->available);
			FUZZ_CHECK(c->assigned == NULL);
			FUZZ_CHECK(c->wrapup_until <= now);
		}
	}
	FUZZ_CHECK(n == c->noffers);
	if (e->conf->max_offers_per_clinician > 0 && !e->store_down)
		FUZZ_CHECK(walk <= (size_t)e->conf->max_offers_per_clinician);
	if (c->assigned != NULL) {
		FUZZ_CHECK(c->assigned->assigned == c);
		FUZZ_CHECK(c->assigned->state == CONTACT_ASSIGNED);
	}
}

/* One live contact, as the engine keeps it. */
static void
fz_check_contact(struct fz_world *w, const struct engine *e, struct contact *ct)
{
	size_t holders = 0;

	for (struct clin *c = clin_first(&e->clins); c != NULL;
	     c = clin_next(c))
		holders += c->assigned == ct;
	if (ct->state == CONTACT_ASSIGNED) {
		FUZZ_CHECK(ct->assigned != NULL && holders == 1);
		FUZZ_CHECK(TAILQ_EMPTY(&ct->offers));
		return;
	}
	FUZZ_CHECK(ct->state == CONTACT_OPEN);
	FUZZ_CHECK(ct->assigned == NULL && holders == 0);
	/* Past its deadline only if its caller is gone and the record waits. */
	if (w->r->now >= ct->pos.deadline)
		FUZZ_CHECK(e->store_down && engine_told(e, ct));
}

/* The engine's state, and the store's. */
void
fz_check_engine(struct fz_world *w)
{
	const struct engine *e = w->r->e;
	const struct fake_offer *offers;
	struct contact *ct;
	size_t n = 0, nrows;
	const char *what;

	for (struct clin *c = clin_first(&e->clins); c != NULL;
	     c = clin_next(c))
		fz_check_clin(w, e, c);
	TAILQ_FOREACH (ct, &e->queue, entry) {
		n++;
		fz_check_contact(w, e, ct);
	}
	FUZZ_CHECK(n == engine_open_contacts(e));
	offers = fake_store_offers(w->st, &nrows);
	for (size_t i = 0; i < nrows; i++) {
		const struct fake_contact *row =
		    fake_store_contact(w->st, offers[i].contact);

		FUZZ_CHECK(row != NULL && strcmp(row->state, "open") == 0);
	}
	if (fake_store_violations(w->st, &what) != 0) {
		fprintf(stderr, "store: %s\n", what);
		FUZZ_CHECK(fake_store_violations(w->st, NULL) == 0);
	}
}

/*
 * The end: the store works, the gateway is connected, and time runs past
 * every deadline; no contact is open, and every routed or overflowed one
 * was told to its gateway.
 */
void
fz_check_end(struct fz_world *w)
{
	size_t nrows;
	const struct fake_contact *rows;

	fake_store_fail_commits(w->st, 0);
	fake_store_fail_writes(w->st, false);
	if (!w->gw_connected) {
		rig_connect(w->r, ROLE_INTAKE, "gw");
		w->gw_connected = true;
		w->gw_conn++;
	}
	for (size_t i = 0; i < w->nclins; i++)
		w->clins[i].was_available = w->clins[i].available;
	w->failures_before = fake_store_failed_commits(w->st);
	rig_advance(w->r, w->r->now + FZ_END_MS, 0);
	fz_check_lines(w);
	fz_check_engine(w);
	FUZZ_CHECK(!w->r->e->store_down);
	rows = fake_store_contacts(w->st, &nrows);
	for (size_t i = 0; i < nrows; i++) {
		struct fz_contact *ct = fz_contact_by_id(w, rows[i].id);

		FUZZ_CHECK(strcmp(rows[i].state, "open") != 0);
		if (ct != NULL &&
		    (strcmp(rows[i].state, "overflow") == 0 ||
		        strcmp(rows[i].state, "assigned") == 0 ||
		        strcmp(rows[i].state, "completed") == 0))
			FUZZ_CHECK(ct->ever_results > 0);
	}
}
