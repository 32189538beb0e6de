/*
 * test_msg.c: msg_decode against a table of wire lines, the limits of
 * msg.h at and just over each bound, id echo, the error reply a refused
 * line gets (test_wire.c has every error line) and name tables.
 *
 * Lines in the tables are written with ' for " so they stay readable;
 * msg_test_line() turns them into real JSON before decoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"
#include "util.h"
#include "wire.h"

#define TEST_LINE_MAX_BYTES 32768

struct decode_case {
	const char *line; /* ' stands for " */
	int result; /* 0 or -1 */
	const char *message; /* substring of the error message on -1 */
};

#define OK(line)                                                               \
	{                                                                      \
		line, 0, NULL                                                  \
	}
#define BAD(line, message)                                                     \
	{                                                                      \
		line, -1, message                                              \
	}

static const struct decode_case decode_cases[] = {
	/* Every message type in its good form. */
	OK("{'type':'hello','role':'intake','principal':'gw-1','token':'t'}"),
	OK("{'type':'hello','role':'clinician','principal':'dr.a@x',"
	   "'token':'t'}"),
	OK("{'type':'hello','role':'supervisor','principal':'sup_1',"
	   "'token':'t'}"),
	OK("{'type':'ping'}"),
	OK("{'type':'contact','ref':'r1','channel':'voice','risk':'high'}"),
	OK("{'type':'contact','ref':'r1','channel':'text','risk':'low',"
	   "'caller':'+15551234','patient':'p-1','program':'adult',"
	   "'language':'es','needs':['mat','family']}"),
	OK("{'type':'abandon','contact':'01JD3ZK6Q8X9V2M4N5P7R8S9T0'}"),
	OK("{'type':'status','status':'available'}"),
	OK("{'type':'status','status':'away'}"),
	OK("{'type':'accept','contact':'c1'}"),
	OK("{'type':'decline','contact':'c1'}"),
	OK("{'type':'decline','contact':'c1','reason':'on another call'}"),
	OK("{'type':'ended','contact':'c1'}"),
	OK("{'type':'failed','contact':'c1','reason':'486 Busy Here'}"),
	OK("{'type':'complete','contact':'c1','disposition':'resolved'}"),
	OK("{'type':'complete','contact':'c1','disposition':'referred',"
	   "'notes':'gave the number of the clinic'}"),
	OK("{'type':'complete','contact':'c1',"
	   "'disposition':'emergency_dispatched','disclosure':{"
	   "'recipient':'911 PSAP','affiliation':'County EMS',"
	   "'nature':'location and risk'}}"),
	OK("{'type':'watch'}"),
	OK("{'type':'snapshot'}"),
	OK("  {'type':'ping'}  "),

	/* Forward compatibility and absent optional fields. */
	OK("{'type':'ping','future':{'a':[1,2]},'v':2}"),
	OK("{'type':'contact','ref':'r','channel':'chat','risk':'low',"
	   "'caller':null,'patient':null,'needs':null}"),
	OK("{'type':'contact','ref':'r','channel':'chat','risk':'low',"
	   "'caller':'','language':''}"),
	OK("{'type':'contact','ref':'r','channel':'chat','risk':'low',"
	   "'needs':[]}"),
	OK("{'type':'complete','contact':'c1','disposition':'other',"
	   "'notes':'','disclosure':null}"),

	/* Every enum value. */
	OK("{'type':'contact','ref':'r','channel':'voice','risk':'imminent'}"),
	OK("{'type':'contact','ref':'r','channel':'voice','risk':'high'}"),
	OK("{'type':'contact','ref':'r','channel':'voice','risk':'moderate'}"),
	OK("{'type':'contact','ref':'r','channel':'voice','risk':'low'}"),
	OK("{'type':'contact','ref':'r','channel':'voice','risk':'unknown'}"),
	OK("{'type':'contact','ref':'r','channel':'text','risk':'low'}"),
	OK("{'type':'contact','ref':'r','channel':'chat','risk':'low'}"),
	OK("{'type':'complete','contact':'c','disposition':'resolved'}"),
	OK("{'type':'complete','contact':'c','disposition':'safety_plan'}"),
	OK("{'type':'complete','contact':'c','disposition':'referred'}"),
	OK("{'type':'complete','contact':'c','disposition':'follow_up'}"),
	OK("{'type':'complete','contact':'c','disposition':'other'}"),

	/* Not JSON, not an object. */
	BAD("", "empty line"),
	BAD("{", "invalid JSON"),
	BAD("not json", "invalid JSON"),
	BAD("{'type':'ping'} x", "invalid JSON"),
	BAD("{'type':'ping'}{'type':'ping'}", "invalid JSON"),
	BAD("{'type':'ping',}", "invalid JSON"),
	BAD("{'type':'p\xff'}", "invalid JSON"),
	BAD("{'type':'ping','x':12345678901234567890123}", "invalid JSON"),
	BAD("[1,2]", "must be a JSON object"),
	BAD("'hello'", "must be a JSON object"),
	BAD("42", "must be a JSON object"),
	BAD("null", "must be a JSON object"),
	BAD("{'type':'ping','a':1,'a':2}", "duplicate key"),
	BAD("{'type':'ping','type':'ping'}", "duplicate key"),
	BAD("{'type':'ping','x':'a\\u0000b'}", "NUL"),
	BAD("{'type':'ping','a\\u0000':1}", "NUL"),

	/* type */
	BAD("{}", "field 'type' is required"),
	BAD("{'type':null}", "field 'type' is required"),
	BAD("{'type':1}", "field 'type' must be a string"),
	BAD("{'type':['ping']}", "field 'type' must be a string"),
	BAD("{'type':'bogus'}", "unknown message type 'bogus'"),
	BAD("{'type':''}", "unknown message type ''"),
	BAD("{'type':'PING'}", "unknown message type 'PING'"),
	BAD("{'type':'error'}", "unknown message type 'error'"),
	BAD("{'type':'x\\ny'}", "unknown message type 'x?y'"),

	/* id: a string or a number, nothing else. */
	OK("{'type':'ping','id':'a-1'}"),
	OK("{'type':'ping','id':7}"),
	OK("{'type':'ping','id':-2.5}"),
	BAD("{'type':'ping','id':null}",
	    "field 'id' must be a string or a number"),
	BAD("{'type':'ping','id':true}",
	    "field 'id' must be a string or a number"),
	BAD("{'type':'ping','id':{}}",
	    "field 'id' must be a string or a number"),
	BAD("{'type':'ping','id':[1]}",
	    "field 'id' must be a string or a number"),

	/* hello */
	BAD("{'type':'hello','principal':'a','token':'t'}",
	    "field 'role' is required"),
	BAD("{'type':'hello','role':'admin','principal':'a','token':'t'}",
	    "field 'role' must be one of intake, clinician, supervisor"),
	BAD("{'type':'hello','role':'none','principal':'a','token':'t'}",
	    "field 'role' must be one of intake, clinician, supervisor"),
	BAD("{'type':'hello','role':2,'principal':'a','token':'t'}",
	    "field 'role' must be one of"),
	BAD("{'type':'hello','role':'intake','token':'t'}",
	    "field 'principal' is required"),
	BAD("{'type':'hello','role':'intake','principal':5,'token':'t'}",
	    "field 'principal' must be a string"),
	BAD("{'type':'hello','role':'intake','principal':'','token':'t'}",
	    "field 'principal' must not be empty"),
	BAD("{'type':'hello','role':'intake','principal':'a b','token':'t'}",
	    "field 'principal' may hold only"),
	BAD("{'type':'hello','role':'intake','principal':'a/b','token':'t'}",
	    "field 'principal' may hold only"),
	BAD("{'type':'hello','role':'intake','principal':'a'}",
	    "field 'token' is required"),
	BAD("{'type':'hello','role':'intake','principal':'a','token':''}",
	    "field 'token' must not be empty"),
	BAD("{'type':'hello','role':'intake','principal':'a','token':9}",
	    "field 'token' must be a string"),

	/* contact */
	BAD("{'type':'contact','channel':'voice','risk':'low'}",
	    "field 'ref' is required"),
	BAD("{'type':'contact','ref':1,'channel':'voice','risk':'low'}",
	    "field 'ref' must be a string"),
	BAD("{'type':'contact','ref':'','channel':'voice','risk':'low'}",
	    "field 'ref' must not be empty"),
	BAD("{'type':'contact','ref':'r','risk':'low'}",
	    "field 'channel' is required"),
	BAD("{'type':'contact','ref':'r','channel':'fax','risk':'low'}",
	    "field 'channel' must be one of voice, text, chat"),
	BAD("{'type':'contact','ref':'r','channel':'Voice','risk':'low'}",
	    "field 'channel' must be one of voice, text, chat"),
	BAD("{'type':'contact','ref':'r','channel':'voice'}",
	    "field 'risk' is required"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'severe'}",
	    "field 'risk' must be one of imminent, high, moderate, low, "
	    "unknown"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':3}",
	    "field 'risk' must be one of"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'caller':5}",
	    "field 'caller' must be a string"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'patient':[]}",
	    "field 'patient' must be a string"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'program':{}}",
	    "field 'program' must be a string"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'language':true}",
	    "field 'language' must be a string"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'needs':'mat'}",
	    "field 'needs' must be an array of strings"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'needs':{'mat':true}}",
	    "field 'needs' must be an array"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'needs':[1]}",
	    "field 'needs[0]' must be a string"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'needs':['mat',null]}",
	    "field 'needs[1]' must be a string"),
	BAD("{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	    "'needs':['mat','']}",
	    "field 'needs[1]' must not be empty"),

	/* abandon, accept, decline: contact ids */
	BAD("{'type':'abandon'}", "field 'contact' is required"),
	BAD("{'type':'accept','contact':null}", "field 'contact' is required"),
	BAD("{'type':'accept','contact':12}",
	    "field 'contact' must be a string"),
	BAD("{'type':'accept','contact':''}",
	    "field 'contact' must not be empty"),
	BAD("{'type':'accept','contact':'a b'}",
	    "field 'contact' must be printable ASCII without spaces"),
	BAD("{'type':'accept','contact':'a\\tb'}",
	    "field 'contact' must be printable ASCII without spaces"),
	BAD("{'type':'accept','contact':'caf\\u00e9'}",
	    "field 'contact' must be printable ASCII without spaces"),
	BAD("{'type':'decline'}", "field 'contact' is required"),
	BAD("{'type':'decline','contact':'c','reason':3}",
	    "field 'reason' must be a string"),
	BAD("{'type':'ended'}", "field 'contact' is required"),
	BAD("{'type':'failed','contact':'c'}", "field 'reason' is required"),
	BAD("{'type':'failed','reason':'480'}", "field 'contact' is required"),
	BAD("{'type':'failed','contact':'c','reason':480}",
	    "field 'reason' must be a string"),

	/* status */
	BAD("{'type':'status'}", "field 'status' is required"),
	BAD("{'type':'status','status':'busy'}",
	    "field 'status' must be one of available, away"),
	BAD("{'type':'status','status':true}",
	    "field 'status' must be one of available, away"),

	/* complete and the disclosure rule */
	BAD("{'type':'complete','disposition':'resolved'}",
	    "field 'contact' is required"),
	BAD("{'type':'complete','contact':'c'}",
	    "field 'disposition' is required"),
	BAD("{'type':'complete','contact':'c','disposition':'done'}",
	    "field 'disposition' must be one of resolved, safety_plan, "
	    "referred, emergency_dispatched, follow_up, other"),
	BAD("{'type':'complete','contact':'c','disposition':'resolved',"
	    "'notes':5}",
	    "field 'notes' must be a string"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched'}",
	    "disposition 'emergency_dispatched' requires field 'disclosure'"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':null}",
	    "requires field 'disclosure'"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':'911'}",
	    "field 'disclosure' must be an object"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':{"
	    "'affiliation':'a','nature':'n'}}",
	    "field 'disclosure.recipient' is required"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':{"
	    "'recipient':'r','nature':'n'}}",
	    "field 'disclosure.affiliation' is required"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':{"
	    "'recipient':'r','affiliation':'a'}}",
	    "field 'disclosure.nature' is required"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':{"
	    "'recipient':'','affiliation':'a','nature':'n'}}",
	    "field 'disclosure.recipient' must not be empty"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':{"
	    "'recipient':'r','affiliation':'a','nature':5}}",
	    "field 'disclosure.nature' must be a string"),
	BAD("{'type':'complete','contact':'c',"
	    "'disposition':'emergency_dispatched','disclosure':{"
	    "'recipient':'r','affiliation':null,'nature':'n'}}",
	    "field 'disclosure.affiliation' is required"),
	OK("{'type':'complete','contact':'c','disposition':'safety_plan',"
	   "'disclosure':{'recipient':'r','affiliation':'a','nature':'n'}}"),
	BAD("{'type':'complete','contact':'c','disposition':'resolved',"
	    "'disclosure':{'recipient':'r','affiliation':'','nature':'n'}}",
	    "field 'disclosure.affiliation' must not be empty"),
	BAD("{'type':'complete','contact':'c','disposition':'resolved',"
	    "'disclosure':['r','a','n']}",
	    "field 'disclosure' must be an object"),
};

