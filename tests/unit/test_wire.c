/*
 * test_wire.c: the exact text of every message crisisd sends, as a
 * connection writes it (wire_line), for typical and edge values: optional
 * fields left out or null, empty and full arrays, text that JSON escapes,
 * UTF-8, long strings.  Clients parse these lines and stored results are
 * replayed as written, so any change of key order, escaping or presence
 * fails here first.
 *
 * Expected lines are written with ' for " to stay readable: no text in
 * them holds a real '.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "msg.h"
#include "util.h"
#include "wire.h"

/* want with every ' turned into " (caller frees). */
static char *
quoted(const char *want)
{
	char *w = xstrdup(want);

	for (char *p = w; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return w;
}

/* Text (freed here) equals want, ' standing for ". */
static void
assert_text(char *got, const char *want)
{
	char *w = quoted(want);

	assert_non_null(got);
	assert_string_equal(got, w);
	free(w);
	free(got);
}

/* Text (freed here) equals want exactly: for text that holds a real '. */
static void
assert_exact(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* A message (stolen) goes on the wire as want, ' standing for ". */
static void
assert_line(json_t *msg, const char *want)
{
	assert_non_null(msg);
	assert_text(wire_line(msg), want);
}

/* A string of n copies of c (caller frees). */
static char *
repeated(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* --- any role --- */

/* Lines are compact, without a newline, UTF-8 as it is (no \u escapes). */
static void
test_line_form(void **state)
{
	(void)state;
	assert_line(json_pack("{s:s, s:[i, i]}", "a",
	                "caf\xc3\xa9 \xf0\x9f\x98\x80", "b", 1, 2),
	    "{'a':'caf\xc3\xa9 \xf0\x9f\x98\x80','b':[1,2]}");
}

/* Error lines: type, id (when there is one), code, message, escaped. */
static void
test_error(void **state)
{
	json_t *id;

	(void)state;
	assert_text(wire_error(CODE_BAD_REQUEST, "oops", NULL),
	    "{'type':'error','code':'bad_request','message':'oops'}");
	id = json_string("a1");
	assert_text(wire_error(CODE_NOT_FOUND, "no such contact", id),
	    "{'type':'error','id':'a1','code':'not_found',"
	    "'message':'no such contact'}");
	json_decref(id);
	id = json_integer(7);
	assert_text(wire_error(CODE_CONFLICT, "taken", id),
	    "{'type':'error','id':7,'code':'conflict','message':'taken'}");
	json_decref(id);
	id = json_real(1.5);
	assert_text(wire_error(CODE_TOO_LARGE, "x", id),
	    "{'type':'error','id':1.5,'code':'too_large','message':'x'}");
	json_decref(id);
	/* The id is borrowed: the caller's reference still works. */
	id = json_string("caf\xc3\xa9");
	assert_text(wire_error(CODE_FORBIDDEN, "no", id),
	    "{'type':'error','id':'caf\xc3\xa9','code':'forbidden',"
	    "'message':'no'}");
	assert_string_equal(json_string_value(id), "caf\xc3\xa9");
	json_decref(id);
}

/* Messages with text JSON escapes, or that is not UTF-8, or none. */
static void
test_error_message_text(void **state)
{
	char *long_text = repeated('m', 1000), *want;

	(void)state;
	assert_exact(wire_error(CODE_INTERNAL, "say \"hi\"\n\t\\ / \x01", NULL),
	    "{\"type\":\"error\",\"code\":\"internal\","
	    "\"message\":\"say \\\"hi\\\"\\n\\t\\\\ / \\u0001\"}");
	assert_text(wire_error(CODE_OVERLOADED, "caf\xe9", NULL),
	    "{'type':'error','code':'overloaded','message':'caf?'}");
	assert_text(wire_error(CODE_OVERLOADED, "ok \xc3\xa9, bad \xc3", NULL),
	    "{'type':'error','code':'overloaded','message':'ok ??, bad ?'}");
	assert_text(wire_error(CODE_UNAUTHORIZED, NULL, NULL),
	    "{'type':'error','code':'unauthorized','message':''}");
	/* wire_error does not cut: session_error bounds what it formats. */
	xasprintf(&want, "{'type':'error','code':'forbidden','message':'%s'}",
	    long_text);
	assert_text(wire_error(CODE_FORBIDDEN, long_text, NULL), want);
	free(want);
	free(long_text);
}

/* Every code goes out under its contract name. */
static void
test_error_codes(void **state)
{
	static const char *const names[] = { "bad_request", "unauthorized",
		"forbidden", "not_found", "conflict", "too_large", "overloaded",
		"internal" };
	char *want;

	(void)state;
	for (size_t i = 0; i < nitems(names); i++) {
		xasprintf(&want, "{'type':'error','code':'%s','message':'m'}",
		    names[i]);
		assert_text(wire_error((enum msg_code)i, "m", NULL), want);
		free(want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_form),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_error_message_text),
		cmocka_unit_test(test_error_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
