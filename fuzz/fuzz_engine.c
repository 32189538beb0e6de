/*
 * fuzz_engine.c: libFuzzer target for the real engine (issue 11).
 *
 * Where fuzz_route.c plays route.c against a model of the engine, this
 * target runs the engine itself (engine*.c, clinician.c, contact.c,
 * policy.c, route.c, with the real session, outbox and results) through
 * the unit test's rig, on the fake store and fake connections: what it
 * sees is what the daemon would send.
 *
 * The input builds a world (1-3 tiers with strategies and timeouts, the
 * waits, the cap, 1-5 clinicians on some tiers, two patients) and then is
 * read as operations, each one loop turn of the daemon: a gateway's
 * contact (new, or a ref sent again), abandon, ack, ended, failed; a
 * clinician connecting, going available or away, disconnecting,
 * accepting, declining, completing; time passing (deadlines acting on
 * time or late); commits failing, or every write failing for a while; a
 * supervisor's close; a shift added to the roster; the daemon killed and
 * started again.  After every
 * operation fuzz_engine_check.c checks the promises of CONTRACT §3-§5 on
 * the lines each peer was sent and on the engine's state; at the end the
 * store works, time runs past every deadline, and every contact must have
 * its outcome, told to its gateway.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "util.h"

#include "../tests/unit/engine_rig.h"
#include "../tests/unit/fake_store.h"
#include "fuzz.h"
#include "fuzz_engine.h"

#define FZ_T0_MS INT64_C(1800000000000)
#define FZ_OPS_MAX 300

/* An entry of a table, picked by the input. */
#define FZ_PICK(w, table) ((table)[fz_pick((w), nitems(table))])

/* Durations the input picks from, so that they collide now and then. */
static const int64_t fz_timeouts_ms[] = { 1, 50, 1000, 15000, 20000 };
static const int64_t fz_waits_ms[] = { 1, 1000, 30000, 90000, 120000 };
static const int64_t fz_continuity_ms[] = { 0, 1, 5000, 10000 };
static const int64_t fz_wrapup_ms[] = { 0, 1, 5000 };
static const int64_t fz_steps_ms[] = { 0, 1, 49, 100, 1000, 5000, 15000, 20000,
	60000 };
static const int64_t fz_late_ms[] = { 0, 0, 0, 1, 50 };
static const char *const fz_languages[] = { NULL, "en", "es" };

static bool fz_tracing;

