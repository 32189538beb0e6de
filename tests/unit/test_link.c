/*
 * test_link.c: the walk through crisisd's addresses (sipgw/link.c), as a
 * table of steps: which address comes next and how long to wait first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "link.h"

#define STEPS_MAX 12

/* A failure ('f') or a welcome ('w'), and what the walk says after it. */
struct step {
	char what;
	int at; /* the address tried next, or kept */
	int64_t wait_ms; /* after a failure */
};

static const struct {
	const char *name;
	int n;
	struct step steps[STEPS_MAX];
} walks[] = {
	/* One address: every failure waits, doubling to the cap. */
	{ "one address", 1,
	    { { 'f', 0, 100 }, { 'f', 0, 200 }, { 'f', 0, 400 },
	        { 'f', 0, 400 }, { 'w', 0, 0 }, { 'f', 0, 100 } } },
	/* A standby first: straight on to the second, no wait. */
	{ "standby then active", 2,
	    { { 'f', 1, 0 }, { 'w', 1, 0 }, { 'f', 0, 0 }, { 'w', 0, 0 } } },
	/* Every node refuses (a takeover under way): a pause per round. */
	{ "whole rounds", 3,
	    { { 'f', 1, 0 }, { 'f', 2, 0 }, { 'f', 0, 100 }, { 'f', 1, 0 },
	        { 'f', 2, 0 }, { 'f', 0, 200 }, { 'f', 1, 0 }, { 'w', 1, 0 },
	        { 'f', 2, 0 }, { 'f', 0, 0 }, { 'f', 1, 100 } } },
	/* The active that welcomed us dies: the next at once, round anew. */
	{ "active lost", 2,
	    { { 'w', 0, 0 }, { 'f', 1, 0 }, { 'f', 0, 100 }, { 'f', 1, 0 },
	        { 'w', 1, 0 }, { 'f', 0, 0 } } },
};

/* Each walk, step by step. */
static void
test_walks(void **state)
{
	struct link_walk w;
	const struct step *s;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof walks / sizeof walks[0]; i++) {
		link_walk_init(&w, walks[i].n, 100, 400);
		assert_int_equal(w.at, 0);
		for (k = 0; k < STEPS_MAX && walks[i].steps[k].what; k++) {
			s = &walks[i].steps[k];
			if (s->what == 'f')
				assert_int_equal(link_walk_failed(&w),
				    s->wait_ms);
			else
				link_walk_ok(&w);
			if (w.at != s->at)
				fail_msg("%s, step %zu: at %d, want %d",
				    walks[i].name, k, w.at, s->at);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
