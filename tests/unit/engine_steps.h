/*
 * engine_steps.h: the engine's unit test cases as tables (engine_steps.c
 * runs them).  A case is a world (a routing config, a roster, patients)
 * and a list of steps: things that happen (peers connect and send, time
 * passes, the store fails) and what must follow (lines each peer was sent,
 * rows the store holds).  Times are ms after the case's start.
 *
 * Lines are checked against patterns: a JSON object whose members must all
 * be in the line with those values (others may be there too), in which
 * "$R1" stands for the contact id the gateway was given for ref R1.  Every
 * line a peer is sent must be checked by the end of the case, in order.
 */
#ifndef CRISISD_ENGINE_STEPS_H
#define CRISISD_ENGINE_STEPS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define STEPS_MAX 64
#define CASE_CLINS_MAX 6
#define CASE_PATIENTS_MAX 2

enum step_kind {
	STEP_END = 0,
	STEP_CONNECT, /* who connects: "gw*" intake, "sup*" supervisor, else
	                 a clinician */
	STEP_DROP, /* who's connection closes */
	STEP_STATUS, /* clinician who: status arg ("available"/"away") */
	STEP_CONTACT, /* "gw" sends contact ref, with arg's extra members */
	STEP_ACCEPT, /* clinician who accepts ref */
	STEP_DECLINE, /* clinician who declines ref (arg: reason or NULL) */
	STEP_COMPLETE, /* clinician who completes ref */
	STEP_ABANDON, /* "gw" abandons ref */
	STEP_ACK, /* "gw" acks ref's results */
	STEP_FAILED, /* "gw" could not connect ref's caller to its clinician */
	STEP_ENDED, /* "gw": ref's call ended */
	STEP_WATCH, /* supervisor who starts watching events */
	STEP_CLOSE, /* a supervisor files a close of ref (crisisctl) */
	STEP_RESTART, /* the daemon is killed and started again */
	STEP_AT, /* the clock moves to at, deadlines acting on time */
	STEP_FAIL_COMMITS, /* the next n commits fail */
	STEP_FAIL_WRITES, /* every write fails (n = 1) or none does (n = 0) */
	STEP_SEE, /* who's next line matches arg */
	STEP_QUIET, /* who has no line left unchecked */
	STEP_STORED, /* ref's stored state is arg (NULL: no row) */
	STEP_EVENTS, /* ref's timeline holds n events named arg */
	STEP_FOLLOWUP, /* ref is owed a follow-up for reason arg */
	STEP_OFFER_ROW, /* ref's offer to who is stored open (n = 1) or not */
};

struct step {
	enum step_kind kind;
	const char *who;
	const char *ref;
	const char *arg;
	/* A request's reply, if not the usual one (ok, assigned, queued). */
	const char *reply;
	int64_t n; /* a time, a count, a flag */
};

/* A roster clinician: on call all day on tiers (bit n: tier n). */
struct case_clin {
	const char *id;
	uint32_t tiers;
	const char *languages; /* NULL: none listed */
};

struct case_patient {
	const char *id;
	const char *primary;
};

struct engine_case {
	const char *name;
	const struct conf_tier *tiers; /* NULL: the contract's three */
	size_t ntiers;
	int cap; /* max_offers_per_clinician; CAP_NONE for 0 */
	int64_t continuity_ms; /* 0: the default, 10 s; -1: off */
	struct case_clin clins[CASE_CLINS_MAX];
	struct case_patient patients[CASE_PATIENTS_MAX];
	struct step steps[STEPS_MAX];
};

#define CAP_NONE (-1)

/* Run one case (fails the cmocka test on the first broken expectation). */
void steps_run(const struct engine_case *c);

/* A clinician on call on tiers, speaking no listed language. */
#define CLIN(id_, tiers_)                                                      \
	{                                                                      \
		.id = (id_), .tiers = (tiers_)                                 \
	}

/* Tier bits, for case_clin. */
#define TIER1 (UINT32_C(1) << 1)
#define TIER2 (UINT32_C(1) << 2)
#define TIER3 (UINT32_C(1) << 3)

/* Steps, as the cases write them. */
#define CONNECT(w_)                                                            \
	{                                                                      \
		.kind = STEP_CONNECT, .who = (w_)                              \
	}
#define DROP(w_)                                                               \
	{                                                                      \
		.kind = STEP_DROP, .who = (w_)                                 \
	}
#define AVAILABLE(w_)                                                          \
	{                                                                      \
		.kind = STEP_STATUS, .who = (w_), .arg = "available"           \
	}
