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

/* --- supervisor --- */

/* tier, clinician and detail come in that order, each only when set. */
static void
test_event(void **state)
{
	(void)state;
	assert_line(wire_event("01JD5X", "offered", AT_MS, 2, "c1",
	                json_pack("{s:b}", "continuity", 1)),
	    "{'type':'event','contact':'01JD5X','event':'offered',"
	    "'at':'2026-12-03T07:20:00.123Z','tier':2,'clinician':'c1',"
	    "'detail':{'continuity':true}}");
	assert_line(wire_event("01JD5X", "abandoned", AT_MS, 0, NULL, NULL),
	    "{'type':'event','contact':'01JD5X','event':'abandoned',"
	    "'at':'2026-12-03T07:20:00.123Z'}");
	assert_line(wire_event("01JD5X", "escalated", AT_MS, 3, NULL, NULL),
	    "{'type':'event','contact':'01JD5X','event':'escalated',"
	    "'at':'2026-12-03T07:20:00.123Z','tier':3}");
	assert_line(wire_event("01JD5X", "completed", AT_MS, 0, "c1",
	                json_pack("{s:s}", "disposition", "resolved")),
	    "{'type':'event','contact':'01JD5X','event':'completed',"
	    "'at':'2026-12-03T07:20:00.123Z','clinician':'c1',"
	    "'detail':{'disposition':'resolved'}}");
	assert_line(wire_event("01JD5X", "queued", AT_MS, 0, NULL,
	                json_pack("{s:s, s:i}", "risk", "high", "policy", 4)),
	    "{'type':'event','contact':'01JD5X','event':'queued',"
	    "'at':'2026-12-03T07:20:00.123Z',"
	    "'detail':{'risk':'high','policy':4}}");
}

/* Times keep their milliseconds, even .000, in UTC. */
static void
test_event_times(void **state)
{
	(void)state;
	assert_line(wire_event("x", "waiting", 0, 0, NULL, NULL),
	    "{'type':'event','contact':'x','event':'waiting',"
	    "'at':'1970-01-01T00:00:00.000Z'}");
	assert_line(wire_event("x", "waiting", AT_MS - 124, 0, NULL, NULL),
	    "{'type':'event','contact':'x','event':'waiting',"
	    "'at':'2026-12-03T07:19:59.999Z'}");
}

/* A gap is an event about no contact: null, not left out. */
static void
test_roster_gap(void **state)
{
	(void)state;
	assert_line(wire_roster_gap(AT_MS, 1, INT64_C(1796286000000),
	                INT64_C(1796292000000), true),
	    "{'type':'event','contact':null,'event':'roster_gap',"
	    "'at':'2026-12-03T07:20:00.123Z','tier':1,"
	    "'detail':{'from':'2026-12-03T08:20:00.000Z',"
	    "'to':'2026-12-03T10:00:00.000Z'}}");
	assert_line(wire_roster_gap(AT_MS, 1, INT64_C(1796286000000), 0, false),
	    "{'type':'event','contact':null,'event':'roster_gap',"
	    "'at':'2026-12-03T07:20:00.123Z','tier':1,"
	    "'detail':{'from':'2026-12-03T08:20:00.000Z','to':null}}");
}

/* The id, when there is one, goes right after the type. */
static void
test_snapshot_head(void **state)
{
	json_t *id;

	(void)state;
	assert_text(wire_snapshot_head(NULL),
	    "{'type':'snapshot','contacts':[");
	id = json_string("sup-1");
	assert_text(wire_snapshot_head(id),
	    "{'type':'snapshot','id':'sup-1','contacts':[");
	assert_int_equal(id->refcount, 1);
	json_decref(id);
	id = json_integer(42);
	assert_text(wire_snapshot_head(id),
	    "{'type':'snapshot','id':42,'contacts':[");
	json_decref(id);
	id = json_string("q\"\xc3\xa9");
	assert_exact(wire_snapshot_head(id),
	    "{\"type\":\"snapshot\",\"id\":\"q\\\"\xc3\xa9\",\"contacts\":[");
	json_decref(id);
}

/* Offers listed keep a negative time left: the snapshot shows lateness. */
static void
test_snapshot_offer(void **state)
{
	(void)state;
	assert_line(wire_snapshot_offer("c1", 2, 1500),
	    "{'clinician':'c1','tier':2,'expires_in_ms':1500}");
	assert_line(wire_snapshot_offer("c1", 1, -20),
	    "{'clinician':'c1','tier':1,'expires_in_ms':-20}");
}

