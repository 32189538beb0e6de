/*
 * test_engine.c: the engine (engine*.c, clinician.c, contact.c, policy.c,
 * route.c, and the session, outbox and results on top) driven case by
 * case, with a fake store and fake connections and a clock that moves only
 * when a case says so (engine_steps.h explains the tables).
 *
 * The world of every case unless it says otherwise: the contract's tiers
 * (1 ring-all 20 s, 2 longest-idle 15 s, 3 ring-all 20 s), max_wait 90 s,
 * imminent_max_wait 30 s, continuity 10 s, wrap-up 5 s, two missed offers
 * set a clinician away, and the ringing cap at its default, 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine_steps.h"
#include "log.h"
#include "util.h"

/* Lines, as patterns. */
#define OFFER(r_, tier_, ms_)                                                  \
	"{\"type\":\"offer\",\"contact\":\"$" r_ "\",\"tier\":" #tier_         \
	",\"expires_in_ms\":" #ms_ "}"
#define WITHDRAWN(r_, why_)                                                    \
	"{\"type\":\"withdrawn\",\"contact\":\"$" r_ "\",\"reason\":\"" why_   \
	"\"}"
#define ROUTED(r_, clin_)                                                      \
	"{\"type\":\"routed\",\"contact\":\"$" r_ "\",\"ref\":\"" r_           \
	"\",\"clinician\":\"" clin_ "\"}"
#define OVERFLOWED(r_)                                                         \
	"{\"type\":\"overflow\",\"contact\":\"$" r_ "\",\"ref\":\"" r_         \
	"\",\"target\":\"988\"}"
#define CONFLICT "{\"type\":\"error\",\"code\":\"conflict\"}"
#define INTERNAL "{\"type\":\"error\",\"code\":\"internal\"}"

/* Every peer of most cases connected, and the clinicians available. */
#define HELLO_2(a_, b_)                                                        \
	CONNECT("gw"), CONNECT(a_), CONNECT(b_), AVAILABLE(a_), AVAILABLE(b_)
#define HELLO_3(a_, b_, c_)                                                    \
	CONNECT("gw"), CONNECT(a_), CONNECT(b_), CONNECT(c_), AVAILABLE(a_),   \
	    AVAILABLE(b_), AVAILABLE(c_)

static const struct engine_case ring_all_cap = {
	"ring-all rings a clinician for one contact at a time (cap 1)",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		SEE("c2", OFFER("R1", 1, 20000)),
		/* Both ring for R1: R2 waits for either. */
		CONTACT("R2", NULL),
		QUIET("c1"), QUIET("c2"),
		EVENTS("R2", "waiting", 1),
		EVENTS("R2", "offered", 0),
		ACCEPT("c1", "R1"),
		SEE("c2", WITHDRAWN("R1", "taken")),
		SEE("c2", OFFER("R2", 1, 20000)),
		SEE("gw", ROUTED("R1", "c1")),
		STORED("R1", "assigned"),
		OFFER_ROW("R2", "c2", 1),
		OFFER_ROW("R1", "c2", 0),
	},
};

static const struct engine_case cap_exempt = {
	"imminent and continuity offers ignore the cap",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1) },
	.patients = { { "P1", "c1" } },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		SEE("c2", OFFER("R1", 1, 20000)),
		CONTACT("R2", "\"risk\":\"imminent\""),
		SEE("c1", OFFER("R2", 1, 30000)),
		SEE("c2", OFFER("R2", 1, 30000)),
		CONTACT("R3", "\"patient\":\"P1\""),
		SEE("c1", "{\"type\":\"offer\",\"contact\":\"$R3\","
		          "\"continuity\":true,\"expires_in_ms\":10000}"),
		QUIET("c2"),
		/* A plain contact still finds everyone at the cap. */
		CONTACT("R4", NULL),
		QUIET("c1"), QUIET("c2"),
	},
};

static const struct engine_case continuity_first = {
	"the patient's primary clinician is offered the contact alone first",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1) },
	.patients = { { "P1", "c2" } },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", "\"patient\":\"P1\""),
		SEE("c2", "{\"type\":\"offer\",\"contact\":\"$R1\","
		          "\"continuity\":true,\"patient\":\"P1\","
		          "\"expires_in_ms\":10000}"),
		QUIET("c1"),
		AT(10000),
		SEE("c2", WITHDRAWN("R1", "expired")),
		SEE("c1", OFFER("R1", 1, 20000)),
		EVENTS("R1", "expired", 1),
		EVENTS("R1", "escalated", 1),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
	},
};