/* Turn a table line (' for ") into JSON in buf. */
static size_t
msg_test_line(const char *in, char *buf, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size; i++)
		buf[i] = in[i] == '\'' ? '"' : in[i];
	buf[i] = '\0';
	return i;
}

/* Decode line (real JSON, len bytes) and check the result against want. */
static void
check_decode(const char *line, size_t len, int result, const char *message,
    const char *what)
{
	struct msg m;
	struct msg_error err;
	int rc;

	rc = msg_decode(line, len, &m, &err);
	if (rc != result)
		fail_msg("%s: got %d (%s), want %d", what, rc, err.message,
		    result);
	if (rc == -1 && err.code != CODE_BAD_REQUEST)
		fail_msg("%s: code %s, want bad_request", what,
		    msg_code_name(err.code));
	if (rc == -1 && strstr(err.message, message) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", what, err.message,
		    message);
	msg_clear(&m);
}

/* Every row of decode_cases. */
static void
test_decode_table(void **state)
{
	char buf[1024], what[1100];
	size_t i, len;

	(void)state;
	for (i = 0; i < nitems(decode_cases); i++) {
		len = msg_test_line(decode_cases[i].line, buf, sizeof(buf));
		snprintf(what, sizeof(what), "row %zu %s", i, buf);
		check_decode(buf, len, decode_cases[i].result,
		    decode_cases[i].message, what);
	}
}

