/*
 * test_gwmsg.c: crisis-sipgw's message mapping (sipgw/gwmsg.c): Kamailio's
 * events and crisisd's messages parsed as hostile input, the endpoint to
 * SIP user mapping, and the exact text of what the gateway sends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gwconf.h"
#include "gwmsg.h"

/* Parse text as an event; returns the parse result. */
static int
event(const char *text, struct kam_event *ev)
{
	const char *why = NULL;
	int rc = gwmsg_parse_event(text, strlen(text), ev, &why);

	if (rc == -1)
		assert_non_null(why);
	return rc;
}

/* An invite with every field. */
static void
test_event_invite(void **state)
{
	struct kam_event ev;

	(void)state;
	assert_int_equal(event("{\"event\":\"invite\",\"callid\":\"a@b\","
	                       "\"tindex\":12,\"tlabel\":4000000000,"
	                       "\"line\":\"crisis\",\"caller\":\"+15551234\"}",
	                     &ev),
	    0);
	assert_int_equal(ev.type, KAM_INVITE);
	assert_string_equal(ev.callid, "a@b");
	assert_string_equal(ev.line, "crisis");
	assert_string_equal(ev.caller, "+15551234");
	assert_true(ev.has_tm);
	assert_int_equal(ev.tindex, 12);
	assert_int_equal(ev.tlabel, 4000000000u);
}

/* failed, relayed, bye: their own fields. */
static void
test_event_others(void **state)
{
	struct kam_event ev;

	(void)state;
	assert_int_equal(event("{\"event\":\"failed\",\"callid\":\"x\","
	                       "\"tindex\":1,\"tlabel\":2,\"code\":486,"
	                       "\"reason\":\"Busy Here\",\"attempt\":2,"
	                       "\"leg\":\"clinician\"}",
	                     &ev),
	    0);
	assert_int_equal(ev.type, KAM_FAILED);
	assert_int_equal(ev.code, 486);
	assert_int_equal(ev.attempt, 2);
	assert_string_equal(ev.reason, "Busy Here");
	assert_true(ev.leg_clinician);
	assert_int_equal(event("{\"event\":\"relayed\",\"callid\":\"x\","
	                       "\"kind\":\"overflow\"}",
	                     &ev),
	    0);
	assert_true(ev.overflow);
	assert_int_equal(event("{\"event\":\"bye\",\"callid\":\"x\"}", &ev), 0);
	assert_int_equal(ev.type, KAM_BYE);
	assert_false(ev.leg_clinician);
}

