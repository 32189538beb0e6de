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
#include "version.h"
#include "wire.h"

/* 2026-12-03T07:20:00.123Z */
#define AT_MS INT64_C(1796282400123)

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

static void
test_welcome(void **state)
{
	(void)state;
	assert_line(wire_welcome(ROLE_INTAKE, "gw-1"),
	    "{'type':'welcome','role':'intake','principal':'gw-1',"
	    "'server':'crisisd/" CRISISD_VERSION "'}");
	assert_line(wire_welcome(ROLE_CLINICIAN, "c1"),
	    "{'type':'welcome','role':'clinician','principal':'c1',"
	    "'server':'crisisd/" CRISISD_VERSION "'}");
	assert_line(wire_welcome(ROLE_SUPERVISOR, "sup@example.org"),
	    "{'type':'welcome','role':'supervisor',"
	    "'principal':'sup@example.org','server':'crisisd/" CRISISD_VERSION
	    "'}");
}

static void
test_pong_ok(void **state)
{
	(void)state;
	assert_line(wire_pong(), "{'type':'pong'}");
	assert_line(wire_ok(), "{'type':'ok'}");
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

/* --- intake --- */

static void
test_queued(void **state)
{
	char *ref = repeated('r', MSG_STRING_MAX_BYTES), *want;

	(void)state;
	assert_line(wire_queued("call-1", "01JD5X"),
	    "{'type':'queued','ref':'call-1','contact':'01JD5X'}");
	/* A SIP Call-ID may hold anything printable; only " and \ escape. */
	assert_exact(wire_line(wire_queued("a\"b\\c/d@h\xc3\xa9", "01JD5X")),
	    "{\"type\":\"queued\",\"ref\":\"a\\\"b\\\\c/d@h\xc3\xa9\","
	    "\"contact\":\"01JD5X\"}");
	xasprintf(&want, "{'type':'queued','ref':'%s','contact':'01JD5X'}",
	    ref);
	assert_line(wire_queued(ref, "01JD5X"), want);
	free(want);
	free(ref);
}

static void
test_routed(void **state)
{
	(void)state;
	assert_line(wire_routed("01JD5X", "call-1", "c1", "sip:c1@pbx"),
	    "{'type':'routed','contact':'01JD5X','ref':'call-1',"
	    "'clinician':'c1','endpoint':'sip:c1@pbx'}");
	/* A clinician with no endpoint in the roster: null, not left out. */
	assert_line(wire_routed("01JD5X", "call-1", "c1", NULL),
	    "{'type':'routed','contact':'01JD5X','ref':'call-1',"
	    "'clinician':'c1','endpoint':null}");
}

static void
test_overflow(void **state)
{
	(void)state;
	assert_line(wire_overflow("01JD5X", "call-\xe2\x98\xba", "tel:988"),
	    "{'type':'overflow','contact':'01JD5X','ref':'call-\xe2\x98\xba',"
	    "'target':'tel:988'}");
}

/* --- clinician --- */

static const char *const full_needs[] = { "lgbtq", "espa\xc3\xb1ol" };

/* A contact with every field the gateway may send. */
static const struct wire_contact full_contact = {
	.id = "01JD5X",
	.ref = "call-1",
	.risk = RISK_IMMINENT,
	.channel = CHANNEL_CHAT,
	.caller = "+1 555 0100",
	.patient = "p-7",
	.program = "vets",
	.language = "es",
	.needs = full_needs,
	.nneeds = 2,
};

/* A contact with only what the gateway must send. */
static const struct wire_contact bare_contact = {
	.id = "01JD5Y",
	.ref = "call-2",
	.risk = RISK_UNKNOWN,
	.channel = CHANNEL_VOICE,
};

/* The offer's fields come before its type; the caller is never in it. */
static void
test_offer(void **state)
{
	(void)state;
	assert_line(wire_offer(&full_contact, 2, 30000, false),
	    "{'contact':'01JD5X','tier':2,'risk':'imminent','channel':'chat',"
	    "'program':'vets','language':'es',"
	    "'needs':['lgbtq','espa\xc3\xb1ol'],'patient':'p-7',"
	    "'type':'offer','expires_in_ms':30000}");
	assert_line(wire_offer(&bare_contact, 1, 1, false),
	    "{'contact':'01JD5Y','tier':1,'risk':'unknown','channel':'voice',"
	    "'program':null,'language':null,'needs':[],'patient':null,"
	    "'type':'offer','expires_in_ms':1}");
}

/* continuity only when true; a deadline already past is 0, not negative. */
static void
test_offer_edges(void **state)
{
	(void)state;
	assert_line(wire_offer(&bare_contact, 1, 400, true),
	    "{'contact':'01JD5Y','tier':1,'risk':'unknown','channel':'voice',"
	    "'program':null,'language':null,'needs':[],'patient':null,"
	    "'type':'offer','expires_in_ms':400,'continuity':true}");
	assert_line(wire_offer(&bare_contact, 3, 0, false),
	    "{'contact':'01JD5Y','tier':3,'risk':'unknown','channel':'voice',"
	    "'program':null,'language':null,'needs':[],'patient':null,"
	    "'type':'offer','expires_in_ms':0}");
	assert_line(wire_offer(&bare_contact, 3, -250, false),
	    "{'contact':'01JD5Y','tier':3,'risk':'unknown','channel':'voice',"
	    "'program':null,'language':null,'needs':[],'patient':null,"
	    "'type':'offer','expires_in_ms':0}");
}

/* The offer's fields, then ref and the caller (null when unknown). */
static void
test_assigned(void **state)
{
	(void)state;
	assert_line(wire_assigned(&full_contact, 2),
	    "{'contact':'01JD5X','tier':2,'risk':'imminent','channel':'chat',"
	    "'program':'vets','language':'es',"
	    "'needs':['lgbtq','espa\xc3\xb1ol'],'patient':'p-7',"
	    "'type':'assigned','ref':'call-1','caller':'+1 555 0100'}");
	assert_line(wire_assigned(&bare_contact, 1),
	    "{'contact':'01JD5Y','tier':1,'risk':'unknown','channel':'voice',"
	    "'program':null,'language':null,'needs':[],'patient':null,"
	    "'type':'assigned','ref':'call-2','caller':null}");
}

/* Every risk and channel name, through the offer. */
static void
test_offer_names(void **state)
{
	static const char *const risks[] = { "imminent", "high", "moderate",
		"low", "unknown" };
	static const char *const channels[] = { "voice", "text", "chat" };
	struct wire_contact ct = bare_contact;
	char *want;

	(void)state;
	for (size_t r = 0; r < nitems(risks); r++) {
		for (size_t c = 0; c < nitems(channels); c++) {
			ct.risk = (enum risk)r;
			ct.channel = (enum channel)c;
			xasprintf(&want,
			    "{'contact':'01JD5Y','tier':1,'risk':'%s',"
			    "'channel':'%s','program':null,'language':null,"
			    "'needs':[],'patient':null,'type':'offer',"
			    "'expires_in_ms':5}",
			    risks[r], channels[c]);
			assert_line(wire_offer(&ct, 1, 5, false), want);
			free(want);
		}
	}
}

/* Every reason, and the line is what jansson would have written. */
static void
test_withdrawn(void **state)
{
	static const char *const reasons[] = { "taken", "busy", "abandoned",
		"expired", "overflow" };
	char line[WIRE_WITHDRAWN_MAX], id[CONTACT_ID_MAX + 1], *want;

	(void)state;
	wire_withdrawn(line, "01JD5X", "taken");
	assert_string_equal(line,
	    "{\"type\":\"withdrawn\",\"contact\":\"01JD5X\","
	    "\"reason\":\"taken\"}");
	util_contact_id(AT_MS, id);
	for (size_t i = 0; i < nitems(reasons); i++) {
		wire_withdrawn(line, id, reasons[i]);
		want = wire_line(json_pack("{s:s, s:s, s:s}", "type",
		    "withdrawn", "contact", id, "reason", reasons[i]));
		assert_string_equal(line, want);
		free(want);
	}
}

/* The longest id with the longest reason fits whole. */
static void
test_withdrawn_longest(void **state)
{
	char line[WIRE_WITHDRAWN_MAX], *id = repeated('Z', CONTACT_ID_MAX);
	char *want;

	(void)state;
	wire_withdrawn(line, id, "abandoned");
	xasprintf(&want,
	    "{\"type\":\"withdrawn\",\"contact\":\"%s\","
	    "\"reason\":\"abandoned\"}",
	    id);
	assert_string_equal(line, want);
	assert_int_equal(strlen(line) + 1, WIRE_WITHDRAWN_MAX);
	free(want);
	free(id);
}

static void
test_status_away(void **state)
{
	(void)state;
	assert_line(wire_status_away("missed_offers"),
	    "{'type':'status','status':'away','reason':'missed_offers'}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_form),
		cmocka_unit_test(test_welcome),
		cmocka_unit_test(test_pong_ok),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_error_message_text),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_queued),
		cmocka_unit_test(test_routed),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_offer_edges),
		cmocka_unit_test(test_assigned),
		cmocka_unit_test(test_offer_names),
		cmocka_unit_test(test_withdrawn),
		cmocka_unit_test(test_withdrawn_longest),
		cmocka_unit_test(test_status_away),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