static const struct engine_case escalation = {
	"an offer expiring moves the contact up the tiers, then it overflows",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER2) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", "\"caller\":\"+15550100\""),
		SEE("c1", OFFER("R1", 1, 20000)),
		QUIET("c2"),
		AT(19999),
		QUIET("c1"),
		AT(20000),
		SEE("c1", WITHDRAWN("R1", "expired")),
		SEE("c2", OFFER("R1", 2, 15000)),
		AT(35000),
		SEE("c2", WITHDRAWN("R1", "expired")),
		/* Everyone on call refused it: nobody is left to wait for. */
		SEE("gw", OVERFLOWED("R1")),
		STORED("R1", "overflow"),
		EVENTS("R1", "expired", 2),
		EVENTS("R1", "escalated", 2),
		FOLLOWUP("R1", "overflow"),
	},
};

static const struct engine_case max_wait = {
	"a contact waiting for a busy clinician overflows at max_wait_ms",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
		AT(1000),
		CONTACT("R2", "\"caller\":\"+15550101\""),
		EVENTS("R2", "waiting", 1),
		AT(90999),
		QUIET("gw"),
		AT(91000),
		SEE("gw", OVERFLOWED("R2")),
		STORED("R2", "overflow"),
		FOLLOWUP("R2", "overflow"),
		QUIET("c1"),
	},
};

static const struct engine_case imminent_max_wait = {
	"an imminent contact rings everyone until imminent_max_wait_ms",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER3) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", "\"risk\":\"imminent\""),
		SEE("c1", OFFER("R1", 1, 30000)),
		SEE("c2", OFFER("R1", 3, 30000)),
		AT(29999),
		QUIET("c1"), QUIET("c2"),
		AT(30000),
		SEE("c1", WITHDRAWN("R1", "overflow")),
		SEE("c2", WITHDRAWN("R1", "overflow")),
		SEE("gw", OVERFLOWED("R1")),
		/* Nobody eligible or worth waiting for: overflow at once. */
		AWAY("c1"), AWAY("c2"),
		CONTACT("R2", "\"risk\":\"imminent\""),
		SEE("gw", OVERFLOWED("R2")),
		STORED("R2", "overflow"),
	},
};

static const struct engine_case refusals = {
	"decline, away and disconnect each decline the open offer",
	.cap = CAP_NONE,
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1), CLIN("c3", TIER2) },
	.steps = {
		HELLO_3("c1", "c2", "c3"),
		CONTACT("R1", "\"caller\":\"+15550102\""),
		SEE("c1", OFFER("R1", 1, 20000)),
		SEE("c2", OFFER("R1", 1, 20000)),
		DECLINE("c1", "R1", "on a call"),
		/* Ring-all goes on with the others. */
		QUIET("c2"), QUIET("c3"),
		AWAY("c2"),
		SEE("c3", OFFER("R1", 2, 15000)),
		DROP("c3"),
		SEE("gw", OVERFLOWED("R1")),
		EVENTS("R1", "declined", 3),
		STORED("R1", "overflow"),
		FOLLOWUP("R1", "overflow"),
		QUIET("c1"), QUIET("c2"),
	},
};

