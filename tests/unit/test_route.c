/*
 * test_route.c: the routing rules of CONTRACT §4, table by table.
 *
 * Each case is one call of route_next(): a policy, where the contact stands,
 * what it asks for, every clinician as routing sees them, and the time; and
 * what must come out: the offers (as a set), the events (in order), overflow
 * or not, and where the contact stands afterwards.  A short walk at the end
 * chains calls the way the engine does.
 *
 * Times in the case tables are ms after NOW, a real epoch time the runner
 * adds; a stage deadline of 0 stays 0 (none).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"
#include "util.h"

#define NOW INT64_C(1800000000000)
#define DL 90000 /* max_wait_ms after queueing at NOW */
#define IDL 30000 /* imminent_max_wait_ms after queueing at NOW */

#define T0 UINT32_C(0)
#define T1 (UINT32_C(1) << 1)
#define T2 (UINT32_C(1) << 2)
#define T3 (UINT32_C(1) << 3)

/* Connected and free; busy or in wrap-up; neither (away or disconnected). */
#define ELIG(id_, tiers_) .id = (id_), .tiers = (tiers_), .eligible = true
#define BUSY(id_, tiers_) .id = (id_), .tiers = (tiers_), .waitable = true
#define AWAY(id_, tiers_) .id = (id_), .tiers = (tiers_)

/* Where the contact stands before: stage, tier index, deadlines, told. */
#define AT(stage_, index_, stage_deadline_, deadline_, told_)                  \
	{                                                                      \
		ROUTE_##stage_, (index_), (stage_deadline_), (deadline_),      \
		    (told_)                                                    \
	}
#define START(deadline_) AT(START, 0, 0, (deadline_), false)
#define FRESH(pol_) .pol = (pol_), .pos = START(DL)
/* Where it must stand after, the waiting event told or not yet. */
#define TO(stage_, index_, stage_deadline_)                                    \
	{                                                                      \
		ROUTE_##stage_, (index_), (stage_deadline_), false             \
	}
#define TOLD(stage_, index_, stage_deadline_)                                  \
	{                                                                      \
		ROUTE_##stage_, (index_), (stage_deadline_), true              \
	}
/* A wanted offer: to id, showing tier, expiring at; or for continuity. */
#define OF(id_, tier_, at_)                                                    \
	{                                                                      \
		(id_), (tier_), (at_), false                                   \
	}
#define CONT(id_, tier_, at_)                                                  \
	{                                                                      \
		(id_), (tier_), (at_), true                                    \
	}
#define ESC(tier_)                                                             \
	{                                                                      \
		ROUTE_EV_ESCALATED, (tier_)                                    \
	}
#define WAITED                                                                 \
	{                                                                      \
		ROUTE_EV_WAITING, 0                                            \
	}

#define CASE_CANDS_MAX 7
#define CASE_OFFERS_MAX 7
#define CASE_EVENTS_MAX 6

struct want_offer {
	const char *id; /* NULL ends the list */
	int tier;
	int64_t expires_at;
	bool continuity;
};

/* Where the contact must stand afterwards; tier_index counts in ROUTE_TIER. */
struct want_pos {
	enum route_stage stage;
	int tier_index;
	int64_t stage_deadline;
	bool waiting_told;
};

struct route_case {
	const char *name;
	const struct route_policy *pol;
	struct route_pos pos;
	int64_t now;
	bool imminent;
	const char *primary; /* the patient's primary clinician, or NULL */
	struct route_cand cands[CASE_CANDS_MAX]; /* ends at a NULL id */
	struct want_offer offers[CASE_OFFERS_MAX];
	/* Ends at { ROUTE_EV_ESCALATED, 0 }, which routing never emits. */
	struct route_event events[CASE_EVENTS_MAX];
	bool overflow;
	struct want_pos then;
};

struct case_table {
	const struct route_case *cases;
	size_t ncases;
};

/* The tiers of the contract's example configuration. */
static const struct conf_tier tiers_std[] = {
	{ 1, STRATEGY_RING_ALL, 20000 },
	{ 2, STRATEGY_LONGEST_IDLE, 15000 },
	{ 3, STRATEGY_RING_ALL, 20000 },
};
/* A configuration without tier 2. */
static const struct conf_tier tiers_gap[] = {
	{ 1, STRATEGY_RING_ALL, 20000 },
	{ 3, STRATEGY_SEQUENTIAL, 12000 },
};
/* Single tiers, one per one-at-a-time strategy. */
static const struct conf_tier tiers_one[] = {
	{ 1, STRATEGY_LONGEST_IDLE, 15000 },
	{ 1, STRATEGY_ROUND_ROBIN, 15000 },
	{ 1, STRATEGY_SEQUENTIAL, 15000 },
	{ 1, STRATEGY_FEWEST_CONTACTS, 15000 },
};

static const struct route_policy pol_std = { tiers_std, 3, 10000 };
static const struct route_policy pol_open = { tiers_std, 3, 0 };
static const struct route_policy pol_gap = { tiers_gap, 2, 10000 };
static const struct route_policy pol_li = { &tiers_one[0], 1, 0 };
static const struct route_policy pol_rr = { &tiers_one[1], 1, 0 };
static const struct route_policy pol_seq = { &tiers_one[2], 1, 0 };
static const struct route_policy pol_fc = { &tiers_one[3], 1, 0 };

/* A table time as a real one: 0 (no stage deadline) stays 0. */
static int64_t
case_time(int64_t ms)
{
	return ms == 0 ? 0 : NOW + ms;
}

/* The index of the candidate named id, or -1. */
static long
case_find(const struct route_cand *cands, size_t ncands, const char *id)
{
	for (size_t i = 0; i < ncands; i++) {
		if (strcmp(cands[i].id, id) == 0)
			return (long)i;
	}
	return -1;
}

/* The wanted offer for id, or NULL; *n counts the wanted offers. */
static const struct want_offer *
case_want_offer(const struct want_offer *want, const char *id, size_t *n)
{
	const struct want_offer *found = NULL;

	for (*n = 0; *n < CASE_OFFERS_MAX && want[*n].id != NULL; (*n)++) {
		if (id != NULL && strcmp(want[*n].id, id) == 0)
			found = &want[*n];
	}
	return found;
}