struct limit_case {
	const char *fmt; /* ' for ", and one %s for the filler */
	size_t bytes; /* the limit under test */
	const char *name; /* the field named in the error */
};

/* Each string limit of msg.h, checked at the limit and one byte over. */
static const struct limit_case limit_cases[] = {
	{ "{'type':'contact','ref':'%s','channel':'voice','risk':'low'}",
	    MSG_STRING_MAX_BYTES, "ref" },
	{ "{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	  "'caller':'%s'}",
	    MSG_STRING_MAX_BYTES, "caller" },
	{ "{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	  "'patient':'%s'}",
	    MSG_STRING_MAX_BYTES, "patient" },
	{ "{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	  "'program':'%s'}",
	    MSG_STRING_MAX_BYTES, "program" },
	{ "{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	  "'language':'%s'}",
	    MSG_STRING_MAX_BYTES, "language" },
	{ "{'type':'contact','ref':'r','channel':'voice','risk':'low',"
	  "'needs':['mat','%s']}",
	    MSG_STRING_MAX_BYTES, "needs[1]" },
	{ "{'type':'decline','contact':'c','reason':'%s'}",
	    MSG_STRING_MAX_BYTES, "reason" },
	{ "{'type':'failed','contact':'c','reason':'%s'}", MSG_STRING_MAX_BYTES,
	    "reason" },
	{ "{'type':'complete','contact':'c','disposition':'resolved',"
	  "'notes':'%s'}",
	    MSG_NOTES_MAX_BYTES, "notes" },
	{ "{'type':'complete','contact':'c',"
	  "'disposition':'emergency_dispatched','disclosure':{"
	  "'recipient':'%s','affiliation':'a','nature':'n'}}",
	    MSG_STRING_MAX_BYTES, "disclosure.recipient" },
	{ "{'type':'accept','contact':'%s'}", CONTACT_ID_MAX, "contact" },
	{ "{'type':'abandon','contact':'%s'}", CONTACT_ID_MAX, "contact" },
	{ "{'type':'hello','role':'intake','principal':'%s','token':'t'}",
	    PRINCIPAL_ID_MAX, "principal" },
	{ "{'type':'hello','role':'intake','principal':'p','token':'%s'}",
	    MSG_TOKEN_MAX_BYTES, "token" },
};