/* What a broken or hostile Kamailio peer could send: all refused. */
static void
test_event_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"\"invite\"",
		"{\"event\":\"invite\"}",
		"{\"event\":\"dance\",\"callid\":\"x\"}",
		"{\"event\":7,\"callid\":\"x\"}",
		"{\"event\":\"bye\",\"callid\":\"\"}",
		"{\"event\":\"bye\",\"callid\":12}",
		"{\"event\":\"bye\",\"callid\":\"a\\u0000b\"}",
		"{\"event\":\"bye\",\"callid\":\"x\",\"callid\":\"y\"}",
		"{\"event\":\"invite\",\"callid\":\"x\",\"tindex\":-1,"
		"\"tlabel\":1}",
		"{\"event\":\"invite\",\"callid\":\"x\",\"tindex\":1,"
		"\"tlabel\":4294967296}",
		"{\"event\":\"invite\",\"callid\":\"x\",\"tindex\":\"1\","
		"\"tlabel\":1}",
		"{\"event\":\"failed\",\"callid\":\"x\",\"tindex\":1,"
		"\"tlabel\":1,\"code\":99,\"attempt\":1}",
		"{\"event\":\"failed\",\"callid\":\"x\",\"tindex\":1,"
		"\"tlabel\":1,\"code\":486}",
		"{\"event\":\"relayed\",\"callid\":\"x\",\"kind\":\"moon\"}",
		"{\"event\":\"bye\",\"callid\":\"x\"} trailing",
	};
	struct kam_event ev;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (event(bad[i], &ev) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

/* A Call-ID of 256 bytes fits a crisisd ref; 257 does not. */
static void
test_event_callid_bound(void **state)
{
	char text[600], id[300];
	struct kam_event ev;

	(void)state;
	memset(id, 'c', 256);
	id[256] = '\0';
	snprintf(text, sizeof text, "{\"event\":\"bye\",\"callid\":\"%s\"}",
	    id);
	assert_int_equal(event(text, &ev), 0);
	id[256] = 'c';
	id[257] = '\0';
	snprintf(text, sizeof text, "{\"event\":\"bye\",\"callid\":\"%s\"}",
	    id);
	assert_int_equal(event(text, &ev), -1);
}

/* A caller's From user is cleaned, never a reason to refuse the call. */
static void
test_caller_cleaned(void **state)
{
	char out[GWMSG_CALLER_MAX + 1], big[GWMSG_CALLER_MAX + 2];
	struct kam_event ev;

	(void)state;
	gwmsg_clean_caller("alice", out);
	assert_string_equal(out, "alice");
	gwmsg_clean_caller("al\x01ice", out);
	assert_string_equal(out, "");
	gwmsg_clean_caller("\xff\xfe", out);
	assert_string_equal(out, "");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	gwmsg_clean_caller(big, out);
	assert_string_equal(out, "");
	assert_int_equal(event("{\"event\":\"invite\",\"callid\":\"x\","
	                       "\"tindex\":1,\"tlabel\":1,\"line\":\"crisis\","
	                       "\"caller\":\"a\\u0007b\"}",
	                     &ev),
	    0);
	assert_string_equal(ev.caller, "");
}

/* crisisd's messages: results, replies, errors. */
static void
test_crisisd_messages(void **state)
{
	const char *routed = "{\"type\":\"routed\",\"contact\":\"C1\","
	                     "\"ref\":\"a@b\",\"clinician\":\"dr\","
	                     "\"endpoint\":\"sip:dr@pbx\"}";
	const char *nullep = "{\"type\":\"routed\",\"contact\":\"C1\","
	                     "\"ref\":\"a@b\",\"clinician\":\"dr\","
	                     "\"endpoint\":null}";
	const char *err = "{\"type\":\"error\",\"id\":\"r7\",\"code\":"
	                  "\"conflict\",\"message\":\"ref already names "
	                  "another contact\"}";
	struct cd_msg m;
	const char *why;

	(void)state;
	assert_int_equal(gwmsg_parse_crisisd(routed, strlen(routed), &m, &why),
	    0);
	assert_int_equal(m.type, CD_ROUTED);
	assert_true(m.has_endpoint);
	assert_string_equal(m.endpoint, "sip:dr@pbx");
	assert_string_equal(m.ref, "a@b");
	assert_int_equal(gwmsg_parse_crisisd(nullep, strlen(nullep), &m, &why),
	    0);
	assert_false(m.has_endpoint);
	assert_int_equal(gwmsg_parse_crisisd(err, strlen(err), &m, &why), 0);
	assert_int_equal(m.type, CD_ERROR);
	assert_string_equal(m.id, "r7");
	assert_string_equal(m.code, "conflict");
	/* A result without its contact or ref is unusable. */
	assert_int_equal(gwmsg_parse_crisisd("{\"type\":\"routed\",\"ref\":"
	                                     "\"x\"}",
	                     25, &m, &why),
	    -1);
	assert_int_equal(gwmsg_parse_crisisd("{\"type\":\"overflow\","
	                                     "\"contact\":\"C\",\"ref\":\"x\"}",
	                     43, &m, &why),
	    -1);
	assert_int_equal(gwmsg_parse_crisisd("{\"type\":\"offer\"}", 16, &m,
	                     &why),
	    0);
	assert_int_equal(m.type, CD_OTHER);
}

/* sip:USER@HOST gives USER; anything else is refused with a reason. */
static void
test_endpoint_user(void **state)
{
	static const struct {
		const char *endpoint, *user;
	} cases[] = {
		{ "sip:dr-rivera@pbx.example", "dr-rivera" },
		{ "sips:d.r_1+x@10.0.0.1:5061;transport=tls", "d.r_1+x" },
		{ "sip:dr@pbx", "dr" },
		{ "tel:+15551234", NULL },
		{ "sip:pbx.example", NULL },
		{ "sip:@pbx", NULL },
		{ "sip:dr@", NULL },
		{ "sip:d%41@pbx", NULL },
		{ "sip:a\"b@pbx", NULL },
		{ "SIP:dr@pbx", NULL },
		{ "", NULL },
	};
	char user[GWMSG_USER_MAX + 1];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		why = NULL;
		int rc = gwmsg_endpoint_user(cases[i].endpoint, user, &why);
		if (cases[i].user == NULL) {
			if (rc != -1 || why == NULL)
				fail_msg("accepted %s", cases[i].endpoint);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(user, cases[i].user);
		}
	}
}

