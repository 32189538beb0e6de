/*
 * test_util.c: RFC 3339 parsing and formatting, local display across a
 * daylight-saving change, contact ids and principal ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

struct rfc3339_case {
	const char *text;
	int ok;
	int64_t ms;
};

static const struct rfc3339_case rfc3339_cases[] = {
	{ "1970-01-01T00:00:00Z", 1, 0 },
	{ "2026-11-27T10:00:00Z", 1, 1795773600000 },
	{ "2026-11-27T10:00:00.5Z", 1, 1795773600500 },
	{ "2026-11-27T10:00:00.123Z", 1, 1795773600123 },
	{ "2026-11-27T05:00:00-05:00", 1, 1795773600000 },
	{ "2026-11-27T15:30:00+05:30", 1, 1795773600000 },
	{ "2026-11-27 10:00:00z", 1, 1795773600000 },
	{ "2026-11-27T10:00:00", 0, 0 },
	{ "2026-11-27", 0, 0 },
	{ "2026-02-31T10:00:00Z", 0, 0 },
	{ "2026-13-01T10:00:00Z", 0, 0 },
	{ "2026-11-27T24:00:00Z", 0, 0 },
	{ "2026-11-27T23:59:59Z", 1, 1795823999000 },
	{ "2026-11-27T23:59:60Z", 0, 0 },
	{ "2026-11-27T10:00:60Z", 0, 0 },
	{ "2026-11-27T10:00:60.5Z", 0, 0 },
	{ "2016-12-31T23:59:60Z", 0, 0 },
	{ "2026-11-27T10:60:00Z", 0, 0 },
	{ "2026-11-27T10:00:61Z", 0, 0 },
	{ "2026-11-27T10:00:99Z", 0, 0 },
	{ "2026-11-27T10:00:00+24:00", 0, 0 },
	{ "2026-11-27T10:00:00.Z", 0, 0 },
	{ "2026-11-27T10:00:00Zjunk", 0, 0 },
	{ "", 0, 0 },
};

/* Each case parses to its value or is refused. */
static void
test_parse_rfc3339(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(rfc3339_cases); i++) {
		const struct rfc3339_case *c = &rfc3339_cases[i];
		int64_t ms = -1;
		int rc = util_parse_rfc3339(c->text, &ms);

		if (c->ok) {
			assert_int_equal(rc, 0);
			assert_int_equal(ms, c->ms);
		} else
			assert_int_equal(rc, -1);
	}
}

/* Years below 1000 keep four digits, in UTC and in a local zone. */
static void
test_format_year_zero(void **state)
{
	char buf[RFC3339_MAX], local[64];
	int64_t ms, back;

	(void)state;
	assert_int_equal(util_parse_rfc3339("0000-01-01T00:00:00Z", &ms), 0);
	util_format_rfc3339(ms, buf);
	assert_string_equal(buf, "0000-01-01T00:00:00.000Z");
	assert_int_equal(util_parse_rfc3339(buf, &back), 0);
	assert_int_equal(back, ms);
	util_format_local(ms, NULL, local, sizeof(local));
	assert_string_equal(local, "0000-01-01 00:00:00 UTC");
	assert_int_equal(util_parse_rfc3339("0999-12-31T23:59:59Z", &ms), 0);
	util_format_rfc3339(ms, buf);
	assert_string_equal(buf, "0999-12-31T23:59:59.000Z");
	util_format_local(ms, "UTC", local, sizeof(local));
	assert_string_equal(local, "0999-12-31 23:59:59 UTC");
}

/* Formatting then parsing gives the same instant. */
static void
test_format_roundtrip(void **state)
{
	char buf[RFC3339_MAX];
	int64_t back;

	(void)state;
	util_format_rfc3339(1795773600123, buf);
	assert_string_equal(buf, "2026-11-27T10:00:00.123Z");
	assert_int_equal(util_parse_rfc3339(buf, &back), 0);
	assert_int_equal(back, 1795773600123);
}

/* 2026-11-01 02:00 EDT falls back to 01:00 EST: both sides show right. */
static void
test_format_local_dst(void **state)
{
	char buf[64];
	int64_t before, after;

	(void)state;
	assert_int_equal(util_parse_rfc3339("2026-11-01T05:30:00Z", &before),
	    0);
	assert_int_equal(util_parse_rfc3339("2026-11-01T06:30:00Z", &after), 0);
	util_format_local(before, "America/New_York", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01 01:30:00 EDT");
	util_format_local(after, "America/New_York", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01 01:30:00 EST");
	util_format_local(after, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01 06:30:00 UTC");
}

/* Ids are 26 base32 characters, start with the time and differ. */
static void
test_contact_id(void **state)
{
	char a[CONTACT_ID_MAX + 1], b[CONTACT_ID_MAX + 1];

	(void)state;
	util_contact_id(1795773600000, a);
	util_contact_id(1795773600000, b);
	assert_int_equal(strlen(a), 26);
	assert_memory_equal(a, b, 10);
	assert_string_not_equal(a, b);
	assert_int_equal(strspn(a, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), 26);
	util_contact_id(1795773600001, b);
	assert_true(strcmp(a, b) < 0);
}

/* Principal ids: the allowed alphabet and length. */
static void
test_principal_id(void **state)
{
	char long_id[PRINCIPAL_ID_MAX + 2];

	(void)state;
	assert_true(util_valid_principal_id("dr-rivera"));
	assert_true(util_valid_principal_id("gw.sip_1@site"));
	assert_false(util_valid_principal_id(""));
	assert_false(util_valid_principal_id("a b"));
	assert_false(util_valid_principal_id("a/b"));
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[PRINCIPAL_ID_MAX] = '\0';
	assert_true(util_valid_principal_id(long_id));
	long_id[PRINCIPAL_ID_MAX] = 'x';
	long_id[PRINCIPAL_ID_MAX + 1] = '\0';
	assert_false(util_valid_principal_id(long_id));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rfc3339),
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_format_local_dst),
		cmocka_unit_test(test_format_year_zero),
		cmocka_unit_test(test_contact_id),
		cmocka_unit_test(test_principal_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
