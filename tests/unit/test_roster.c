/*
 * test_roster.c: the in-memory roster: clinician lookup, on-call tiers at
 * shift boundaries, the next change, language and skill matching, and the
 * gaps in a tier's coverage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "roster.h"
#include "util.h"

#define T1 (UINT32_C(1) << 1)
#define T2 (UINT32_C(1) << 2)
#define T3 (UINT32_C(1) << 3)

/*
 * The roster most tests use, times in plain small numbers:
 *   alice  tier 1 [100,200) and [200,250) back to back, tier 2 [150,300)
 *   bob    tier 1 [120,180) and [160,220) overlapping, tier 3 [50,60)
 *   carol  no shifts
 * Shifts are added out of order so roster_finish has to sort them.
 */
static struct roster *
roster_fixture(void)
{
	struct roster *r = roster_new();

	assert_int_equal(roster_add_clinician(r, "carol", "Carol", NULL, NULL,
	                     NULL),
	    0);
	assert_int_equal(roster_add_clinician(r, "alice", "Alice",
	                     " EN , es,,en ", "MAT,family",
	                     "sip:alice@example.org"),
	    0);
	assert_int_equal(roster_add_clinician(r, "bob", "Bob", "es-MX", "",
	                     NULL),
	    0);
	assert_int_equal(roster_add_shift(r, "alice", 1, 200, 250), 0);
	assert_int_equal(roster_add_shift(r, "alice", 2, 150, 300), 0);
	assert_int_equal(roster_add_shift(r, "alice", 1, 100, 200), 0);
	assert_int_equal(roster_add_shift(r, "bob", 1, 160, 220), 0);
	assert_int_equal(roster_add_shift(r, "bob", 3, 50, 60), 0);
	assert_int_equal(roster_add_shift(r, "bob", 1, 120, 180), 0);
	roster_finish(r);
	return r;
}

/* Clinicians are kept sorted by id, found by id, and never twice. */
static void
test_clinicians(void **state)
{
	struct roster *r = roster_fixture();
	const struct roster_clinician *c;

	(void)state;
	assert_int_equal(r->nclinicians, 3);
	assert_string_equal(r->clinicians[0].id, "alice");
	assert_string_equal(r->clinicians[1].id, "bob");
	assert_string_equal(r->clinicians[2].id, "carol");
	assert_int_equal(roster_add_clinician(r, "bob", "Bob 2", NULL, NULL,
	                     NULL),
	    -1);
	assert_int_equal(roster_add_clinician(r, "", "Nobody", NULL, NULL,
	                     NULL),
	    -1);
	assert_int_equal(r->nclinicians, 3);
	c = roster_find(r, "alice");
	assert_non_null(c);
	assert_string_equal(c->name, "Alice");
	assert_string_equal(c->endpoint, "sip:alice@example.org");
	assert_int_equal(c->nshifts, 3);
	assert_true(c->shifts[0].start_ms <= c->shifts[1].start_ms);
	assert_true(c->shifts[1].start_ms <= c->shifts[2].start_ms);
	assert_null(roster_find(r, "dave"));
	assert_null(roster_find(r, "ALICE"));
	assert_null(roster_find(r, NULL));
	assert_null(roster_find(r, "carol")->endpoint);
	roster_free(r);
}

/* Many clinicians added in any order are all found. */
static void
test_many_clinicians(void **state)
{
	struct roster *r = roster_new();
	char id[16];
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "c%03d", (i * 7) % 200);
		assert_int_equal(roster_add_clinician(r, id, id, NULL, NULL,
		                     NULL),
		    0);
		assert_int_equal(roster_add_shift(r, id, 1 + i % 3, i, i + 10),
		    0);
	}
	roster_finish(r);
	assert_int_equal(r->nclinicians, 200);
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "c%03d", i);
		assert_non_null(roster_find(r, id));
		assert_string_equal(roster_find(r, id)->id, id);
	}
	for (i = 1; i < 200; i++)
		assert_true(
		    strcmp(r->clinicians[i - 1].id, r->clinicians[i].id) < 0);
	roster_free(r);
}

struct bad_shift_case {
	const char *clinician;
	int tier;
	int64_t start_ms;
	int64_t end_ms;
};

