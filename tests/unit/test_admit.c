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
live_all(const char *contact, const char *clin)
{
	(void)contact;
	(void)clin;
	return true;
}

/* Only offers of contact "A" are live. */
static bool
live_a(const char *contact, const char *clin)
{
	(void)clin;
	return strcmp(contact, "A") == 0;
}

/* A committed send is heard; a committed end forgets it. */
static void
test_heard_commit(void **state)
{
	(void)state;
	heard_add("A", "c1");
	assert_true(heard_has("A", "c1"));
	heard_committed(true);
	assert_true(heard_has("A", "c1"));
	assert_false(heard_has("A", "c2"));
	heard_end("A", "c1");
	/* Until the commit, the end may still be undone. */
	assert_true(heard_has("A", "c1"));
	heard_committed(true);
	assert_false(heard_has("A", "c1"));
	heard_free_all();
}

/*
 * A failed commit undoes its turn: an end rolled back leaves the offer
 * heard; a send whose line was dropped leaves it unheard, so it is sent
 * again.
 */
static void
test_heard_failed_commit(void **state)
{
	(void)state;
	heard_add("A", "c1");
	heard_committed(true);
	heard_end("A", "c1");
	heard_add("B", "c1");
	heard_committed(false);
	assert_true(heard_has("A", "c1"));
	assert_false(heard_has("B", "c1"));
	/* Sent again after it ended in the same turn: still heard. */
	heard_end("A", "c1");
	heard_add("A", "c1");
	heard_committed(true);
	assert_true(heard_has("A", "c1"));
	/* Sent and ended in one failed turn: never heard. */
	heard_add("C", "c2");
	heard_end("C", "c2");
	heard_committed(false);
	assert_false(heard_has("C", "c2"));
	heard_free_all();
}

/* After the state is read back, offers that are gone are forgotten. */
static void
test_heard_keep(void **state)
{
	(void)state;
	heard_add("A", "c1");
	heard_add("B", "c1");
	heard_add("B", "c2");
	heard_committed(true);
	heard_keep(live_all);
	assert_true(heard_has("B", "c2"));
	heard_keep(live_a);
	assert_true(heard_has("A", "c1"));
	assert_false(heard_has("B", "c1"));
	assert_false(heard_has("B", "c2"));
	/* A failed commit after a keep has nothing left to undo. */
	heard_committed(false);
	assert_true(heard_has("A", "c1"));
	heard_free_all();
}

/* The per-principal cap, the cap over all principals, and the rate. */
static void
test_intake_caps(void **state)
{
	struct intake_limits open2 = { 0, 2, 3 };
	struct intake_limits rate = { 2, 0, 0 };

	(void)state;
	assert_int_equal(intake_admit("gw1", 0, &open2), INTAKE_ADMIT);
	intake_opened("gw1");
	intake_opened("gw1");
	assert_int_equal(intake_admit("gw1", 0, &open2),
	    INTAKE_TOO_MANY_OPEN);
	assert_int_equal(intake_admit("gw2", 0, &open2), INTAKE_ADMIT);
	intake_opened("gw2");
	assert_int_equal(intake_open_total(), 3);
	/* Three open in all: the next is refused, whoever sends it. */
	assert_int_equal(intake_admit("gw3", 0, &open2),
	    INTAKE_TOO_MANY_TOTAL);
	intake_closed("gw1");
	assert_int_equal(intake_open_total(), 2);
	assert_int_equal(intake_admit("gw3", 0, &open2), INTAKE_ADMIT);
	/* Closing more than was opened never goes below zero. */
	intake_closed("gw9");
	assert_int_equal(intake_open_total(), 2);
	/* Two a second: a burst of two, then one every 500 ms. */
	assert_int_equal(intake_admit("gw4", 1000, &rate), INTAKE_ADMIT);
	assert_int_equal(intake_admit("gw4", 1000, &rate), INTAKE_ADMIT);
	assert_int_equal(intake_admit("gw4", 1000, &rate), INTAKE_TOO_FAST);
	assert_int_equal(intake_admit("gw4", 1400, &rate), INTAKE_TOO_FAST);
	assert_int_equal(intake_admit("gw4", 1500, &rate), INTAKE_ADMIT);
	intake_free_all();
	assert_int_equal(intake_open_total(), 0);
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