/*
 * The plan's offers are exactly the wanted ones, in any order, none twice,
 * each after now and none past the contact's deadline.
 */
static void
case_check_offers(const struct route_case *c, const struct route_plan *plan,
    size_t ncands, int64_t deadline)
{
	bool seen[CASE_CANDS_MAX] = { false };
	size_t nwant;

	case_want_offer(c->offers, NULL, &nwant);
	if (plan->noffers != nwant)
		fail_msg("%s: %zu offers, want %zu", c->name, plan->noffers,
		    nwant);
	for (size_t i = 0; i < plan->noffers; i++) {
		const struct route_offer *o = &plan->offers[i];
		const struct want_offer *w;
		int64_t at = o->expires_at - NOW;

		if (o->cand >= ncands || seen[o->cand])
			fail_msg("%s: offer %zu: cand %zu twice or unknown",
			    c->name, i, o->cand);
		seen[o->cand] = true;
		if (o->expires_at <= NOW + c->now || o->expires_at > deadline)
			fail_msg("%s: offer to %s expires at %+" PRId64
			         ", not in (now, deadline]",
			    c->name, c->cands[o->cand].id, at);
		w = case_want_offer(c->offers, c->cands[o->cand].id, &nwant);
		if (w == NULL)
			fail_msg("%s: unexpected offer to %s", c->name,
			    c->cands[o->cand].id);
		if (o->tier != w->tier || at != w->expires_at ||
		    o->continuity != w->continuity)
			fail_msg("%s: offer to %s: tier %d, expires %+" PRId64
			         ", continuity %d; want %d, %+" PRId64 ", %d",
			    c->name, w->id, o->tier, at, o->continuity, w->tier,
			    w->expires_at, w->continuity);
	}
}

/* The plan's events are the wanted ones, in order. */
static void
case_check_events(const struct route_case *c, const struct route_plan *plan)
{
	const struct route_event *want = c->events;
	size_t n = 0;

	while (n < CASE_EVENTS_MAX &&
	    !(want[n].kind == ROUTE_EV_ESCALATED && want[n].tier == 0))
		n++;
	if (plan->nevents != n)
		fail_msg("%s: %zu events, want %zu", c->name, plan->nevents, n);
	for (size_t i = 0; i < n; i++) {
		if (plan->events[i].kind != want[i].kind ||
		    plan->events[i].tier != want[i].tier)
			fail_msg("%s: event %zu is kind %d tier %d, want %d %d",
			    c->name, i, (int)plan->events[i].kind,
			    plan->events[i].tier, (int)want[i].kind,
			    want[i].tier);
	}
}

/* Where the contact stands afterwards, and when it must be looked at again. */
static void
case_check_pos(const struct route_case *c, const struct route_pos *pos)
{
	const struct want_pos *w = &c->then;

	if (pos->stage != w->stage)
		fail_msg("%s: stage %s, want %s", c->name,
		    route_stage_name(pos->stage), route_stage_name(w->stage));
	if (w->stage == ROUTE_TIER && pos->tier_index != w->tier_index)
		fail_msg("%s: tier index %d, want %d", c->name, pos->tier_index,
		    w->tier_index);
	if (pos->stage_deadline != case_time(w->stage_deadline))
		fail_msg("%s: stage deadline %+" PRId64 ", want %+" PRId64,
		    c->name, pos->stage_deadline - NOW, w->stage_deadline);
	if (pos->waiting_told != w->waiting_told)
		fail_msg("%s: waiting_told %d, want %d", c->name,
		    pos->waiting_told, w->waiting_told);
	if (pos->deadline != NOW + c->pos.deadline)
		fail_msg("%s: the overflow deadline moved", c->name);
	if (pos->stage != ROUTE_DONE && route_wakeup(pos) <= NOW + c->now)
		fail_msg("%s: wakeup is not after now", c->name);
}

/*
 * Where route_watches_clinicians() says a contact ignores the clinicians,
 * route_next() must decide nothing for it, both with the case's clinicians
 * and with every clinician not holding its offer made free on every tier
 * (as if all of them had just come free at once).
 */
static void
case_check_unwatched(const struct route_case *c, const struct route_pos *before,
    const struct route_contact *ct, size_t ncands)
{
	struct route_cand all_free[CASE_CANDS_MAX];
	struct route_offer offers[CASE_CANDS_MAX];
	const struct route_cand *sets[2] = { c->cands, all_free };
	bool has_offer = false;

	for (size_t i = 0; i < ncands; i++) {
		all_free[i] = c->cands[i];
		has_offer = has_offer || c->cands[i].offered;
		if (!c->cands[i].offered) {
			all_free[i].eligible = true;
			all_free[i].refused = false;
			all_free[i].ringing = false;
			all_free[i].saturated = false;
			all_free[i].tiers = T1 | T2 | T3;
		}
	}
	if (route_watches_clinicians(c->pol, before, has_offer) ||
	    NOW + c->now >= route_wakeup(before))
		return;
	for (size_t k = 0; k < 2; k++) {
		struct route_pos pos = *before;
		struct route_plan plan;

		plan.offers = offers;
		route_next(c->pol, &pos, ct, sets[k], ncands, NOW + c->now,
		    &plan);
		if (plan.noffers != 0 || plan.nevents != 0 || plan.overflow ||
		    pos.stage != before->stage ||
		    pos.tier_index != before->tier_index ||
		    pos.stage_deadline != before->stage_deadline ||
		    pos.waiting_told != before->waiting_told)
			fail_msg("%s: unwatched, yet route_next acted (%s "
			         "clinicians)",
			    c->name, k == 0 ? "the case's" : "all free");
	}
}