/* Decode a limit_case's line with a filler of n bytes. */
static void
check_limit(const struct limit_case *c, size_t n, int result)
{
	char *filler, *line, fmt[512], message[128], what[128];
	int len;

	filler = xmalloc(n + 1);
	memset(filler, 'a', n);
	filler[n] = '\0';
	msg_test_line(c->fmt, fmt, sizeof(fmt));
	len = xasprintf(&line, fmt, filler);
	snprintf(message, sizeof(message),
	    "field '%s' is longer than %zu bytes", c->name, c->bytes);
	snprintf(what, sizeof(what), "%s with %zu bytes", c->name, n);
	check_decode(line, (size_t)len, result, message, what);
	free(line);
	free(filler);
}

/* Strings of exactly the limit pass; one byte more is refused. */
static void
test_string_limits(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(limit_cases); i++) {
		check_limit(&limit_cases[i], limit_cases[i].bytes, 0);
		check_limit(&limit_cases[i], limit_cases[i].bytes + 1, -1);
	}
}

/* Decode a contact with n needs "n0", "n1", ... */
static int
decode_needs(size_t n, struct msg *m, struct msg_error *err)
{
	char line[2048];
	size_t i, len;
	int rc;

	len = (size_t)snprintf(line, sizeof(line),
	    "{\"type\":\"contact\","
	    "\"ref\":\"r\",\"channel\":\"chat\",\"risk\":\"low\",\"needs\":[");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    "%s\"n%zu\"", i == 0 ? "" : ",", i);
	len += (size_t)snprintf(line + len, sizeof(line) - len, "]}");
	rc = msg_decode(line, len, m, err);
	return rc;
}