/* The exact lines sent to crisisd. */
static void
test_crisisd_lines(void **state)
{
	static char crisis[] = "crisis", unknown[] = "unknown", es[] = "es",
	            iop[] = "IOP", mat[] = "mat", c[] = "c", high[] = "high";
	struct gwconf_line line = { .user = crisis,
		.risk = unknown,
		.language = es,
		.program = iop,
		.needs = { mat },
		.nneeds = 1 };
	struct gwconf_line bare = { .user = c, .risk = high };
	char *s;

	(void)state;
	s = gwmsg_contact("r1", "call-1@host", &line, "+1555");
	assert_string_equal(s,
	    "{\"type\":\"contact\",\"id\":\"r1\",\"ref\":"
	    "\"call-1@host\",\"channel\":\"voice\",\"risk\":"
	    "\"unknown\",\"caller\":\"+1555\",\"program\":"
	    "\"IOP\",\"language\":\"es\",\"needs\":[\"mat\"]}"
	    "\n");
	free(s);
	s = gwmsg_contact("r2", "x", &bare, "");
	assert_string_equal(s,
	    "{\"type\":\"contact\",\"id\":\"r2\",\"ref\":"
	    "\"x\",\"channel\":\"voice\",\"risk\":\"high\"}"
	    "\n");
	free(s);
	s = gwmsg_about_contact("r3", "ack", "C1");
	assert_string_equal(s,
	    "{\"type\":\"ack\",\"id\":\"r3\",\"contact\":"
	    "\"C1\"}\n");
	free(s);
	s = gwmsg_failed("r4", "C1", "486 Busy Here");
	assert_string_equal(s,
	    "{\"type\":\"failed\",\"id\":\"r4\",\"contact\":"
	    "\"C1\",\"reason\":\"486 Busy Here\"}\n");
	free(s);
	s = gwmsg_hello("hello", "sipgw", "tok\"en");
	assert_string_equal(s,
	    "{\"type\":\"hello\",\"id\":\"hello\",\"role\":"
	    "\"intake\",\"principal\":\"sipgw\",\"token\":"
	    "\"tok\\\"en\"}\n");
	free(s);
}

/* The exact commands sent to Kamailio; a hostile Call-ID stays a string. */
static void
test_kamailio_commands(void **state)
{
	static char crisis[] = "crisis", crisis_es[] = "crisis-es";
	struct gwconf conf = { .nlines = 2 };
	char *s;

	(void)state;
	s = gwmsg_relay_clinician("a\"b\\c@h", 7, 8, "dr");
	assert_string_equal(s,
	    "{\"cmd\":\"relay\",\"callid\":\"a\\\"b\\\\c@h\","
	    "\"tindex\":7,\"tlabel\":8,\"kind\":"
	    "\"clinician\",\"user\":\"dr\"}");
	free(s);
	s = gwmsg_relay_overflow("x", 1, 2, "sip:988@trunk");
	assert_string_equal(s,
	    "{\"cmd\":\"relay\",\"callid\":\"x\",\"tindex\":"
	    "1,\"tlabel\":2,\"kind\":\"overflow\",\"uri\":"
	    "\"sip:988@trunk\"}");
	free(s);
	conf.lines[0].user = crisis;
	conf.lines[1].user = crisis_es;
	s = gwmsg_lines(&conf);
	assert_string_equal(s,
	    "{\"cmd\":\"lines\",\"users\":[\"crisis\","
	    "\"crisis-es\"]}");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_invite),
		cmocka_unit_test(test_event_others),
		cmocka_unit_test(test_event_refused),
		cmocka_unit_test(test_event_callid_bound),
		cmocka_unit_test(test_caller_cleaned),
		cmocka_unit_test(test_crisisd_messages),
		cmocka_unit_test(test_endpoint_user),
		cmocka_unit_test(test_crisisd_lines),
		cmocka_unit_test(test_kamailio_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