static void
test_snapshot_contact(void **state)
{
	json_t *offers = json_array();
	struct wire_snapshot_contact ringing = {
		.id = "01JD5X",
		.ref = "r\xc3\xa9"
		       "f \"1\"",
		.risk = RISK_HIGH,
		.channel = CHANNEL_TEXT,
		.state = "open",
		.stage = "tier",
		.queued_at = AT_MS,
		.waited_ms = 2500,
		.offers = offers,
		.tier = 2,
		.program = "vets",
	};
	struct wire_snapshot_contact assigned = {
		.id = "01JD5Y",
		.ref = "r2",
		.risk = RISK_LOW,
		.channel = CHANNEL_VOICE,
		.state = "assigned",
		.stage = "done",
		.queued_at = AT_MS,
		.waited_ms = 0,
		.offers = json_array(),
		.clinician = "c2",
	};

	(void)state;
	json_array_append_new(offers, wire_snapshot_offer("c1", 2, 900));
	json_array_append_new(offers, wire_snapshot_offer("c3", 2, 900));
	assert_exact(wire_line(wire_snapshot_contact(&ringing)),
	    "{\"contact\":\"01JD5X\",\"ref\":\"r\xc3\xa9"
	    "f \\\"1\\\"\","
	    "\"risk\":\"high\",\"channel\":\"text\",\"state\":\"open\","
	    "\"queued_at\":\"2026-12-03T07:20:00.123Z\",\"waited_ms\":2500,"
	    "\"offers\":[{\"clinician\":\"c1\",\"tier\":2,"
	    "\"expires_in_ms\":900},{\"clinician\":\"c3\",\"tier\":2,"
	    "\"expires_in_ms\":900}],\"stage\":\"tier\",\"tier\":2,"
	    "\"program\":\"vets\"}");
	assert_line(wire_snapshot_contact(&assigned),
	    "{'contact':'01JD5Y','ref':'r2','risk':'low','channel':'voice',"
	    "'state':'assigned','queued_at':'2026-12-03T07:20:00.123Z',"
	    "'waited_ms':0,'offers':[],'stage':'done','clinician':'c2'}");
}

/* Tiers from the mask, lowest first; name and contact only when known. */
static void
test_snapshot_clinician(void **state)
{
	uint32_t tiers =
	    (UINT32_C(1) << 1) | (UINT32_C(1) << 3) | (UINT32_C(1) << 31);

	(void)state;
	assert_line(wire_snapshot_clinician("c1", "busy", tiers, 0,
	                "Ann \xc3\xa9 \xf0\x9f\x98\x80", "01JD5X"),
	    "{'clinician':'c1','status':'busy','tiers':[1,3,31],'offers':0,"
	    "'name':'Ann \xc3\xa9 \xf0\x9f\x98\x80','contact':'01JD5X'}");
	assert_line(wire_snapshot_clinician("c2", "available", 0, 3, NULL,
	                NULL),
	    "{'clinician':'c2','status':'available','tiers':[],'offers':3}");
	/* Bit 0 names no tier. */
	assert_line(wire_snapshot_clinician("c3", "away", UINT32_C(1), 0, NULL,
	                NULL),
	    "{'clinician':'c3','status':'away','tiers':[],'offers':0}");
}

static void
test_snapshot_tail(void **state)
{
	json_t *clinicians = json_array(), *followups = json_array();

	(void)state;
	json_array_append_new(clinicians,
	    wire_snapshot_clinician("c1", "available", UINT32_C(1) << 1, 1,
	        NULL, NULL));
	json_array_append_new(followups,
	    json_pack("{s:i, s:s}", "id", 9, "contact", "01JD5X"));
	assert_text(wire_snapshot_tail(clinicians, 250, followups),
	    "],'clinicians':[{'clinician':'c1','status':'available',"
	    "'tiers':[1],'offers':1}],'followups_open':250,"
	    "'followups':[{'id':9,'contact':'01JD5X'}]}");
	assert_text(wire_snapshot_tail(json_array(), 0, json_array()),
	    "],'clinicians':[],'followups_open':0,'followups':[]}");
}

/*
 * Head, contacts joined by ',', tail: one JSON object, as
 * engine_snapshot.c joins them.
 */
static void
test_snapshot_whole(void **state)
{
	struct wire_snapshot_contact ct = {
		.id = "01JD5X",
		.ref = "r1",
		.risk = RISK_MODERATE,
		.channel = CHANNEL_CHAT,
		.state = "open",
		.stage = "waiting",
		.queued_at = AT_MS,
		.waited_ms = 10,
	};
	json_t *id = json_string("s-1"), *o;
	char *head = wire_snapshot_head(id), *first, *second, *tail, *line;

	(void)state;
	ct.offers = json_array();
	first = wire_line(wire_snapshot_contact(&ct));
	ct.id = "01JD5Y";
	ct.offers = json_array();
	second = wire_line(wire_snapshot_contact(&ct));
	tail = wire_snapshot_tail(json_array(), 0, json_array());
	xasprintf(&line, "%s%s,%s%s", head, first, second, tail);
	o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	    "snapshot");
	assert_true(json_equal(json_object_get(o, "id"), id));
	assert_int_equal(json_array_size(json_object_get(o, "contacts")), 2);
	json_decref(o);
	json_decref(id);
	free(head);
	free(first);
	free(second);
	free(tail);
	free(line);
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
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_event_times),
		cmocka_unit_test(test_roster_gap),
		cmocka_unit_test(test_snapshot_head),
		cmocka_unit_test(test_snapshot_offer),
		cmocka_unit_test(test_snapshot_contact),
		cmocka_unit_test(test_snapshot_clinician),
		cmocka_unit_test(test_snapshot_tail),
		cmocka_unit_test(test_snapshot_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