/* needs holds at most MSG_NEEDS_MAX entries, kept in order. */
static void
test_needs_count(void **state)
{
	struct msg m;
	struct msg_error err;
	char want[16];
	size_t i;

	(void)state;
	assert_int_equal(decode_needs(MSG_NEEDS_MAX, &m, &err), 0);
	assert_int_equal(m.u.contact.nneeds, MSG_NEEDS_MAX);
	for (i = 0; i < MSG_NEEDS_MAX; i++) {
		snprintf(want, sizeof(want), "n%zu", i);
		assert_string_equal(m.u.contact.needs[i], want);
	}
	msg_clear(&m);

	assert_int_equal(decode_needs(MSG_NEEDS_MAX + 1, &m, &err), -1);
	assert_int_equal(err.code, CODE_BAD_REQUEST);
	assert_non_null(strstr(err.message, "field 'needs' has more than 16"));
	msg_clear(&m);
}

/* A ping carrying 0 in levels - 1 nested arrays, so levels in all. */
static void
check_depth(int levels, int result)
{
	char line[256];
	size_t len;
	int i;

	len = (size_t)snprintf(line, sizeof(line), "{\"type\":\"ping\",\"x\":");
	for (i = 1; i < levels; i++)
		line[len++] = '[';
	line[len++] = '0';
	for (i = 1; i < levels; i++)
		line[len++] = ']';
	line[len++] = '}';
	line[len] = '\0';
	check_decode(line, len, result, "nested deeper than 8 levels", line);
}

/* Nesting is refused past MSG_DEPTH_MAX; brackets in strings do not count. */
static void
test_depth(void **state)
{
	const char *quoted =
	    "{\"type\":\"ping\",\"x\":\"[[[[[[[[[[{{{{{\\\"\"}";

	(void)state;
	check_depth(1, 0);
	check_depth(MSG_DEPTH_MAX, 0);
	check_depth(MSG_DEPTH_MAX + 1, -1);
	check_depth(100, -1);
	check_decode(quoted, strlen(quoted), 0, NULL, quoted);
}

/* A raw NUL byte inside the line is refused, not cut short. */
static void
test_raw_nul(void **state)
{
	const char line[] = "{\"type\":\"ping\"}\0garbage";

	(void)state;
	check_decode(line, sizeof(line) - 1, -1, "NUL byte", "raw NUL");
}

/* Decode a table line that must succeed. */
static void
decode_ok(const char *in, struct msg *m)
{
	char buf[1024];
	struct msg_error err;
	size_t len;

	len = msg_test_line(in, buf, sizeof(buf));
	if (msg_decode(buf, len, m, &err) != 0)
		fail_msg("%s: %s", buf, err.message);
}