/* Run one case through route_next() and check everything it decided. */
static void
case_run(const struct route_case *c)
{
	struct route_offer offers[CASE_CANDS_MAX];
	struct route_plan plan;
	struct route_contact ct;
	struct route_pos pos = c->pos;
	size_t ncands = 0;

	while (ncands < CASE_CANDS_MAX && c->cands[ncands].id != NULL)
		ncands++;
	pos.stage_deadline = case_time(c->pos.stage_deadline);
	pos.deadline = NOW + c->pos.deadline;
	ct.imminent = c->imminent;
	ct.primary = c->primary == NULL
	    ? -1
	    : (int)case_find(c->cands, ncands, c->primary);
	case_check_unwatched(c, &pos, &ct, ncands);
	memset(&plan, 0xa5, sizeof(plan));
	plan.offers = offers;
	route_next(c->pol, &pos, &ct, c->cands, ncands, NOW + c->now, &plan);
	case_check_offers(c, &plan, ncands, pos.deadline);
	case_check_events(c, &plan);
	if (plan.overflow != c->overflow)
		fail_msg("%s: overflow %d, want %d", c->name, plan.overflow,
		    c->overflow);
	case_check_pos(c, &pos);
}

/* Run every case of the table given as the test's state. */
static void
test_table(void **state)
{
	const struct case_table *t = *state;

	for (size_t i = 0; i < t->ncases; i++)
		case_run(&t->cases[i]);
}

/* Who may be offered: eligible, on call for a tier the policy has, not done. */
static const struct route_case eligibility_cases[] = {
	{ .name = "not eligible, off call, refused, busy: no offer",
	    FRESH(&pol_open),
	    .cands = { { AWAY("a", T1) }, { ELIG("b", T0) },
	        { ELIG("c", T1), .refused = true }, { BUSY("d", T1) },
	        { ELIG("e", T1) } },
	    .offers = { OF("e", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "already offered: no second offer",
	    .pol = &pol_open,
	    .pos = AT(TIER, 0, 20000, DL, false),
	    .now = 2000,
	    .cands = { { ELIG("a", T1), .offered = true },
	        { ELIG("b", T1), .refused = true } },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "one at a time passes over all of those",
	    FRESH(&pol_seq),
	    .cands = { { ELIG("a", T1), .refused = true }, { AWAY("b", T1) },
	        { ELIG("c", T0) }, { BUSY("d", T1) }, { ELIG("e", T1) } },
	    .offers = { OF("e", 1, 15000) },
	    .then = TO(TIER, 0, 0) },
	{ .name = "on call for a tier the policy lacks: ignored",
	    FRESH(&pol_gap),
	    .cands = { { ELIG("a", T2) }, { ELIG("b", T1) } },
	    .offers = { OF("b", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "only on a tier the policy lacks: overflow",
	    FRESH(&pol_gap),
	    .cands = { { ELIG("a", T2) } },
	    .events = { ESC(3) },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
};

/* §4.1: the primary clinician alone first, for continuity_ms. */
static const struct route_case continuity_cases[] = {
	{ .name = "primary eligible: alone, at its lowest tier",
	    FRESH(&pol_std),
	    .primary = "p",
	    .cands = { { ELIG("a", T1) }, { ELIG("p", T2 | T3) } },
	    .offers = { CONT("p", 2, 10000) },
	    .then = TO(CONTINUITY, 0, 10000) },
	{ .name = "continuity ends at the contact's deadline",
	    .pol = &pol_std,
	    .pos = START(4000),
	    .primary = "p",
	    .cands = { { ELIG("p", T1) } },
	    .offers = { CONT("p", 1, 4000) },
	    .then = TO(CONTINUITY, 0, 4000) },
	{ .name = "primary away: tier 1, no escalation",
	    FRESH(&pol_std),
	    .primary = "p",
	    .cands = { { AWAY("p", T1) }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "primary busy: tier 1",
	    FRESH(&pol_std),
	    .primary = "p",
	    .cands = { { BUSY("p", T1) }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "primary refused: tier 1 without it",
	    FRESH(&pol_std),
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .refused = true }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "primary off call: tier 1",
	    FRESH(&pol_std),
	    .primary = "p",
	    .cands = { { ELIG("p", T0) }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "primary only on a tier the policy lacks: tier 1",
	    FRESH(&pol_gap),
	    .primary = "p",
	    .cands = { { ELIG("p", T2) }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "primary shown its lowest tier the policy has",
	    FRESH(&pol_gap),
	    .primary = "p",
	    .cands = { { ELIG("p", T2 | T3) }, { ELIG("a", T1) } },
	    .offers = { CONT("p", 3, 10000) },
	    .then = TO(CONTINUITY, 0, 10000) },
	{ .name = "no primary: tier 1",
	    FRESH(&pol_std),
	    .cands = { { ELIG("p", T1) }, { ELIG("a", T1) } },
	    .offers = { OF("p", 1, 20000), OF("a", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "continuity_ms 0: off",
	    FRESH(&pol_open),
	    .primary = "p",
	    .cands = { { ELIG("p", T1) }, { ELIG("a", T1) } },
	    .offers = { OF("p", 1, 20000), OF("a", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "imminent skips continuity",
	    .pol = &pol_std,
	    .pos = START(IDL),
	    .imminent = true,
	    .primary = "p",
	    .cands = { { ELIG("p", T2) }, { ELIG("a", T1) } },
	    .offers = { OF("p", 2, IDL), OF("a", 1, IDL) },
	    .then = TO(IMMINENT, 0, 0) },
	{ .name = "continuity open: nobody else yet",
	    .pol = &pol_std,
	    .pos = AT(CONTINUITY, 0, 10000, DL, false),
	    .now = 3000,
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .offered = true }, { ELIG("a", T1) } },
	    .then = TO(CONTINUITY, 0, 10000) },
	{ .name = "primary declined: escalated to tier 1 at once",
	    .pol = &pol_std,
	    .pos = AT(CONTINUITY, 0, 10000, DL, false),
	    .now = 3000,
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .refused = true }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 23000) },
	    .events = { ESC(1) },
	    .then = TO(TIER, 0, 23000) },
	{ .name = "continuity over: escalated to tier 1",
	    .pol = &pol_std,
	    .pos = AT(CONTINUITY, 0, 10000, DL, false),
	    .now = 10000,
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .refused = true }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 30000) },
	    .events = { ESC(1) },
	    .then = TO(TIER, 0, 30000) },
	{ .name = "continuity over, its offer not yet expired: tier 1",
	    .pol = &pol_std,
	    .pos = AT(CONTINUITY, 0, 10000, DL, false),
	    .now = 10000,
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .offered = true }, { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 30000) },
	    .events = { ESC(1) },
	    .then = TO(TIER, 0, 30000) },
	{ .name = "continuity over, tier 1 empty: tier 2",
	    .pol = &pol_std,
	    .pos = AT(CONTINUITY, 0, 10000, DL, false),
	    .now = 10000,
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .refused = true }, { ELIG("b", T2) } },
	    .offers = { OF("b", 2, 25000) },
	    .events = { ESC(1), ESC(2) },
	    .then = TO(TIER, 1, 0) },
	{ .name = "primary declined, the rest busy: every tier, then wait",
	    .pol = &pol_std,
	    .pos = AT(CONTINUITY, 0, 10000, DL, false),
	    .now = 3000,
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .refused = true }, { BUSY("c", T3) } },
	    .events = { ESC(1), ESC(2), ESC(3), WAITED },
	    .then = TOLD(WAITING, 0, 0) },
};