static const struct engine_case accept_withdraws = {
	"an accept withdraws the contact from others and others from its taker",
	.cap = CAP_NONE,
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", NULL),
		CONTACT("R2", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		SEE("c2", OFFER("R1", 1, 20000)),
		SEE("c1", OFFER("R2", 1, 20000)),
		SEE("c2", OFFER("R2", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("c1", WITHDRAWN("R2", "busy")),
		SEE("c2", WITHDRAWN("R1", "taken")),
		SEE("gw", ROUTED("R1", "c1")),
		/* Withdrawn offers cannot be accepted. */
		ACCEPT_REPLY("c2", "R1", CONFLICT),
		ACCEPT_REPLY("c1", "R2", CONFLICT),
		ACCEPT("c2", "R2"),
		SEE("gw", ROUTED("R2", "c2")),
		STORED("R1", "assigned"),
		STORED("R2", "assigned"),
	},
};

static const struct engine_case missed_offers = {
	"two offers expiring in a row set a clinician away",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		AT(20000),
		SEE("c1", WITHDRAWN("R1", "expired")),
		SEE("gw", OVERFLOWED("R1")),
		CONTACT("R2", NULL),
		SEE("c1", OFFER("R2", 1, 20000)),
		AT(40000),
		SEE("c1", WITHDRAWN("R2", "expired")),
		SEE("c1", "{\"type\":\"status\",\"status\":\"away\","
		          "\"reason\":\"missed_offers\"}"),
		SEE("gw", OVERFLOWED("R2")),
		EVENTS("R2", "clinician_away", 1),
		/* Away: a new contact does not ring it. */
		CONTACT("R3", NULL),
		SEE("gw", OVERFLOWED("R3")),
	},
};

static const struct engine_case abandon = {
	"an abandon while ringing withdraws every offer",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", "\"caller\":\"+15550103\""),
		SEE("c1", OFFER("R1", 1, 20000)),
		SEE("c2", OFFER("R1", 1, 20000)),
		AT(3000),
		ABANDON("R1"),
		SEE("c1", WITHDRAWN("R1", "abandoned")),
		SEE("c2", WITHDRAWN("R1", "abandoned")),
		STORED("R1", "abandoned"),
		FOLLOWUP("R1", "abandoned"),
		EVENTS("R1", "abandoned", 1),
		OFFER_ROW("R1", "c1", 0),
		ABANDON_REPLY("R1", CONFLICT),
		ACCEPT_REPLY("c1", "R1", CONFLICT),
	},
};

static const struct engine_case wrapup = {
	"a completed contact's clinician takes the next one after wrap-up",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
		AT(60000),
		COMPLETE("c1", "R1"),
		STORED("R1", "completed"),
		CONTACT("R2", NULL),
		QUIET("c1"),
		AT(64999),
		QUIET("c1"),
		AT(65000),
		SEE("c1", OFFER("R2", 1, 20000)),
		ACCEPT("c1", "R2"),
		SEE("gw", ROUTED("R2", "c1")),
	},
};

static const struct engine_case failed_commit = {
	"a failed commit reads the state back; nothing is lost or sent twice",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		/* The contact's row is lost with its commit: internal. */
		FAIL_COMMITS(1),
		CONTACT_REPLY("R1", NULL, INTERNAL),
		QUIET("c1"),
		AT(100), /* the store is tried again, and works */
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		/* The accept is lost: the offer is open again, not resent. */
		AT(1000),
		FAIL_COMMITS(1),
		ACCEPT_REPLY("c1", "R1", INTERNAL),
		STORED("R1", "open"),
		OFFER_ROW("R1", "c1", 1),
		QUIET("c1"), QUIET("gw"),
		AT(1100),
		QUIET("c1"),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
		STORED("R1", "assigned"),
	},
};

static const struct engine_case failed_commit_overflow = {
	"a contact lost with its commit is not told to overflow",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"),
		/*
		 * Nobody is on call: it overflows in the turn that queues it.
		 * The commit fails, so the gateway hears "internal" and routes
		 * the caller itself; an overflow of a contact it never heard
		 * of would send the caller two ways.
		 */
		FAIL_COMMITS(1),
		CONTACT_REPLY("R1", NULL, INTERNAL),
		QUIET("gw"),
		AT(100),
		CONTACT("R1", NULL),
		SEE("gw", OVERFLOWED("R1")),
		STORED("R1", "overflow"),
	},
};

static const struct engine_case failed_commit_heard = {
	"an offer heard before a failed commit is withdrawn when it ends",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		SEE("c2", OFFER("R1", 1, 20000)),
		/* c2's decline is lost: its offer is open again, heard. */
		FAIL_COMMITS(1),
		DECLINE_REPLY("c2", "R1", INTERNAL),
		OFFER_ROW("R1", "c2", 1),
		AT(500),
		QUIET("c1"), QUIET("c2"),
		AT(20000),
		SEE("c1", WITHDRAWN("R1", "expired")),
		SEE("c2", WITHDRAWN("R1", "expired")),
		SEE("gw", OVERFLOWED("R1")),
	},
};