#define AWAY(w_)                                                               \
	{                                                                      \
		.kind = STEP_STATUS, .who = (w_), .arg = "away"                \
	}
#define CONTACT(r_, extra_)                                                    \
	{                                                                      \
		.kind = STEP_CONTACT, .who = "gw", .ref = (r_),                \
		.arg = (extra_)                                                \
	}
#define CONTACT_REPLY(r_, extra_, reply_)                                      \
	{                                                                      \
		.kind = STEP_CONTACT, .who = "gw", .ref = (r_),                \
		.arg = (extra_), .reply = (reply_)                             \
	}
#define ACCEPT(w_, r_)                                                         \
	{                                                                      \
		.kind = STEP_ACCEPT, .who = (w_), .ref = (r_)                  \
	}
#define ACCEPT_REPLY(w_, r_, reply_)                                           \
	{                                                                      \
		.kind = STEP_ACCEPT, .who = (w_), .ref = (r_),                 \
		.reply = (reply_)                                              \
	}
#define DECLINE(w_, r_, reason_)                                               \
	{                                                                      \
		.kind = STEP_DECLINE, .who = (w_), .ref = (r_),                \
		.arg = (reason_)                                               \
	}
#define DECLINE_REPLY(w_, r_, reply_)                                          \
	{                                                                      \
		.kind = STEP_DECLINE, .who = (w_), .ref = (r_),                \
		.reply = (reply_)                                              \
	}
#define COMPLETE(w_, r_)                                                       \
	{                                                                      \
		.kind = STEP_COMPLETE, .who = (w_), .ref = (r_)                \
	}
#define ABANDON(r_)                                                            \
	{                                                                      \
		.kind = STEP_ABANDON, .who = "gw", .ref = (r_)                 \
	}
#define ABANDON_REPLY(r_, reply_)                                              \
	{                                                                      \
		.kind = STEP_ABANDON, .who = "gw", .ref = (r_),                \
		.reply = (reply_)                                              \
	}
#define ACK(r_)                                                                \
	{                                                                      \
		.kind = STEP_ACK, .who = "gw", .ref = (r_)                     \
	}
#define FAILED(r_)                                                             \
	{                                                                      \
		.kind = STEP_FAILED, .who = "gw", .ref = (r_)                  \
	}
#define FAILED_REPLY(r_, reply_)                                               \
	{                                                                      \
		.kind = STEP_FAILED, .who = "gw", .ref = (r_),                 \
		.reply = (reply_)                                              \
	}
#define ENDED(r_)                                                              \
	{                                                                      \
		.kind = STEP_ENDED, .who = "gw", .ref = (r_)                   \
	}
#define WATCH(w_)                                                              \
	{                                                                      \
		.kind = STEP_WATCH, .who = (w_)                                \
	}
#define CLOSE(r_)                                                              \
	{                                                                      \
		.kind = STEP_CLOSE, .ref = (r_)                                \
	}
#define RESTART                                                                \
	{                                                                      \
		.kind = STEP_RESTART                                           \
	}
#define AT(ms_)                                                                \
	{                                                                      \
		.kind = STEP_AT, .n = (ms_)                                    \
	}
#define FAIL_COMMITS(n_)                                                       \
	{                                                                      \
		.kind = STEP_FAIL_COMMITS, .n = (n_)                           \
	}
#define FAIL_WRITES(on_)                                                       \
	{                                                                      \
		.kind = STEP_FAIL_WRITES, .n = (on_)                           \
	}
#define SEE(w_, pattern_)                                                      \
	{                                                                      \
		.kind = STEP_SEE, .who = (w_), .arg = (pattern_)               \
	}
#define QUIET(w_)                                                              \
	{                                                                      \
		.kind = STEP_QUIET, .who = (w_)                                \
	}
#define STORED(r_, state_)                                                     \
	{                                                                      \
		.kind = STEP_STORED, .ref = (r_), .arg = (state_)              \
	}
#define EVENTS(r_, event_, n_)                                                 \
	{                                                                      \
		.kind = STEP_EVENTS, .ref = (r_), .arg = (event_), .n = (n_)   \
	}
#define FOLLOWUP(r_, reason_)                                                  \
	{                                                                      \
		.kind = STEP_FOLLOWUP, .ref = (r_), .arg = (reason_)           \
	}
#define OFFER_ROW(r_, w_, open_)                                               \
	{                                                                      \
		.kind = STEP_OFFER_ROW, .who = (w_), .ref = (r_), .n = (open_) \
	}

#endif