/* hello fills role, principal and token. */
static void
test_fields_hello(void **state)
{
	struct msg m;

	(void)state;
	decode_ok("{'type':'hello','role':'clinician','principal':'dr-rivera',"
	          "'token':'abc'}",
	    &m);
	assert_int_equal(m.type, MSG_HELLO);
	assert_int_equal(m.u.hello.role, ROLE_CLINICIAN);
	assert_string_equal(m.u.hello.principal, "dr-rivera");
	assert_string_equal(m.u.hello.token, "abc");
	assert_null(m.id);
	msg_clear(&m);
}

/* contact fills every field; absent and empty optionals are NULL. */
static void
test_fields_contact(void **state)
{
	struct msg m;

	(void)state;
	decode_ok("{'type':'contact','ref':'sip-1','channel':'text',"
	          "'risk':'imminent','caller':'+1555','patient':'p-1001',"
	          "'program':'youth','language':'es','needs':['mat']}",
	    &m);
	assert_int_equal(m.type, MSG_CONTACT);
	assert_string_equal(m.u.contact.ref, "sip-1");
	assert_int_equal(m.u.contact.channel, CHANNEL_TEXT);
	assert_int_equal(m.u.contact.risk, RISK_IMMINENT);
	assert_string_equal(m.u.contact.caller, "+1555");
	assert_string_equal(m.u.contact.patient, "p-1001");
	assert_string_equal(m.u.contact.program, "youth");
	assert_string_equal(m.u.contact.language, "es");
	assert_int_equal(m.u.contact.nneeds, 1);
	assert_string_equal(m.u.contact.needs[0], "mat");
	msg_clear(&m);

	decode_ok("{'type':'contact','ref':'r','channel':'chat',"
	          "'risk':'unknown','caller':'','patient':null}",
	    &m);
	assert_int_equal(m.u.contact.channel, CHANNEL_CHAT);
	assert_int_equal(m.u.contact.risk, RISK_UNKNOWN);
	assert_null(m.u.contact.caller);
	assert_null(m.u.contact.patient);
	assert_null(m.u.contact.program);
	assert_null(m.u.contact.language);
	assert_int_equal(m.u.contact.nneeds, 0);
	msg_clear(&m);
}

/* status, accept, decline and abandon fill their few fields. */
static void
test_fields_clinician(void **state)
{
	struct msg m;

	(void)state;
	decode_ok("{'type':'status','status':'available'}", &m);
	assert_int_equal(m.type, MSG_STATUS);
	assert_true(m.u.status.available);
	msg_clear(&m);
	decode_ok("{'type':'status','status':'away'}", &m);
	assert_false(m.u.status.available);
	msg_clear(&m);

	decode_ok("{'type':'accept','contact':'c-9'}", &m);
	assert_int_equal(m.type, MSG_ACCEPT);
	assert_string_equal(m.u.ref.contact, "c-9");
	msg_clear(&m);
	decode_ok("{'type':'decline','contact':'c-9','reason':'ill'}", &m);
	assert_int_equal(m.type, MSG_DECLINE);
	assert_string_equal(m.u.ref.contact, "c-9");
	assert_string_equal(m.u.ref.reason, "ill");
	msg_clear(&m);
	decode_ok("{'type':'abandon','contact':'c-8'}", &m);
	assert_int_equal(m.type, MSG_ABANDON);
	assert_string_equal(m.u.ref.contact, "c-8");
	assert_null(m.u.ref.reason);
	msg_clear(&m);
	decode_ok("{'type':'ended','contact':'c-7'}", &m);
	assert_int_equal(m.type, MSG_ENDED);
	assert_string_equal(m.u.ref.contact, "c-7");
	msg_clear(&m);
	decode_ok("{'type':'failed','contact':'c-6','reason':'408'}", &m);
	assert_int_equal(m.type, MSG_FAILED);
	assert_string_equal(m.u.ref.contact, "c-6");
	assert_string_equal(m.u.ref.reason, "408");
	msg_clear(&m);
}