static const struct bad_shift_case bad_shift_cases[] = {
	{ "dave", 1, 0, 10 },
	{ NULL, 1, 0, 10 },
	{ "alice", 0, 0, 10 },
	{ "alice", ROSTER_TIER_MAX + 1, 0, 10 },
	{ "alice", -1, 0, 10 },
	{ "alice", 1, 10, 10 },
	{ "alice", 1, 10, 5 },
};

/* Shifts for unknown clinicians, bad tiers or empty windows are refused. */
static void
test_bad_shifts(void **state)
{
	struct roster *r = roster_fixture();
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad_shift_cases); i++) {
		const struct bad_shift_case *c = &bad_shift_cases[i];

		assert_int_equal(roster_add_shift(r, c->clinician, c->tier,
		                     c->start_ms, c->end_ms),
		    -1);
	}
	assert_int_equal(roster_find(r, "alice")->nshifts, 3);
	assert_int_equal(roster_add_shift(r, "alice", ROSTER_TIER_MAX, 0, 1),
	    0);
	roster_finish(r);
	assert_int_equal(roster_oncall_tiers(roster_find(r, "alice"), 0),
	    UINT32_C(1) << ROSTER_TIER_MAX);
	roster_free(r);
}

struct oncall_case {
	const char *clinician;
	int64_t t;
	uint32_t tiers;
};

static const struct oncall_case oncall_cases[] = {
	{ "alice", 99, 0 },
	{ "alice", 100, T1 }, /* start is inclusive */
	{ "alice", 149, T1 },
	{ "alice", 150, T1 | T2 },
	{ "alice", 199, T1 | T2 },
	{ "alice", 200, T1 | T2 }, /* back-to-back shifts: no hole */
	{ "alice", 249, T1 | T2 },
	{ "alice", 250, T2 }, /* end is exclusive */
	{ "alice", 299, T2 },
	{ "alice", 300, 0 },
	{ "bob", 49, 0 },
	{ "bob", 50, T3 },
	{ "bob", 60, 0 },
	{ "bob", 120, T1 },
	{ "bob", 170, T1 }, /* inside both overlapping shifts */
	{ "bob", 180, T1 },
	{ "bob", 219, T1 },
	{ "bob", 220, 0 },
	{ "carol", 150, 0 },
};

/* Each case: the on-call tiers of one clinician at one moment. */
static void
test_oncall(void **state)
{
	struct roster *r = roster_fixture();
	size_t i;

	(void)state;
	for (i = 0; i < nitems(oncall_cases); i++) {
		const struct oncall_case *c = &oncall_cases[i];

		assert_int_equal(roster_oncall_tiers(roster_find(r,
		                                         c->clinician),
		                     c->t),
		    c->tiers);
	}
	roster_free(r);
}

struct lowest_case {
	uint32_t tiers;
	int lowest;
};

static const struct lowest_case lowest_cases[] = {
	{ 0, 0 },
	{ T1, 1 },
	{ T2 | T3, 2 },
	{ T3 | (UINT32_C(1) << 9), 3 },
	{ UINT32_C(1) << ROSTER_TIER_MAX, ROSTER_TIER_MAX },
	{ T1 | (UINT32_C(1) << ROSTER_TIER_MAX), 1 },
};

/* The lowest tier of a mask. */
static void
test_lowest_tier(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(lowest_cases); i++)
		assert_int_equal(roster_lowest_tier(lowest_cases[i].tiers),
		    lowest_cases[i].lowest);
}

struct next_case {
	int64_t t;
	int64_t next;
};

/*
 * Changes in the fixture: 50, 60 (bob tier 3), 100 (alice tier 1), 120
 * (bob tier 1), 150 (alice tier 2), 220 (bob's merged tier 1), 250 (alice's
 * merged tier 1), 300.  Not 160, 180 or 200: those are seams inside merged
 * runs where nobody's set changes.
 */
static const struct next_case next_cases[] = {
	{ INT64_MIN, 50 },
	{ 0, 50 },
	{ 49, 50 },
	{ 50, 60 }, /* strictly after t */
	{ 60, 100 },
	{ 100, 120 },
	{ 120, 150 },
	{ 150, 220 },
	{ 199, 220 },
	{ 200, 220 },
	{ 220, 250 },
	{ 250, 300 },
	{ 299, 300 },
	{ 300, INT64_MAX },
	{ 1000, INT64_MAX },
};

