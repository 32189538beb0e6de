/*
 * fuzz_engine.h: what fuzz_engine.c (the world and its operations) and
 * fuzz_engine_check.c (the promises checked after every one) share.
 */
#ifndef CRISISD_FUZZ_ENGINE_H
#define CRISISD_FUZZ_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

#define FZ_CLINS_MAX 5
#define FZ_CONTACTS_MAX 24
#define FZ_TIERS_MAX 3

struct rig;
struct store;

/* A contact as the gateway knows it. */
struct fz_contact {
	char ref[8];
	char id[CONTACT_ID_MAX + 1]; /* "" until the gateway was told it */
	char extra[160]; /* the contact message's other members */
	/*
	 * The last result the gateway was sent for it, and on which of its
	 * connections: a repeat on the same connection is allowed only after
	 * the ref was sent again (resend), or when the first was sent in an
	 * operation whose commit failed (unrecorded: an overflow told while
	 * the store fails is told again once it is on record).
	 */
	char result[64];
	unsigned result_conn;
	bool unrecorded;
	bool resend; /* the ref was sent again since that result */
	bool failed; /* "failed" accepted since its last routed */
	bool acked;
	int ever_results; /* routed or overflow lines, on any connection */
	char holder[PRINCIPAL_ID_MAX + 1]; /* assigned to, per the wire */
};

/* A clinician as the fuzzer drives it. */
struct fz_clin {
	char id[8];
	bool connected;
	bool available; /* sent status available and not away since */
	bool was_available; /* available at any time during this step */
	char holding[CONTACT_ID_MAX + 1]; /* assigned, per the wire; "" */
};

struct fz_world {
	const uint8_t *in;
	size_t left;
	struct store *st;
	struct rig *r;
	struct conf conf;
	struct conf_tier tiers[FZ_TIERS_MAX];
	struct fz_clin clins[FZ_CLINS_MAX];
	size_t nclins;
	struct fz_contact contacts[FZ_CONTACTS_MAX];
	size_t ncontacts;
	bool gw_connected;
	unsigned gw_conn; /* counts the gateway's connections */
	bool store_failing; /* writes fail */
	unsigned failures_before; /* failed commits before this operation */
	int64_t t0;
};

/*
 * With FUZZ_ENGINE_TRACE set, say what happens (to read a reproducer):
 * every operation and every line a peer is sent.
 */
void fz_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The contact the gateway was told id, or NULL. */
struct fz_contact *fz_contact_by_id(struct fz_world *w, const char *id);
struct fz_clin *fz_clin_by_id(struct fz_world *w, const char *id);

/*
 * Read every line the peers were sent in the last step and check it
 * against what the fuzzer did; then check the engine's own state.  Aborts
 * (FUZZ_CHECK) at a broken promise.
 */
void fz_check_lines(struct fz_world *w);
void fz_check_engine(struct fz_world *w);
/* At the end, every deadline past and the store working: the outcomes. */
void fz_check_end(struct fz_world *w);

#endif