static const struct engine_case told_recorded_at_retry = {
	"an overflow told while the commit failed is recorded at the retry",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		/* The decline leaves nobody: overflow, told at once. */
		FAIL_COMMITS(1),
		DECLINE_REPLY("c1", "R1", INTERNAL),
		SEE("gw", OVERFLOWED("R1")),
		STORED("R1", "open"),
		/*
		 * The store gave the offer back, but the caller is gone: the
		 * retry records the overflow and stops c1's phone ringing.
		 */
		AT(100),
		STORED("R1", "overflow"),
		SEE("c1", WITHDRAWN("R1", "overflow")),
		ACCEPT_REPLY("c1", "R1", CONFLICT),
		/* The gateway heard it; recorded at the retry, not retold. */
		QUIET("gw"),
	},
};

static const struct engine_case told_recorded_by_request = {
	"a request's commit that ends a failure also declines gone clinicians",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		FAIL_COMMITS(1),
		DROP("c1"),
		SEE("gw", OVERFLOWED("R1")),
		STORED("R1", "open"),
		OFFER_ROW("R1", "c1", 1),
		/*
		 * Before the retry, a contact's commit works: c1's offer is
		 * declined again, R1's overflow recorded (and told again:
		 * the gateway drops the repeat), and R2 routed.
		 */
		CONTACT("R2", NULL),
		STORED("R1", "overflow"),
		OFFER_ROW("R1", "c1", 0),
		SEE("gw", OVERFLOWED("R1")),
		SEE("gw", OVERFLOWED("R2")),
	},
};

static const struct engine_case overflow_store_down = {
	"while the store fails the overflow deadline still sends the caller on",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
		CONTACT("R2", NULL),
		EVENTS("R2", "waiting", 1),
		AT(80000),
		FAIL_WRITES(1),
		AT(90000),
		SEE("gw", OVERFLOWED("R2")),
		STORED("R2", "open"),
		AT(95000),
		FAIL_WRITES(0),
		AT(97000),
		/* On record at last, silently: the gateway heard it. */
		STORED("R2", "overflow"),
		QUIET("gw"),
		/* Still owed until acked: the next welcome replays both. */
		DROP("gw"),
		CONNECT("gw"),
		SEE("gw", ROUTED("R1", "c1")),
		SEE("gw", OVERFLOWED("R2")),
		ACK("R1"),
		ACK("R2"),
		DROP("gw"),
		CONNECT("gw"),
		QUIET("c1"),
	},
};

static const struct engine_case same_ref = {
	"a ref sent again is the same contact; other fields are a conflict",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", "\"caller\":\"+15550104\""),
		SEE("c1", OFFER("R1", 1, 20000)),
		CONTACT("R1", "\"caller\":\"+15550104\""),
		QUIET("c1"),
		CONTACT_REPLY("R1", "\"caller\":\"+15550199\"", CONFLICT),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
		/* Its result, not yet acked, comes again with the id. */
		CONTACT("R1", "\"caller\":\"+15550104\""),
		SEE("gw", ROUTED("R1", "c1")),
		ACK("R1"),
		CONTACT("R1", "\"caller\":\"+15550104\""),
		QUIET("gw"),
	},
};

static const struct engine_case connect_failed = {
	"a caller the gateway could not connect is routed again",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER1) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		SEE("c2", OFFER("R1", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("c2", WITHDRAWN("R1", "taken")),
		SEE("gw", ROUTED("R1", "c1")),
		AT(5000),
		FAILED("R1"),
		/* c1's phone does not work: away, and not asked again. */
		SEE("c1", "{\"type\":\"status\",\"status\":\"away\","
		          "\"reason\":\"connect_failed\"}"),
		SEE("c2", OFFER("R1", 1, 20000)),
		STORED("R1", "open"),
		EVENTS("R1", "connect_failed", 1),
		ACCEPT("c2", "R1"),
		SEE("gw", ROUTED("R1", "c2")),
		ENDED("R1"),
		EVENTS("R1", "call_ended", 1),
		COMPLETE("c2", "R1"),
		STORED("R1", "completed"),
	},
};

