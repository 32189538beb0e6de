/*
 * test_admit.c: the small pure bookkeeping the daemon keeps beside its
 * routing: which offers clinicians have heard of across a failed commit
 * (heard.c), and what each gateway may queue (intake.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "heard.h"
#include "intake.h"
#include "util.h"

/* Every offer is live: heard_keep() keeps all. */
static bool
live_all(void *arg, const char *contact, const char *clin)
{
	(void)arg;
	(void)contact;
	(void)clin;
	return true;
}

/* Only offers of contact "A" are live. */
static bool
live_a(void *arg, const char *contact, const char *clin)
{
	(void)arg;
	(void)clin;
	return strcmp(contact, "A") == 0;
}

/* A committed send is heard; a committed end forgets it. */
static void
test_heard_commit(void **state)
{
	struct heard *h = heard_new();

	(void)state;
	heard_add(h, "A", "c1");
	assert_true(heard_has(h, "A", "c1"));
	heard_committed(h, true);
	assert_true(heard_has(h, "A", "c1"));
	assert_false(heard_has(h, "A", "c2"));
	heard_end(h, "A", "c1");
	/* Until the commit, the end may still be undone. */
	assert_true(heard_has(h, "A", "c1"));
	heard_committed(h, true);
	assert_false(heard_has(h, "A", "c1"));
	heard_free(h);
}

/*
 * A failed commit undoes its turn: an end rolled back leaves the offer
 * heard; a send whose line was dropped leaves it unheard, so it is sent
 * again.
 */
static void
test_heard_failed_commit(void **state)
{
	struct heard *h = heard_new();

	(void)state;
	heard_add(h, "A", "c1");
	heard_committed(h, true);
	heard_end(h, "A", "c1");
	heard_add(h, "B", "c1");
	heard_committed(h, false);
	assert_true(heard_has(h, "A", "c1"));
	assert_false(heard_has(h, "B", "c1"));
	/* Sent again after it ended in the same turn: still heard. */
	heard_end(h, "A", "c1");
	heard_add(h, "A", "c1");
	heard_committed(h, true);
	assert_true(heard_has(h, "A", "c1"));
	/* Sent and ended in one failed turn: never heard. */
	heard_add(h, "C", "c2");
	heard_end(h, "C", "c2");
	heard_committed(h, false);
	assert_false(heard_has(h, "C", "c2"));
	heard_free(h);
}

/* After the state is read back, offers that are gone are forgotten. */
static void
test_heard_keep(void **state)
{
	struct heard *h = heard_new();

	(void)state;
	heard_add(h, "A", "c1");
	heard_add(h, "B", "c1");
	heard_add(h, "B", "c2");
	heard_committed(h, true);
	heard_keep(h, live_all, NULL);
	assert_true(heard_has(h, "B", "c2"));
	heard_keep(h, live_a, NULL);
	assert_true(heard_has(h, "A", "c1"));
	assert_false(heard_has(h, "B", "c1"));
	assert_false(heard_has(h, "B", "c2"));
	/* A failed commit after a keep has nothing left to undo. */
	heard_committed(h, false);
	assert_true(heard_has(h, "A", "c1"));
	heard_free(h);
}

/* The per-principal cap, the cap over all principals, and the rate. */
static void
test_intake_caps(void **state)
{
	struct intake_limits open2 = { 0, 2, 3 };
	struct intake_limits rate = { 2, 0, 0 };

	struct intakes *ins = intake_new();

	(void)state;
	assert_int_equal(intake_admit(ins, "gw1", 0, &open2), INTAKE_ADMIT);
	intake_opened(ins, "gw1");
	intake_opened(ins, "gw1");
	assert_int_equal(intake_admit(ins, "gw1", 0, &open2),
	    INTAKE_TOO_MANY_OPEN);
	assert_int_equal(intake_admit(ins, "gw2", 0, &open2), INTAKE_ADMIT);
	intake_opened(ins, "gw2");
	assert_int_equal(intake_open_total(ins), 3);
	/* Three open in all: the next is refused, whoever sends it. */
	assert_int_equal(intake_admit(ins, "gw3", 0, &open2),
	    INTAKE_TOO_MANY_TOTAL);
	intake_closed(ins, "gw1");
	assert_int_equal(intake_open_total(ins), 2);
	assert_int_equal(intake_admit(ins, "gw3", 0, &open2), INTAKE_ADMIT);
	/* Closing more than was opened never goes below zero. */
	intake_closed(ins, "gw9");
	assert_int_equal(intake_open_total(ins), 2);
	/* Two a second: a burst of two, then one every 500 ms. */
	assert_int_equal(intake_admit(ins, "gw4", 1000, &rate), INTAKE_ADMIT);
	assert_int_equal(intake_admit(ins, "gw4", 1000, &rate), INTAKE_ADMIT);
	assert_int_equal(intake_admit(ins, "gw4", 1000, &rate),
	    INTAKE_TOO_FAST);
	assert_int_equal(intake_admit(ins, "gw4", 1400, &rate),
	    INTAKE_TOO_FAST);
	assert_int_equal(intake_admit(ins, "gw4", 1500, &rate), INTAKE_ADMIT);
	intake_free(ins);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heard_commit),
		cmocka_unit_test(test_heard_failed_commit),
		cmocka_unit_test(test_heard_keep),
		cmocka_unit_test(test_intake_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