/* complete fills disposition, notes and the disclosure when present. */
static void
test_fields_complete(void **state)
{
	struct msg m;

	(void)state;
	decode_ok("{'type':'complete','contact':'c1',"
	          "'disposition':'emergency_dispatched','notes':'sent EMS',"
	          "'disclosure':{'recipient':'PSAP','affiliation':'County',"
	          "'nature':'address'}}",
	    &m);
	assert_int_equal(m.type, MSG_COMPLETE);
	assert_string_equal(m.u.complete.contact, "c1");
	assert_int_equal(m.u.complete.disposition,
	    DISPOSITION_EMERGENCY_DISPATCHED);
	assert_string_equal(m.u.complete.notes, "sent EMS");
	assert_true(m.u.complete.has_disclosure);
	assert_string_equal(m.u.complete.disclosure.recipient, "PSAP");
	assert_string_equal(m.u.complete.disclosure.affiliation, "County");
	assert_string_equal(m.u.complete.disclosure.nature, "address");
	msg_clear(&m);

	decode_ok("{'type':'complete','contact':'c1','disposition':'follow_up'"
	          "}",
	    &m);
	assert_int_equal(m.u.complete.disposition, DISPOSITION_FOLLOW_UP);
	assert_null(m.u.complete.notes);
	assert_false(m.u.complete.has_disclosure);
	assert_null(m.u.complete.disclosure.recipient);
	msg_clear(&m);
}

/* The types with no fields of their own decode to their type. */
static void
test_fields_empty(void **state)
{
	static const struct {
		const char *line;
		enum msg_type type;
	} cases[] = {
		{ "{'type':'ping'}", MSG_PING },
		{ "{'type':'watch'}", MSG_WATCH },
		{ "{'type':'snapshot'}", MSG_SNAPSHOT },
	};
	struct msg m;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		decode_ok(cases[i].line, &m);
		assert_int_equal(m.type, cases[i].type);
		msg_clear(&m);
	}
}

/* A usable id is kept even when the rest of the line is refused. */
static void
test_id_echo(void **state)
{
	struct msg m;
	struct msg_error err;
	char buf[256];
	size_t len;

	(void)state;
	decode_ok("{'type':'ping','id':'req-1'}", &m);
	assert_true(json_is_string(m.id));
	assert_string_equal(json_string_value(m.id), "req-1");
	msg_clear(&m);

	decode_ok("{'type':'ping','id':42}", &m);
	assert_true(json_is_integer(m.id));
	assert_int_equal(json_integer_value(m.id), 42);
	msg_clear(&m);

	len = msg_test_line("{'id':'q','type':'nope'}", buf, sizeof(buf));
	assert_int_equal(msg_decode(buf, len, &m, &err), -1);
	assert_non_null(m.id);
	assert_string_equal(json_string_value(m.id), "q");
	msg_clear(&m);

	len = msg_test_line("{'id':3,'type':'accept','contact':'a b'}", buf,
	    sizeof(buf));
	assert_int_equal(msg_decode(buf, len, &m, &err), -1);
	assert_int_equal(json_integer_value(m.id), 3);
	msg_clear(&m);

	len = msg_test_line("{'id':{'x':1},'type':'ping'}", buf, sizeof(buf));
	assert_int_equal(msg_decode(buf, len, &m, &err), -1);
	assert_null(m.id);
	msg_clear(&m);

	len = msg_test_line("['id',1]", buf, sizeof(buf));
	assert_int_equal(msg_decode(buf, len, &m, &err), -1);
	assert_null(m.id);
	msg_clear(&m);
}

/* A long unknown type is quoted back cut short, in printable ASCII. */
static void
test_unknown_type_quote(void **state)
{
	char line[512], want[128];
	struct msg m;
	struct msg_error err;
	size_t len;

	(void)state;
	len = (size_t)snprintf(line, sizeof(line), "{\"type\":\"%0300d\"}", 0);
	assert_int_equal(msg_decode(line, len, &m, &err), -1);
	snprintf(want, sizeof(want), "unknown message type '%040d...'", 0);
	assert_string_equal(err.message, want);
	msg_clear(&m);

	len = msg_test_line("{'type':'caf\xc3\xa9'}", line, sizeof(line));
	assert_int_equal(msg_decode(line, len, &m, &err), -1);
	assert_string_equal(err.message,
	    "unknown message type 'caf?"
	    "?'");
	msg_clear(&m);
}

/* msg_clear leaves a struct that can be cleared or decoded again. */
static void
test_clear_reuse(void **state)
{
	struct msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	msg_clear(&m);
	decode_ok("{'type':'accept','contact':'a'}", &m);
	msg_clear(&m);
	assert_null(m.root);
	decode_ok("{'type':'accept','contact':'b'}", &m);
	assert_string_equal(m.u.ref.contact, "b");
	msg_clear(&m);
	msg_clear(&m);
}