static const struct engine_case connect_failed_lost = {
	"a failed connection lost with its commit tells the gateway nothing",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
		/*
		 * Routed again, nobody is left: it overflows, but the reopen
		 * is lost with the commit, so the gateway's one answer is
		 * "internal" (it keeps the caller, and says failed again).
		 */
		FAIL_COMMITS(1),
		FAILED_REPLY("R1", INTERNAL),
		SEE("c1", "{\"type\":\"status\",\"status\":\"away\"}"),
		QUIET("gw"),
		STORED("R1", "assigned"),
		AT(100),
		FAILED("R1"),
		SEE("c1", "{\"type\":\"status\",\"status\":\"away\"}"),
		SEE("gw", OVERFLOWED("R1")),
		STORED("R1", "overflow"),
	},
};

static const struct engine_case supervisor_close = {
	"a supervisor's close overflows an open contact, completes an assigned",
	.clins = { CLIN("c1", TIER1), CLIN("c2", TIER2) },
	.steps = {
		HELLO_2("c1", "c2"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
		CONTACT("R2", NULL),
		SEE("c2", OFFER("R2", 2, 15000)),
		CLOSE("R1"),
		CLOSE("R2"),
		/* The roster poll, every second, finds the requests. */
		AT(1000),
		SEE("c2", WITHDRAWN("R2", "overflow")),
		SEE("gw", OVERFLOWED("R2")),
		STORED("R1", "completed"),
		STORED("R2", "overflow"),
		EVENTS("R1", "closed", 1),
		/* c1 is in wrap-up, then free for the next contact. */
		AWAY("c2"),
		CONTACT("R3", NULL),
		QUIET("c1"),
		AT(6000),
		SEE("c1", OFFER("R3", 1, 20000)),
	},
};

static const struct engine_case restart = {
	"after a restart open offers are sent again with the time they have",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONTACT("R1", NULL),
		SEE("c1", OFFER("R1", 1, 20000)),
		AT(5000),
		RESTART,
		AT(8000),
		CONNECT("c1"),
		QUIET("c1"),
		AVAILABLE("c1"),
		SEE("c1", OFFER("R1", 1, 12000)),
		CONNECT("gw"),
		ACCEPT("c1", "R1"),
		SEE("gw", ROUTED("R1", "c1")),
	},
};

static const struct engine_case watched = {
	"a watching supervisor sees a contact's events as they happen",
	.clins = { CLIN("c1", TIER1) },
	.steps = {
		CONNECT("gw"), CONNECT("c1"), AVAILABLE("c1"),
		CONNECT("sup"), WATCH("sup"),
		CONTACT("R1", "\"risk\":\"high\""),
		SEE("sup", "{\"type\":\"event\",\"contact\":\"$R1\","
		           "\"event\":\"queued\",\"detail\":{\"risk\":\"high\","
		           "\"policy\":1}}"),
		SEE("sup", "{\"type\":\"event\",\"contact\":\"$R1\","
		           "\"event\":\"offered\",\"tier\":1,"
		           "\"clinician\":\"c1\"}"),
		SEE("c1", OFFER("R1", 1, 20000)),
		ACCEPT("c1", "R1"),
		SEE("sup", "{\"type\":\"event\",\"contact\":\"$R1\","
		           "\"event\":\"assigned\",\"clinician\":\"c1\"}"),
		SEE("gw", ROUTED("R1", "c1")),
	},
};

/* One cmocka test per case, named after it. */
static void
test_case(void **state)
{
	steps_run(*state);
}

#define CASE(c_)                                                               \
	{                                                                      \
		(c_).name, test_case, NULL, NULL, (void *)&(c_)                \
	}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(ring_all_cap),
		CASE(cap_exempt),
		CASE(continuity_first),
		CASE(escalation),
		CASE(max_wait),
		CASE(imminent_max_wait),
		CASE(refusals),
		CASE(accept_withdraws),
		CASE(missed_offers),
		CASE(abandon),
		CASE(wrapup),
		CASE(failed_commit),
		CASE(failed_commit_overflow),
		CASE(failed_commit_heard),
		CASE(told_recorded_at_retry),
		CASE(told_recorded_by_request),
		CASE(overflow_store_down),
		CASE(same_ref),
		CASE(connect_failed),
		CASE(connect_failed_lost),
		CASE(supervisor_close),
		CASE(restart),
		CASE(watched),
	};

	log_init("test_engine", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
