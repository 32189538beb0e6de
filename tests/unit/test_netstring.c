/*
 * test_netstring.c: the evapi framing (sipgw/netstring.c), table-driven:
 * whole frames, frames split anywhere, several in one buffer, and every
 * way a hostile peer can break them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netstring.h"

#define MAX 100

static const struct {
	const char *in;
	enum netstring_result want;
	const char *payload; /* on NETSTRING_FRAME */
} cases[] = {
	{ "5:hello,", NETSTRING_FRAME, "hello" },
	{ "0:,", NETSTRING_FRAME, "" },
	{ "5:hello,3:abc,", NETSTRING_FRAME, "hello" },
	{ "11:{\"a\":\"b,c\"},", NETSTRING_FRAME, "{\"a\":\"b,c\"}" },
	{ "100:", NETSTRING_MORE, NULL },
	{ "", NETSTRING_MORE, NULL },
	{ "5", NETSTRING_MORE, NULL },
	{ "5:hel", NETSTRING_MORE, NULL },
	{ "5:hello", NETSTRING_MORE, NULL },
	{ "101:", NETSTRING_BAD, NULL },
	{ "1000", NETSTRING_BAD, NULL },
	{ "99999999999999999999999:", NETSTRING_BAD, NULL },
	{ "05:hello,", NETSTRING_BAD, NULL },
	{ "00:,", NETSTRING_BAD, NULL },
	{ "-5:hello,", NETSTRING_BAD, NULL },
	{ "+5:hello,", NETSTRING_BAD, NULL },
	{ " 5:hello,", NETSTRING_BAD, NULL },
	{ "5 :hello,", NETSTRING_BAD, NULL },
	{ ":hello,", NETSTRING_BAD, NULL },
	{ "5:hello;", NETSTRING_BAD, NULL },
	{ "4:hello,", NETSTRING_BAD, NULL },
	{ "x", NETSTRING_BAD, NULL },
};

/* Each case gives its result, and a frame's payload and length. */
static void
test_table(void **state)
{
	struct netstring_frame f;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		why = NULL;
		memset(&f, 0, sizeof f);
		enum netstring_result r = netstring_parse(cases[i].in,
		    strlen(cases[i].in), MAX, &f, &why);
		if (r != cases[i].want)
			fail_msg("case %zu \"%s\": got %d, want %d", i,
			    cases[i].in, r, cases[i].want);
		if (r == NETSTRING_BAD)
			assert_non_null(why);
		if (r == NETSTRING_FRAME) {
			assert_int_equal(f.payload_len,
			    strlen(cases[i].payload));
			assert_memory_equal(cases[i].in + f.payload_off,
			    cases[i].payload, f.payload_len);
			assert_int_equal(f.frame_len,
			    f.payload_off + f.payload_len + 1);
		}
	}
}

/* Every prefix of a valid frame needs more; the whole is one frame. */
static void
test_split_anywhere(void **state)
{
	const char *in = "11:{\"event\":1},";
	struct netstring_frame f;
	const char *why;
	size_t n;

	(void)state;
	for (n = 0; n < strlen(in); n++)
		assert_int_equal(netstring_parse(in, n, MAX, &f, &why),
		    NETSTRING_MORE);
	assert_int_equal(netstring_parse(in, strlen(in), MAX, &f, &why),
	    NETSTRING_FRAME);
	assert_int_equal(f.frame_len, strlen(in));
}

/* Frames back to back are taken one after another. */
static void
test_consecutive(void **state)
{
	const char *in = "1:a,2:bc,3:def,";
	const char *want[] = { "a", "bc", "def" };
	struct netstring_frame f;
	const char *why, *p = in;
	size_t left = strlen(in), i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(netstring_parse(p, left, MAX, &f, &why),
		    NETSTRING_FRAME);
		assert_int_equal(f.payload_len, strlen(want[i]));
		assert_memory_equal(p + f.payload_off, want[i], f.payload_len);
		p += f.frame_len;
		left -= f.frame_len;
	}
	assert_int_equal(left, 0);
}

/* The bound is exact: MAX is a frame, MAX + 1 is refused at its length. */
static void
test_bound(void **state)
{
	char buf[MAX + 16];
	struct netstring_frame f;
	const char *why;
	size_t n;

	(void)state;
	n = netstring_header(MAX, buf);
	memset(buf + n, 'x', MAX);
	buf[n + MAX] = ',';
	assert_int_equal(netstring_parse(buf, n + MAX + 1, MAX, &f, &why),
	    NETSTRING_FRAME);
	assert_int_equal(netstring_parse("101:", 4, MAX, &f, &why),
	    NETSTRING_BAD);
}

/* A NUL in the payload is payload, not an end. */
static void
test_binary_payload(void **state)
{
	const char in[] = { '3', ':', 'a', '\0', 'b', ',' };
	struct netstring_frame f;
	const char *why;

	(void)state;
	assert_int_equal(netstring_parse(in, sizeof in, MAX, &f, &why),
	    NETSTRING_FRAME);
	assert_int_equal(f.payload_len, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_split_anywhere),
		cmocka_unit_test(test_consecutive),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_binary_payload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