/* A refused line's id and error make the reply a client expects. */
static void
test_error_line_from_decode(void **state)
{
	struct msg m;
	struct msg_error err;
	char buf[128], *line;
	size_t len;

	(void)state;
	len = msg_test_line("{'id':'q','type':'nope'}", buf, sizeof(buf));
	assert_int_equal(msg_decode(buf, len, &m, &err), -1);
	line = wire_error(err.code, err.message, m.id);
	assert_string_equal(line,
	    "{\"type\":\"error\",\"id\":\"q\","
	    "\"code\":\"bad_request\","
	    "\"message\":\"unknown message type 'nope'\"}");
	free(line);
	msg_clear(&m);
}

/* Every name table, both ways, and values outside it. */
static void
test_names(void **state)
{
	static const char *const types[] = { "hello", "ping", "contact",
		"abandon", "status", "accept", "decline", "complete", "watch",
		"snapshot", "ack", "ended", "failed" };
	static const char *const risks[] = { "imminent", "high", "moderate",
		"low", "unknown" };
	static const char *const codes[] = { "bad_request", "unauthorized",
		"forbidden", "not_found", "conflict", "too_large", "overloaded",
		"internal" };
	static const char *const dispositions[] = { "resolved", "safety_plan",
		"referred", "emergency_dispatched", "follow_up", "other" };
	size_t i;

	(void)state;
	assert_int_equal(nitems(types), MSG_TYPE_COUNT);
	for (i = 0; i < nitems(types); i++)
		assert_string_equal(msg_type_name((enum msg_type)i), types[i]);
	assert_string_equal(msg_type_name(MSG_TYPE_COUNT), "invalid");
	for (i = 0; i < nitems(risks); i++) {
		assert_string_equal(msg_risk_name((enum risk)i), risks[i]);
		assert_int_equal(msg_risk_from_name(risks[i]), (int)i);
	}
	assert_int_equal(msg_risk_from_name("severe"), -1);
	assert_int_equal(msg_risk_from_name(NULL), -1);
	assert_string_equal(msg_risk_name((enum risk)99), "invalid");
	for (i = 0; i < nitems(codes); i++)
		assert_string_equal(msg_code_name((enum msg_code)i), codes[i]);
	assert_string_equal(msg_code_name((enum msg_code) - 1), "invalid");
	for (i = 0; i < nitems(dispositions); i++)
		assert_string_equal(msg_disposition_name((enum disposition)i),
		    dispositions[i]);
	assert_string_equal(msg_channel_name(CHANNEL_VOICE), "voice");
	assert_string_equal(msg_channel_name(CHANNEL_TEXT), "text");
	assert_string_equal(msg_channel_name(CHANNEL_CHAT), "chat");
	assert_string_equal(msg_channel_name((enum channel)3), "invalid");
}

/* Roles are bits: only the three single roles have names. */
static void
test_role_names(void **state)
{
	(void)state;
	assert_string_equal(msg_role_name(ROLE_INTAKE), "intake");
	assert_string_equal(msg_role_name(ROLE_CLINICIAN), "clinician");
	assert_string_equal(msg_role_name(ROLE_SUPERVISOR), "supervisor");
	assert_string_equal(msg_role_name(ROLE_NONE), "none");
	assert_string_equal(msg_role_name((enum role)3), "invalid");
	assert_string_equal(msg_role_name((enum role)8), "invalid");
	assert_int_equal(msg_role_from_name("intake"), ROLE_INTAKE);
	assert_int_equal(msg_role_from_name("clinician"), ROLE_CLINICIAN);
	assert_int_equal(msg_role_from_name("supervisor"), ROLE_SUPERVISOR);
	assert_int_equal(msg_role_from_name("none"), -1);
	assert_int_equal(msg_role_from_name("admin"), -1);
	assert_int_equal(msg_role_from_name(""), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_string_limits),
		cmocka_unit_test(test_needs_count),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_raw_nul),
		cmocka_unit_test(test_fields_hello),
		cmocka_unit_test(test_fields_contact),
		cmocka_unit_test(test_fields_clinician),
		cmocka_unit_test(test_fields_complete),
		cmocka_unit_test(test_fields_empty),
		cmocka_unit_test(test_id_echo),
		cmocka_unit_test(test_unknown_type_quote),
		cmocka_unit_test(test_clear_reuse),
		cmocka_unit_test(test_error_line_from_decode),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_role_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