/* The next moment anyone's on-call set changes. */
static void
test_next_change(void **state)
{
	struct roster *r = roster_fixture();
	struct roster *empty = roster_new();
	size_t i;

	(void)state;
	for (i = 0; i < nitems(next_cases); i++)
		assert_int_equal(roster_next_change(r, next_cases[i].t),
		    next_cases[i].next);
	assert_int_equal(roster_next_change(empty, 0), INT64_MAX);
	roster_free(r);
	roster_free(empty);
}

/* Language and skill lists are trimmed, lower-cased and deduplicated. */
static void
test_lists(void **state)
{
	struct roster *r = roster_fixture();
	const struct roster_clinician *alice = roster_find(r, "alice");
	const struct roster_clinician *bob = roster_find(r, "bob");
	const struct roster_clinician *carol = roster_find(r, "carol");

	(void)state;
	assert_int_equal(alice->nlanguages, 2);
	assert_string_equal(alice->languages[0], "en");
	assert_string_equal(alice->languages[1], "es");
	assert_int_equal(alice->nskills, 2);
	assert_string_equal(alice->skills[0], "mat");
	assert_string_equal(alice->skills[1], "family");
	assert_int_equal(bob->nlanguages, 1);
	assert_string_equal(bob->languages[0], "es-mx");
	assert_int_equal(bob->nskills, 0);
	assert_int_equal(carol->nlanguages, 0);
	assert_int_equal(carol->nskills, 0);
	roster_free(r);
}

struct speaks_case {
	const char *clinician;
	const char *language;
	bool speaks;
};

static const struct speaks_case speaks_cases[] = {
	{ "alice", NULL, true },
	{ "alice", "", true },
	{ "alice", "  ", true },
	{ "carol", NULL, true },
	{ "carol", "en", false },
	{ "alice", "en", true },
	{ "alice", "EN", true },
	{ "alice", " Es ", true },
	{ "alice", "en-US", true }, /* "en" serves a regional caller */
	{ "alice", "fr", false },
	{ "alice", "e", false },
	{ "alice", "eng", false },
	{ "bob", "es", true }, /* "es-MX" serves a plain "es" caller */
	{ "bob", "ES-mx", true },
	{ "bob", "es-ES", false }, /* two regions are not the same */
	{ "bob", "en", false },
};

/* Each case: does one clinician speak one language? */
static void
test_speaks(void **state)
{
	struct roster *r = roster_fixture();
	size_t i;

	(void)state;
	for (i = 0; i < nitems(speaks_cases); i++) {
		const struct speaks_case *c = &speaks_cases[i];

		assert_int_equal(roster_speaks(roster_find(r, c->clinician),
		                     c->language),
		    c->speaks);
	}
	roster_free(r);
}

struct skills_case {
	const char *clinician;
	const char *needs[3];
	size_t nneeds;
	bool has;
};

static const struct skills_case skills_cases[] = {
	{ "alice", { NULL }, 0, true },
	{ "carol", { NULL }, 0, true },
	{ "alice", { "mat" }, 1, true },
	{ "alice", { "MAT", " Family " }, 2, true },
	{ "alice", { "family", "mat", "mat" }, 3, true },
	{ "alice", { "mat", "lgbtq" }, 2, false },
	{ "alice", { "ma" }, 1, false },
	{ "alice", { "", "mat" }, 2, true },
	{ "bob", { "mat" }, 1, false },
	{ "carol", { "family" }, 1, false },
};

/* Each case: does one clinician have every one of the needs? */
static void
test_has_skills(void **state)
{
	struct roster *r = roster_fixture();
	size_t i;

	(void)state;
	for (i = 0; i < nitems(skills_cases); i++) {
		const struct skills_case *c = &skills_cases[i];

		assert_int_equal(roster_has_skills(roster_find(r, c->clinician),
		                     c->needs, c->nneeds),
		    c->has);
	}
	roster_free(r);
}

#define GAP_SHIFTS_MAX 4
#define GAP_WINDOWS_MAX 4

struct gaps_case {
	const char *what;
	struct roster_shift shifts[GAP_SHIFTS_MAX];
	size_t nshifts;
	int64_t from_ms;
	int64_t to_ms;
	size_t ngaps;
	struct roster_window gaps[GAP_WINDOWS_MAX];
};