/* §4.2: tier 1, 2, 3 in order; an empty tier is passed at once. */
static const struct route_case tier_cases[] = {
	{ .name = "tier 1 first",
	    FRESH(&pol_open),
	    .cands = { { ELIG("a", T2) }, { ELIG("b", T1) },
	        { ELIG("c", T3) } },
	    .offers = { OF("b", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "empty tier 1: escalated to tier 2 at once",
	    FRESH(&pol_open),
	    .cands = { { ELIG("a", T2) }, { AWAY("b", T1) } },
	    .offers = { OF("a", 2, 15000) },
	    .events = { ESC(2) },
	    .then = TO(TIER, 1, 0) },
	{ .name = "tiers 1 and 2 empty: tier 3",
	    FRESH(&pol_open),
	    .cands = { { ELIG("a", T3) } },
	    .offers = { OF("a", 3, 20000) },
	    .events = { ESC(2), ESC(3) },
	    .then = TO(TIER, 2, 20000) },
	{ .name = "every tier empty, one busy: waiting",
	    FRESH(&pol_open),
	    .cands = { { BUSY("a", T2) } },
	    .events = { ESC(2), ESC(3), WAITED },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "every tier empty, nobody: overflow",
	    FRESH(&pol_open),
	    .cands = { { AWAY("a", T1) } },
	    .events = { ESC(2), ESC(3) },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "one-at-a-time tier, next after a refusal",
	    .pol = &pol_open,
	    .pos = AT(TIER, 1, 0, DL, false),
	    .now = 5000,
	    .cands = { { ELIG("a", T2), .refused = true, .idle_since = 1 },
	        { ELIG("b", T2), .idle_since = 9000 } },
	    .offers = { OF("b", 2, 20000) },
	    .then = TO(TIER, 1, 0) },
	{ .name = "one-at-a-time tier refused through: tier 3",
	    .pol = &pol_open,
	    .pos = AT(TIER, 1, 0, DL, false),
	    .now = 5000,
	    .cands = { { ELIG("a", T2), .refused = true },
	        { ELIG("b", T2), .refused = true }, { ELIG("c", T3) } },
	    .offers = { OF("c", 3, 25000) },
	    .events = { ESC(3) },
	    .then = TO(TIER, 2, 25000) },
};

/* §4.2 ring-all: the whole tier at once, until the stage deadline. */
static const struct route_case ringall_cases[] = {
	{ .name = "ring-all: every eligible of the tier, matching or not",
	    FRESH(&pol_open),
	    .cands = { { ELIG("a", T1), .matches = true },
	        { ELIG("b", T1 | T2) }, { ELIG("c", T1) }, { ELIG("d", T2) } },
	    .offers = { OF("a", 1, 20000), OF("b", 1, 20000),
	        OF("c", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "ring-all: a late joiner ends with the stage",
	    .pol = &pol_open,
	    .pos = AT(TIER, 0, 20000, DL, false),
	    .now = 7000,
	    .cands = { { ELIG("a", T1), .offered = true }, { ELIG("b", T1) } },
	    .offers = { OF("b", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "ring-all: stage over, next tier, no late joiner",
	    .pol = &pol_open,
	    .pos = AT(TIER, 0, 20000, DL, false),
	    .now = 20000,
	    .cands = { { ELIG("a", T1), .refused = true }, { ELIG("b", T1) },
	        { ELIG("c", T2) } },
	    .offers = { OF("c", 2, 35000) },
	    .events = { ESC(2) },
	    .then = TO(TIER, 1, 0) },
	{ .name = "ring-all: all declined, next tier at once",
	    .pol = &pol_open,
	    .pos = AT(TIER, 0, 20000, DL, false),
	    .now = 4000,
	    .cands = { { ELIG("a", T1), .refused = true },
	        { ELIG("b", T1), .refused = true }, { ELIG("c", T2) } },
	    .offers = { OF("c", 2, 19000) },
	    .events = { ESC(2) },
	    .then = TO(TIER, 1, 0) },
	{ .name = "ring-all tier 3 opens its own stage",
	    .pol = &pol_open,
	    .pos = AT(TIER, 1, 0, DL, false),
	    .now = 30000,
	    .cands = { { ELIG("a", T2), .refused = true }, { ELIG("b", T3) },
	        { ELIG("c", T1 | T3) } },
	    .offers = { OF("b", 3, 50000), OF("c", 3, 50000) },
	    .events = { ESC(3) },
	    .then = TO(TIER, 2, 50000) },
};

/*
 * Four clinicians told apart by every one-at-a-time strategy: longest idle
 * is d, round-robin b (never offered), sequential a, fewest contacts c.
 * Each argument adds one field (NONE, REFUSED, OFFERED) to a, b, c, d.
 */
#define NONE .matches = false
#define REFUSED .refused = true
#define OFFERED .offered = true
#define MIXED(fa, fb, fc, fd)                                                  \
	{ ELIG("a", T1), .idle_since = 5000, .last_offer = 400,                \
		.recent_contacts = 2, fa },                                    \
	    { ELIG("b", T1), .idle_since = 4000, .last_offer = 0,              \
		    .recent_contacts = 2, fb },                                \
	    { ELIG("c", T1), .idle_since = 2000, .last_offer = 300,            \
		    .recent_contacts = 1, fc },                                \
	{                                                                      \
		ELIG("d", T1), .idle_since = 1000, .last_offer = 500,          \
		               .recent_contacts = 3, fd                        \
	}
/* The only one who speaks the language, and last by every other order. */
#define ZED                                                                    \
	{                                                                      \
		ELIG("z", T1), .matches = true, .idle_since = 9000,            \
		               .last_offer = 900, .recent_contacts = 9         \
	}
/* Two clinicians equal in everything but their ids. */
#define TWINS                                                                  \
	{ ELIG("b", T1), .idle_since = 9000, .last_offer = 0 },                \
	{                                                                      \
		ELIG("a", T1), .idle_since = 9000, .last_offer = 0             \
	}

/* A fresh contact on a one-tier policy, offered to id alone. */
#define PICK(name_, pol_, id_, ...)                                            \
	{                                                                      \
		.name = (name_), FRESH(pol_), .cands = { __VA_ARGS__ },        \
		.offers = { OF((id_), 1, 15000) }, .then = TO(TIER, 0, 0)      \
	}
/* An offer is open in a one-at-a-time tier: nothing new. */
#define HOLD(name_, pol_)                                                      \
	{                                                                      \
		.name = (name_), .pol = (pol_),                                \
		.pos = AT(TIER, 0, 0, DL, false), .now = 1000,                 \
		.cands = { MIXED(OFFERED, NONE, NONE, NONE), ZED },            \
		.then = TO(TIER, 0, 0)                                         \
	}

/* §4.2 one at a time: each strategy's order, matching candidates first. */
static const struct route_case strategy_cases[] = {
	PICK("longest-idle: smallest idle_since", &pol_li, "d",
	    MIXED(NONE, NONE, NONE, NONE)),
	PICK("round-robin: smallest last_offer", &pol_rr, "b",
	    MIXED(NONE, NONE, NONE, NONE)),
	PICK("sequential: by id", &pol_seq, "a", MIXED(NONE, NONE, NONE, NONE)),
	PICK("fewest-contacts: fewest recent", &pol_fc, "c",
	    MIXED(NONE, NONE, NONE, NONE)),
	PICK("longest-idle: matching first", &pol_li, "z",
	    MIXED(NONE, NONE, NONE, NONE), ZED),
	PICK("round-robin: matching first", &pol_rr, "z",
	    MIXED(NONE, NONE, NONE, NONE), ZED),
	PICK("sequential: matching first", &pol_seq, "z",
	    MIXED(NONE, NONE, NONE, NONE), ZED),
	PICK("fewest-contacts: matching first", &pol_fc, "z",
	    MIXED(NONE, NONE, NONE, NONE), ZED),
	PICK("longest-idle: after a refusal, the next", &pol_li, "c",
	    MIXED(NONE, NONE, NONE, REFUSED)),
	PICK("round-robin: after a refusal, the next", &pol_rr, "c",
	    MIXED(NONE, REFUSED, NONE, NONE)),
	PICK("sequential: after a refusal, the next", &pol_seq, "b",
	    MIXED(REFUSED, NONE, NONE, NONE)),
	PICK("fewest-contacts: after a refusal, ties by id", &pol_fc, "a",
	    MIXED(NONE, NONE, REFUSED, NONE)),
	PICK("matching one refused: back to the strategy", &pol_li, "d",
	    MIXED(NONE, NONE, NONE, NONE),
	    { ELIG("z", T1), .matches = true, .refused = true }),
	PICK("longest-idle: one not rung elsewhere first", &pol_li, "c",
	    MIXED(NONE, NONE, NONE, .ringing = true)),
	PICK("longest-idle: ties by id", &pol_li, "a", TWINS),
	PICK("round-robin: ties by id", &pol_rr, "a", TWINS),
	PICK("fewest-contacts: ties by id", &pol_fc, "a", TWINS),
	HOLD("longest-idle: an offer is open", &pol_li),
	HOLD("round-robin: an offer is open", &pol_rr),
	HOLD("sequential: an offer is open", &pol_seq),
	HOLD("fewest-contacts: an offer is open", &pol_fc),
};

/*
 * routing.max_offers_per_clinician: a clinician rung for that many other
 * contacts (saturated, so also ringing) counts as busy for the tier walk
 * and waiting; continuity and imminent offers ignore the cap.
 */
#define SAT(id_, tiers_) ELIG(id_, tiers_), .ringing = true, .saturated = true

static const struct route_case saturated_cases[] = {
	{ .name = "ring-all: the saturated one passed over, the rest rung",
	    FRESH(&pol_open),
	    .cands = { { SAT("a", T1) }, { ELIG("b", T1) } },
	    .offers = { OF("b", 1, 20000) },
	    .then = TO(TIER, 0, 20000) },
	{ .name = "ring-all: the whole tier saturated, next tier at once",
	    FRESH(&pol_open),
	    .cands = { { SAT("a", T1) }, { ELIG("c", T2) } },
	    .offers = { OF("c", 2, 15000) },
	    .events = { ESC(2) },
	    .then = TO(TIER, 1, 0) },
	{ .name = "one at a time: the strategy's first saturated, the next",
	    .pol = &pol_li,
	    .pos = AT(TIER, 0, 0, DL, false),
	    .now = 1000,
	    .cands = { { SAT("a", T1), .idle_since = 1 },
	        { ELIG("b", T1), .idle_since = 500 } },
	    .offers = { OF("b", 1, 16000) },
	    .then = TO(TIER, 0, 0) },
	{ .name = "everyone saturated: waiting, not overflow",
	    FRESH(&pol_open),
	    .cands = { { SAT("a", T1) }, { SAT("b", T3) } },
	    .events = { ESC(2), ESC(3), WAITED },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "waiting: a saturated one is not offered",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .now = 40000,
	    .cands = { { SAT("a", T2) } },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "continuity ignores the cap",
	    FRESH(&pol_std),
	    .primary = "p",
	    .cands = { { ELIG("a", T1) }, { SAT("p", T1) } },
	    .offers = { CONT("p", 1, 10000) },
	    .then = TO(CONTINUITY, 0, 10000) },
	{ .name = "imminent ignores the cap",
	    .pol = &pol_std,
	    .pos = START(IDL),
	    .imminent = true,
	    .cands = { { SAT("a", T1) }, { ELIG("b", T2) } },
	    .offers = { OF("a", 1, IDL), OF("b", 2, IDL) },
	    .then = TO(IMMINENT, 0, 0) },
};

/* No offer outlives the contact's overflow deadline. */
static const struct route_case deadline_cases[] = {
	{ .name = "one at a time: capped",
	    .pol = &pol_seq,
	    .pos = START(5000),
	    .cands = { { ELIG("a", T1) } },
	    .offers = { OF("a", 1, 5000) },
	    .then = TO(TIER, 0, 0) },
	{ .name = "ring-all: stage and offers capped",
	    .pol = &pol_open,
	    .pos = START(8000),
	    .cands = { { ELIG("a", T1) }, { ELIG("b", T1) } },
	    .offers = { OF("a", 1, 8000), OF("b", 1, 8000) },
	    .then = TO(TIER, 0, 8000) },
	{ .name = "escalated tier: capped",
	    .pol = &pol_open,
	    .pos = START(9000),
	    .cands = { { ELIG("a", T2) } },
	    .offers = { OF("a", 2, 9000) },
	    .events = { ESC(2) },
	    .then = TO(TIER, 1, 0) },
	{ .name = "waiting: capped",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, 3000, true),
	    .cands = { { ELIG("a", T2) } },
	    .offers = { OF("a", 2, 3000) },
	    .then = TOLD(WAITING, 0, 0) },
};

/* §4.4: tiers exhausted, someone on call is busy: wait for them. */
static const struct route_case waiting_cases[] = {
	{ .name = "last tier over, one busy: waiting, told once",
	    .pol = &pol_std,
	    .pos = AT(TIER, 2, 20000, DL, false),
	    .now = 20000,
	    .cands = { { ELIG("a", T3), .refused = true }, { BUSY("b", T1) } },
	    .events = { WAITED },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "still waiting: no second event",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .now = 30000,
	    .cands = { { BUSY("b", T2) }, { AWAY("c", T1) } },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "the busy one is free: offered at its lowest tier",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .now = 40000,
	    .cands = { { ELIG("b", T2 | T3) } },
	    .offers = { OF("b", 2, 55000) },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "lowest tier first, with that tier's timeout",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T2 | T3), .matches = true, .idle_since = 1 },
	        { ELIG("c", T1 | T3) } },
	    .offers = { OF("c", 1, 20000) },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "lowest tier first over matching",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T3), .matches = true, .idle_since = 1 },
	        { ELIG("c", T2) } },
	    .offers = { OF("c", 2, 15000) },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "same tier: matching first",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T2), .idle_since = 1 },
	        { ELIG("c", T2), .matches = true, .idle_since = 9000 } },
	    .offers = { OF("c", 2, 15000) },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "same tier: that tier's strategy",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T2), .idle_since = 9000 },
	        { ELIG("c", T2), .idle_since = 2000 } },
	    .offers = { OF("c", 2, 15000) },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "rung for another contact: left to answer that one",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T1), .ringing = true }, { ELIG("c", T3) } },
	    .offers = { OF("c", 3, 20000) },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "only ones rung elsewhere: still waiting",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T1), .ringing = true }, { BUSY("c", T2) } },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "rung elsewhere, nobody busy: waits, no overflow",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T1), .ringing = true } },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "waiting offer open: nothing new",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T2), .offered = true }, { ELIG("c", T1) } },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "waiting offer refused, another busy: still waiting",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T2), .refused = true }, { BUSY("c", T1) } },
	    .then = TOLD(WAITING, 0, 0) },
	{ .name = "waiting offer refused, nobody left: overflow",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { ELIG("b", T2), .refused = true } },
	    .overflow = true,
	    .then = TOLD(DONE, 0, 0) },
	{ .name = "busy but refused: not waited for, overflow",
	    .pol = &pol_std,
	    .pos = AT(TIER, 2, 20000, DL, false),
	    .now = 20000,
	    .cands = { { ELIG("a", T3), .refused = true },
	        { BUSY("b", T2), .refused = true } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "busy but off call: overflow",
	    .pol = &pol_std,
	    .pos = AT(TIER, 2, 20000, DL, false),
	    .now = 20000,
	    .cands = { { BUSY("b", T0) } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "busy on a tier the policy lacks: overflow",
	    FRESH(&pol_gap),
	    .cands = { { BUSY("b", T2) } },
	    .events = { ESC(3) },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "away is not waited for: overflow",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .cands = { { AWAY("b", T1) } },
	    .overflow = true,
	    .then = TOLD(DONE, 0, 0) },
};

/* §4.3: imminent, everyone at once until queued + imminent_max_wait_ms. */
static const struct route_case imminent_cases[] = {
	{ .name = "every eligible of every tier, at the lowest tier",
	    .pol = &pol_std,
	    .pos = START(IDL),
	    .imminent = true,
	    .cands = { { ELIG("a", T1) }, { ELIG("b", T2) },
	        { ELIG("c", T2 | T3) }, { AWAY("d", T1) }, { ELIG("e", T0) },
	        { BUSY("f", T3) }, { ELIG("g", T3), .refused = true } },
	    .offers = { OF("a", 1, IDL), OF("b", 2, IDL), OF("c", 2, IDL) },
	    .then = TO(IMMINENT, 0, 0) },
	{ .name = "a late joiner is offered too",
	    .pol = &pol_std,
	    .pos = AT(IMMINENT, 0, 0, IDL, false),
	    .now = 10000,
	    .imminent = true,
	    .cands = { { ELIG("a", T1), .offered = true }, { ELIG("b", T3) } },
	    .offers = { OF("b", 3, IDL) },
	    .then = TO(IMMINENT, 0, 0) },
	{ .name = "offers open, nobody new",
	    .pol = &pol_std,
	    .pos = AT(IMMINENT, 0, 0, IDL, false),
	    .now = 10000,
	    .imminent = true,
	    .cands = { { ELIG("a", T1), .offered = true },
	        { ELIG("b", T1), .refused = true } },
	    .then = TO(IMMINENT, 0, 0) },
	{ .name = "nobody eligible, one busy: waiting",
	    .pol = &pol_std,
	    .pos = START(IDL),
	    .imminent = true,
	    .cands = { { BUSY("a", T2) }, { AWAY("b", T1) } },
	    .events = { WAITED },
	    .then = TOLD(IMMINENT, 0, 0) },
	{ .name = "still waiting: no second event",
	    .pol = &pol_std,
	    .pos = AT(IMMINENT, 0, 0, IDL, true),
	    .now = 5000,
	    .imminent = true,
	    .cands = { { BUSY("a", T2) } },
	    .then = TOLD(IMMINENT, 0, 0) },
	{ .name = "the busy one is free: offered until the deadline",
	    .pol = &pol_std,
	    .pos = AT(IMMINENT, 0, 0, IDL, true),
	    .now = 12000,
	    .imminent = true,
	    .cands = { { ELIG("a", T2) } },
	    .offers = { OF("a", 2, IDL) },
	    .then = TOLD(IMMINENT, 0, 0) },
	{ .name = "nobody at all: overflow at once",
	    .pol = &pol_std,
	    .pos = START(IDL),
	    .imminent = true,
	    .cands = { { AWAY("a", T1) }, { ELIG("b", T0) } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "everyone refused: overflow",
	    .pol = &pol_std,
	    .pos = AT(IMMINENT, 0, 0, IDL, false),
	    .now = 5000,
	    .imminent = true,
	    .cands = { { ELIG("a", T1), .refused = true },
	        { BUSY("b", T2), .refused = true } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "imminent deadline passed: overflow",
	    .pol = &pol_std,
	    .pos = AT(IMMINENT, 0, 0, IDL, false),
	    .now = IDL,
	    .imminent = true,
	    .cands = { { ELIG("a", T1), .offered = true }, { ELIG("b", T1) } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "tiers the policy lacks are ignored",
	    .pol = &pol_gap,
	    .pos = START(IDL),
	    .imminent = true,
	    .cands = { { ELIG("a", T2) }, { ELIG("b", T2 | T3) } },
	    .offers = { OF("b", 3, IDL) },
	    .then = TO(IMMINENT, 0, 0) },
};

/* §4.5: max_wait_ms passed, from any stage; done stays done. */
static const struct route_case overflow_cases[] = {
	{ .name = "start, deadline passed",
	    FRESH(&pol_std),
	    .now = DL,
	    .cands = { { ELIG("a", T1) } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "continuity, deadline passed",
	    .pol = &pol_std,
	    .pos = AT(CONTINUITY, 0, 6000, 6000, false),
	    .now = 6000,
	    .primary = "p",
	    .cands = { { ELIG("p", T1), .offered = true }, { ELIG("a", T1) } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "ring-all tier, deadline passed",
	    .pol = &pol_std,
	    .pos = AT(TIER, 0, DL, DL, false),
	    .now = DL + 1,
	    .cands = { { ELIG("a", T1), .offered = true }, { ELIG("b", T1) } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "one-at-a-time tier, deadline passed",
	    .pol = &pol_std,
	    .pos = AT(TIER, 1, 0, DL, false),
	    .now = DL,
	    .cands = { { ELIG("a", T2) } },
	    .overflow = true,
	    .then = TO(DONE, 0, 0) },
	{ .name = "waiting, deadline passed",
	    .pol = &pol_std,
	    .pos = AT(WAITING, 2, 0, DL, true),
	    .now = DL,
	    .cands = { { BUSY("b", T1) } },
	    .overflow = true,
	    .then = TOLD(DONE, 0, 0) },
	{ .name = "done: nothing more",
	    .pol = &pol_std,
	    .pos = AT(DONE, 0, 0, DL, false),
	    .cands = { { ELIG("a", T1) } },
	    .then = TO(DONE, 0, 0) },
	{ .name = "done past the deadline: no second overflow",
	    .pol = &pol_std,
	    .pos = AT(DONE, 0, 0, DL, false),
	    .now = DL + 5000,
	    .cands = { { ELIG("a", T1) } },
	    .then = TO(DONE, 0, 0) },
};

struct wakeup_case {
	struct route_pos pos;
	int64_t want;
};

static const struct wakeup_case wakeup_cases[] = {
	{ START(DL), DL },
	{ AT(CONTINUITY, 0, 10000, DL, false), 10000 },
	{ AT(CONTINUITY, 0, DL + 5000, DL, false), DL },
	{ AT(TIER, 0, 20000, DL, false), 20000 },
	{ AT(TIER, 0, DL, DL, false), DL },
	{ AT(TIER, 1, 0, DL, false), DL },
	{ AT(WAITING, 2, 0, DL, true), DL },
	{ AT(IMMINENT, 0, 0, IDL, false), IDL },
	{ AT(DONE, 0, 0, DL, false), INT64_MAX },
};

/* The next wakeup: the earlier of the stage's deadline and the contact's. */
static void
test_wakeup(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(wakeup_cases); i++) {
		const struct wakeup_case *w = &wakeup_cases[i];

		if (route_wakeup(&w->pos) != w->want)
			fail_msg("wakeup case %zu (%s): %" PRId64
			         ", want %" PRId64,
			    i, route_stage_name(w->pos.stage),
			    route_wakeup(&w->pos), w->want);
	}
}

struct start_case {
	bool imminent;
	int64_t max_wait_ms;
	int64_t imminent_max_wait_ms;
	int64_t want_deadline;
};

static const struct start_case start_cases[] = {
	{ false, 90000, 30000, 90000 },
	{ true, 90000, 30000, 30000 },
	{ true, 90000, 120000, 120000 },
	{ false, 60000, 120000, 60000 },
};

/* route_start: a fresh walk, deadline by max_wait_ms or the imminent one. */
static void
test_start(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(start_cases); i++) {
		const struct start_case *s = &start_cases[i];
		struct route_pos pos;

		memset(&pos, 0x5a, sizeof(pos));
		route_start(&pos, NOW, s->imminent, s->max_wait_ms,
		    s->imminent_max_wait_ms);
		assert_int_equal(pos.stage, ROUTE_START);
		assert_int_equal(pos.tier_index, 0);
		assert_int_equal(pos.stage_deadline, 0);
		assert_int_equal(pos.deadline, NOW + s->want_deadline);
		assert_false(pos.waiting_told);
		assert_int_equal(route_wakeup(&pos), NOW + s->want_deadline);
	}
}

/* The names saved with contacts: fixed, and read back. */
static void
test_stage_names(void **state)
{
	static const char *const names[] = {
		[ROUTE_START] = "start",
		[ROUTE_CONTINUITY] = "continuity",
		[ROUTE_TIER] = "tier",
		[ROUTE_WAITING] = "waiting",
		[ROUTE_IMMINENT] = "imminent",
		[ROUTE_DONE] = "done",
	};

	(void)state;
	for (size_t s = 0; s < nitems(names); s++) {
		assert_string_equal(route_stage_name((enum route_stage)s),
		    names[s]);
		assert_int_equal(route_stage_from_name(names[s]), (int)s);
	}
	assert_int_equal(route_stage_from_name(""), -1);
	assert_int_equal(route_stage_from_name("Tier"), -1);
	assert_int_equal(route_stage_from_name("overflow"), -1);
}

/*
 * One step of a walk: the offer of refuse ends (declined or expired) and
 * free becomes eligible, then route_next() runs at `at`; it must offer to
 * offer alone (or nobody), emit nevents ending with last, and leave the
 * contact in stage with that wakeup.  Times are ms after NOW, but
 * INT64_MAX (no wakeup) stays INT64_MAX.
 */
struct walk_step {
	int64_t at;
	const char *refuse;
	const char *free;
	struct want_offer offer;
	size_t nevents;
	enum route_event_kind last;
	bool overflow;
	enum route_stage stage;
	int64_t wakeup;
};

static const struct walk_step walk_steps[] = {
	{ 0, NULL, NULL, CONT("p", 1, 10000), 0, ROUTE_EV_ESCALATED, false,
	    ROUTE_CONTINUITY, 10000 },
	{ 2000, "p", NULL, OF("a", 1, 22000), 1, ROUTE_EV_ESCALATED, false,
	    ROUTE_TIER, 22000 },
	{ 22000, "a", NULL, OF("b", 2, 37000), 1, ROUTE_EV_ESCALATED, false,
	    ROUTE_TIER, DL },
	{ 37000, "b", NULL, OF("c", 2, 52000), 0, ROUTE_EV_ESCALATED, false,
	    ROUTE_TIER, DL },
	{ 40000, "c", NULL, OF(NULL, 0, 0), 2, ROUTE_EV_WAITING, false,
	    ROUTE_WAITING, DL },
	{ 50000, NULL, "d", OF("d", 3, 70000), 0, ROUTE_EV_ESCALATED, false,
	    ROUTE_WAITING, DL },
	{ 70000, "d", NULL, OF(NULL, 0, 0), 0, ROUTE_EV_ESCALATED, true,
	    ROUTE_DONE, INT64_MAX },
};

/* Apply one step's changes to the clinicians. */
static void
walk_apply(struct route_cand *cands, size_t ncands, const struct walk_step *w)
{
	long k;

	if (w->refuse != NULL) {
		k = case_find(cands, ncands, w->refuse);
		cands[k].offered = false;
		cands[k].refused = true;
	}
	if (w->free != NULL) {
		k = case_find(cands, ncands, w->free);
		cands[k].waitable = false;
		cands[k].eligible = true;
	}
}

/*
 * A whole walk, fed back the way the engine does: continuity and its
 * decline, tier 1 expiring, tier 2 one by one, waiting for a busy tier-3
 * clinician, its offer expiring, overflow.
 */
static void
test_walk(void **state)
{
	struct route_cand cands[] = {
		{ ELIG("p", T1) },
		{ ELIG("a", T1) },
		{ ELIG("b", T2), .idle_since = 1000 },
		{ ELIG("c", T2), .idle_since = 9000 },
		{ BUSY("d", T3) },
	};
	struct route_offer offers[nitems(cands)];
	struct route_contact ct = { false, 0 };
	struct route_plan plan;
	struct route_pos pos;

	(void)state;
	plan.offers = offers;
	route_start(&pos, NOW, false, DL, IDL);
	for (size_t i = 0; i < nitems(walk_steps); i++) {
		const struct walk_step *w = &walk_steps[i];

		walk_apply(cands, nitems(cands), w);
		route_next(&pol_std, &pos, &ct, cands, nitems(cands),
		    NOW + w->at, &plan);
		assert_int_equal(plan.noffers, w->offer.id != NULL ? 1 : 0);
		if (w->offer.id != NULL) {
			assert_string_equal(cands[offers[0].cand].id,
			    w->offer.id);
			assert_int_equal(offers[0].tier, w->offer.tier);
			assert_int_equal(offers[0].expires_at,
			    NOW + w->offer.expires_at);
			assert_int_equal(offers[0].continuity,
			    w->offer.continuity);
			cands[offers[0].cand].offered = true;
		}
		assert_int_equal(plan.nevents, w->nevents);
		if (w->nevents > 0)
			assert_int_equal(plan.events[w->nevents - 1].kind,
			    w->last);
		assert_int_equal(plan.overflow, w->overflow);
		assert_int_equal(pos.stage, w->stage);
		assert_int_equal(route_wakeup(&pos),
		    w->wakeup == INT64_MAX ? INT64_MAX : NOW + w->wakeup);
	}
}

/* A table of cases as one named test. */
#define TABLE(name_, cases_)                                                   \
	{                                                                      \
		(name_), test_table, NULL, NULL, &(struct case_table)          \
		{                                                              \
			(cases_), nitems(cases_)                               \
		}                                                              \
	}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TABLE("eligibility", eligibility_cases),
		TABLE("continuity (4.1)", continuity_cases),
		TABLE("tiers (4.2)", tier_cases),
		TABLE("ring-all (4.2)", ringall_cases),
		TABLE("one at a time (4.2)", strategy_cases),
		TABLE("offer cap", saturated_cases),
		TABLE("deadline caps", deadline_cases),
		TABLE("waiting (4.4)", waiting_cases),
		TABLE("imminent (4.3)", imminent_cases),
		TABLE("overflow (4.5)", overflow_cases),
		cmocka_unit_test(test_wakeup),
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_stage_names),
		cmocka_unit_test(test_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