/* Say what happens, if asked to (FUZZ_ENGINE_TRACE). */
void
fz_trace(const char *fmt, ...)
{
	va_list ap;

	if (!fz_tracing)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The next input byte; 0 once the input is used up. */
static uint8_t
fz_byte(struct fz_world *w)
{
	if (w->left == 0)
		return 0;
	w->left--;
	return *w->in++;
}

/* A number 0..n-1 from the input. */
static size_t
fz_pick(struct fz_world *w, size_t n)
{
	return fz_byte(w) % n;
}

/* The contact the gateway was told id, or NULL. */
struct fz_contact *
fz_contact_by_id(struct fz_world *w, const char *id)
{
	for (size_t i = 0; i < w->ncontacts; i++) {
		if (w->contacts[i].id[0] != '\0' &&
		    strcmp(w->contacts[i].id, id) == 0)
			return &w->contacts[i];
	}
	return NULL;
}

/* The clinician named id, or NULL. */
struct fz_clin *
fz_clin_by_id(struct fz_world *w, const char *id)
{
	for (size_t i = 0; i < w->nclins; i++) {
		if (strcmp(w->clins[i].id, id) == 0)
			return &w->clins[i];
	}
	return NULL;
}

/* The routing config, from the input. */
static void
fz_build_conf(struct fz_world *w)
{
	static const enum strategy strategies[] = { STRATEGY_RING_ALL,
		STRATEGY_LONGEST_IDLE, STRATEGY_ROUND_ROBIN,
		STRATEGY_SEQUENTIAL, STRATEGY_FEWEST_CONTACTS };
	struct conf *conf = &w->conf;

	conf->ntiers = 1 + fz_pick(w, FZ_TIERS_MAX);
	for (size_t i = 0; i < conf->ntiers; i++) {
		conf->tiers[i].tier = (int)i + 1;
		conf->tiers[i].strategy = FZ_PICK(w, strategies);
		conf->tiers[i].offer_timeout_ms = FZ_PICK(w, fz_timeouts_ms);
	}
	conf->max_wait_ms = FZ_PICK(w, fz_waits_ms);
	conf->imminent_max_wait_ms = FZ_PICK(w, fz_waits_ms);
	conf->continuity_ms = FZ_PICK(w, fz_continuity_ms);
	conf->wrapup_ms = FZ_PICK(w, fz_wrapup_ms);
	conf->max_missed_offers = 1 + (int)fz_pick(w, 3);
	conf->max_offers_per_clinician = (int)fz_pick(w, 3);
	conf->overflow_target = (char *)"988";
}

/* The roster (clinicians on some tiers all day) and two patients. */
static void
fz_build_roster(struct fz_world *w)
{
	w->nclins = 1 + fz_pick(w, FZ_CLINS_MAX);
	for (size_t i = 0; i < w->nclins; i++) {
		struct fz_clin *c = &w->clins[i];
		uint8_t tiers = fz_byte(w);

		snprintf(c->id, sizeof(c->id), "c%zu", i);
		fake_store_add_clinician(w->st, c->id, FZ_PICK(w, fz_languages),
		    NULL, NULL);
		/* Bit 3: a tier the policy does not walk. */
		for (int t = 1; t <= 4; t++) {
			if (tiers & (1u << (t - 1)))
				fake_store_add_shift(w->st, c->id, t,
				    w->t0 - 3600000, w->t0 + 86400000);
		}
	}
	fake_store_add_patient(w->st, "P1", w->clins[fz_pick(w, w->nclins)].id);
	fake_store_add_patient(w->st, "P2", w->clins[fz_pick(w, w->nclins)].id);
}

/* A request from a peer, if it is connected. */
static void fz_request(struct fz_world *w, const char *who, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
fz_request(struct fz_world *w, const char *who, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fz_trace("%lld %s > %s", (long long)(w->r->now - w->t0), who, line);
	rig_request(w->r, who, line);
}

/* The gateway, connected if it was not. */
static void
fz_gateway(struct fz_world *w)
{
	if (w->gw_connected)
		return;
	fz_trace("%lld gw connects", (long long)(w->r->now - w->t0));
	rig_connect(w->r, ROLE_INTAKE, "gw");
	w->gw_connected = true;
	w->gw_conn++;
	fz_check_lines(w);
}

/* A contact the gateway knows the id of, picked by the input; or NULL. */
static struct fz_contact *
fz_known(struct fz_world *w)
{
	struct fz_contact *ct;

	if (w->ncontacts == 0)
		return NULL;
	ct = &w->contacts[fz_pick(w, w->ncontacts)];
	return ct->id[0] != '\0' ? ct : NULL;
}

/* A new contact, or a ref sent again (the same fields, or others). */
static void
fz_op_contact(struct fz_world *w, bool again)
{
	static const char *const risks[] = { "low", "high", "unknown",
		"imminent" };
	uint8_t b = fz_byte(w);
	struct fz_contact *ct;

	fz_gateway(w);
	if (again || w->ncontacts == FZ_CONTACTS_MAX) {
		if (w->ncontacts == 0)
			return;
		ct = &w->contacts[fz_pick(w, w->ncontacts)];
		ct->resend = true;
		fz_request(w, "gw",
		    "{\"type\":\"contact\",\"ref\":\"%s\",\"channel\":"
		    "\"voice\",%s}",
		    ct->ref, (b & 1) ? "\"risk\":\"moderate\"" : ct->extra);
		return;
	}
	ct = &w->contacts[w->ncontacts++];
	snprintf(ct->ref, sizeof(ct->ref), "R%zu", w->ncontacts);
	snprintf(ct->extra, sizeof(ct->extra), "\"risk\":\"%s\"%s%s%s",
	    risks[b & 3],
	    (b & 4)       ? ",\"patient\":\"P1\""
	        : (b & 8) ? ",\"patient\":\"P2\""
	                  : "",
	    (b & 16) ? ",\"language\":\"es\"" : "",
	    (b & 32) ? ",\"caller\":\"+15550100\"" : "");
	fz_request(w, "gw",
	    "{\"type\":\"contact\",\"ref\":\"%s\",\"channel\":\"voice\",%s}",
	    ct->ref, ct->extra);
}

/* One of the gateway's other requests about a contact. */
static void
fz_op_gateway(struct fz_world *w)
{
	static const char *const types[] = { "abandon", "ack", "ended",
		"failed", "ack" };
	const char *type = FZ_PICK(w, types);
	struct fz_contact *ct = fz_known(w);

	if (fz_byte(w) % 4 == 0) {
		/* The gateway's connection drops; it comes back at once. */
		fz_trace("%lld gw drops", (long long)(w->r->now - w->t0));
		if (w->gw_connected)
			rig_disconnect(w->r, "gw");
		w->gw_connected = false;
		fz_check_lines(w);
		fz_gateway(w);
		return;
	}
	if (ct == NULL)
		return;
	fz_gateway(w);
	if (strcmp(type, "failed") == 0) {
		ct->failed = true;
		fz_request(w, "gw",
		    "{\"type\":\"failed\",\"contact\":\"%s\",\"reason\":"
		    "\"busy\"}",
		    ct->id);
		return;
	}
	if (strcmp(type, "ack") == 0)
		ct->acked = true;
	fz_request(w, "gw", "{\"type\":\"%s\",\"contact\":\"%s\"}", type,
	    ct->id);
}

/* A clinician connects, changes status, or disconnects. */
static void
fz_op_clinician(struct fz_world *w, int op)
{
	struct fz_clin *c = &w->clins[fz_pick(w, w->nclins)];

	fz_trace("%lld %s %s", (long long)(w->r->now - w->t0), c->id,
	    op == 0       ? "connects"
	        : op == 3 ? "drops"
	                  : "status");
	switch (op) {
	case 0:
		rig_connect(w->r, ROLE_CLINICIAN, c->id);
		c->connected = true;
		c->available = false;
		break;
	case 1:
	case 2:
		if (!c->connected)
			return;
		c->available = op == 1;
		c->was_available = c->was_available || c->available;
		fz_request(w, c->id, "{\"type\":\"status\",\"status\":\"%s\"}",
		    op == 1 ? "available" : "away");
		break;
	default:
		if (!c->connected)
			return;
		rig_disconnect(w->r, c->id);
		c->connected = false;
		c->available = false;
		break;
	}
}

/* A clinician answers about a contact: accept, decline, complete. */
static void
fz_op_answer(struct fz_world *w, int op)
{
	struct fz_clin *c = &w->clins[fz_pick(w, w->nclins)];
	struct fz_contact *ct = fz_known(w);
	const char *id;

	if (!c->connected)
		return;
	/* Completing mostly the contact it holds, now and then another. */
	id = op == 2 && c->holding[0] != '\0' && fz_byte(w) % 4 != 0
	    ? c->holding
	    : ct != NULL ? ct->id
	                 : NULL;
	if (id == NULL)
		return;
	if (op == 0)
		fz_request(w, c->id, "{\"type\":\"accept\",\"contact\":\"%s\"}",
		    id);
	else if (op == 1)
		fz_request(w, c->id,
		    "{\"type\":\"decline\",\"contact\":\"%s\"}", id);
	else
		fz_request(w, c->id,
		    "{\"type\":\"complete\",\"contact\":\"%s\","
		    "\"disposition\":\"resolved\"}",
		    id);
}

/* The store fails: the next commits, or every write for a while. */
static void
fz_op_store(struct fz_world *w)
{
	uint8_t b = fz_byte(w);

	fz_trace("%lld store: %s", (long long)(w->r->now - w->t0),
	    b % 4 < 2        ? "commits fail"
	        : b % 4 == 2 ? "writes fail"
	                     : "works");
	if (b % 4 < 2) {
		fake_store_fail_commits(w->st, 1 + b % 2);
		return;
	}
	w->store_failing = b % 4 == 2;
	fake_store_fail_writes(w->st, w->store_failing);
}

/* A supervisor's close, or the daemon killed and started again. */
static void
fz_op_daemon(struct fz_world *w)
{
	struct fz_contact *ct = fz_known(w);

	if (fz_byte(w) % 2 == 0) {
		if (ct != NULL) {
			fz_trace("%lld close %s",
			    (long long)(w->r->now - w->t0), ct->ref);
			fake_store_file_close(w->st, ct->id, "sup",
			    "stuck in testing");
		}
		return;
	}
	fz_trace("%lld restart", (long long)(w->r->now - w->t0));
	rig_restart(w->r, &w->conf);
	w->gw_connected = false;
	for (size_t i = 0; i < w->nclins; i++) {
		w->clins[i].connected = false;
		w->clins[i].available = false;
	}
}

/*
 * crisisctl changes the roster: a clinician gets a shift on a tier, from a
 * moment near now for a while; the engine's poll takes it within a second
 * and routes every contact again, and its start and end are deadlines.
 */
static void
fz_op_roster(struct fz_world *w)
{
	struct fz_clin *c = &w->clins[fz_pick(w, w->nclins)];
	int tier = 1 + (int)fz_pick(w, 4);
	int64_t start = w->r->now + FZ_PICK(w, fz_steps_ms);
	int64_t end = start + 1 + FZ_PICK(w, fz_steps_ms);

	fz_trace("%lld %s on tier %d from +%lld to +%lld",
	    (long long)(w->r->now - w->t0), c->id, tier,
	    (long long)(start - w->r->now), (long long)(end - w->r->now));
	fake_store_add_shift(w->st, c->id, tier, start, end);
}

/* One operation from the input. */
static void
fz_op(struct fz_world *w)
{
	uint8_t op = fz_byte(w);

	for (size_t i = 0; i < w->nclins; i++)
		w->clins[i].was_available = w->clins[i].available;
	w->failures_before = fake_store_failed_commits(w->st);
	switch (op % 16) {
	case 0:
	case 1:
		fz_op_contact(w, false);
		break;
	case 2:
		fz_op_contact(w, true);
		break;
	case 3:
	case 4:
	case 5:
	case 6:
		fz_op_clinician(w, op % 16 - 3);
		break;
	case 7:
	case 8:
	case 9:
		fz_op_answer(w, op % 16 - 7);
		break;
	case 10:
	case 11: {
		int64_t step = FZ_PICK(w, fz_steps_ms);
		int64_t late = FZ_PICK(w, fz_late_ms);

		fz_trace("%lld time +%lld (late %lld)",
		    (long long)(w->r->now - w->t0), (long long)step,
		    (long long)late);
		rig_advance(w->r, w->r->now + step, late);
		break;
	}
	case 12:
		fz_op_store(w);
		break;
	case 13:
		fz_op_gateway(w);
		break;
	case 14:
		fz_op_daemon(w);
		break;
	default:
		fz_op_roster(w);
		break;
	}
	/* What came due in the turn runs now, as the daemon's next turn. */
	rig_advance(w->r, w->r->now, 0);
	fz_check_lines(w);
	fz_check_engine(w);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_tracing = getenv("FUZZ_ENGINE_TRACE") != NULL;
	log_init("fuzz_engine", fz_tracing ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_world w;
	char *cause = NULL;

	memset(&w, 0, sizeof(w));
	w.in = data;
	w.left = size;
	w.t0 = FZ_T0_MS;
	w.st = fake_store_new();
	fz_build_conf(&w);
	fz_build_roster(&w);
	w.r = rig_new(w.st, &w.conf, w.t0, &cause);
	FUZZ_CHECK(w.r != NULL);
	fz_gateway(&w);
	for (int i = 0; i < FZ_OPS_MAX && w.left > 0; i++)
		fz_op(&w);
	fz_check_end(&w);
	rig_free(w.r);
	fake_store_free(w.st);
	return 0;
}