static const struct gaps_case gaps_cases[] = {
	{ "no shifts: one gap over everything", { { 0, 0, 0 } }, 0, 0, 100, 1,
	    { { 0, 100 } } },
	{ "covered: none", { { 1, 0, 100 } }, 1, 0, 100, 0, { { 0, 0 } } },
	{ "covered from before to after: none", { { 1, -50, 500 } }, 1, 0, 100,
	    0, { { 0, 0 } } },
	{ "leading", { { 1, 30, 100 } }, 1, 0, 100, 1, { { 0, 30 } } },
	{ "trailing", { { 1, 0, 70 } }, 1, 0, 100, 1, { { 70, 100 } } },
	{ "middle", { { 1, 0, 40 }, { 1, 60, 100 } }, 2, 0, 100, 1,
	    { { 40, 60 } } },
	{ "leading, middle and trailing, unsorted",
	    { { 1, 60, 80 }, { 1, 10, 40 } }, 2, 0, 100, 3,
	    { { 0, 10 }, { 40, 60 }, { 80, 100 } } },
	{ "overlapping shifts merged",
	    { { 1, 0, 50 }, { 1, 30, 70 }, { 1, 40, 60 }, { 1, 65, 100 } }, 4,
	    0, 100, 0, { { 0, 0 } } },
	{ "back-to-back shifts merged", { { 1, 50, 100 }, { 1, 0, 50 } }, 2, 0,
	    100, 0, { { 0, 0 } } },
	{ "a long shift swallows a short one", { { 1, 10, 90 }, { 1, 20, 30 } },
	    2, 0, 100, 2, { { 0, 10 }, { 90, 100 } } },
	{ "other tiers do not count",
	    { { 2, 0, 100 }, { 1, 20, 30 }, { 3, 0, 100 } }, 3, 0, 100, 2,
	    { { 0, 20 }, { 30, 100 } } },
	{ "shifts outside the window", { { 1, -100, -10 }, { 1, 200, 300 } }, 2,
	    0, 100, 1, { { 0, 100 } } },
	{ "shift ending at from, shift starting at to",
	    { { 1, -10, 0 }, { 1, 100, 110 } }, 2, 0, 100, 1, { { 0, 100 } } },
	{ "empty window", { { 1, 0, 10 } }, 1, 50, 50, 0, { { 0, 0 } } },
};

/* Each case: the gaps in tier 1's coverage of a window. */
static void
test_gaps(void **state)
{
	struct roster_window out[GAP_WINDOWS_MAX];
	size_t i, j, n;

	(void)state;
	for (i = 0; i < nitems(gaps_cases); i++) {
		const struct gaps_case *c = &gaps_cases[i];

		memset(out, 0, sizeof out);
		n = roster_gaps(c->shifts, c->nshifts, 1, c->from_ms, c->to_ms,
		    out, nitems(out));
		if (n != c->ngaps)
			fail_msg("%s: %zu gaps, expected %zu", c->what, n,
			    c->ngaps);
		for (j = 0; j < n; j++) {
			assert_int_equal(out[j].start_ms, c->gaps[j].start_ms);
			assert_int_equal(out[j].end_ms, c->gaps[j].end_ms);
		}
	}
}

/* More gaps than room: the first max are written, all are counted. */
static void
test_gaps_truncated(void **state)
{
	const struct roster_shift shifts[] = {
		{ 1, 10, 20 },
		{ 1, 30, 40 },
		{ 1, 50, 60 },
	};
	struct roster_window out[2];

	(void)state;
	assert_int_equal(roster_gaps(shifts, nitems(shifts), 1, 0, 100, out,
	                     nitems(out)),
	    4);
	assert_int_equal(out[0].start_ms, 0);
	assert_int_equal(out[0].end_ms, 10);
	assert_int_equal(out[1].start_ms, 20);
	assert_int_equal(out[1].end_ms, 30);
	assert_int_equal(roster_gaps(shifts, nitems(shifts), 1, 0, 100, NULL,
	                     0),
	    4);
}

/* Freeing NULL is harmless. */
static void
test_free_null(void **state)
{
	(void)state;
	roster_free(NULL);
	assert_null(roster_find(NULL, "alice"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clinicians),
		cmocka_unit_test(test_many_clinicians),
		cmocka_unit_test(test_bad_shifts),
		cmocka_unit_test(test_oncall),
		cmocka_unit_test(test_lowest_tier),
		cmocka_unit_test(test_next_change),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_speaks),
		cmocka_unit_test(test_has_skills),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_gaps_truncated),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
