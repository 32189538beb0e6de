/*
 * test_gwconf.c: crisis-sipgw.conf (sipgw/gwconf.c): a full file, the
 * defaults, and errors reported with their file and line, all of them at
 * once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gwconf.h"

#define GOOD                                                                   \
	"crisisd : { address = \"127.0.0.1:7410\"; principal = \"sipgw\";\n"   \
	"  token_file = \"token\"; };\n"                                       \
	"evapi = \"127.0.0.1:8448\";\n"                                        \
	"lines = ( { user = \"crisis\"; risk = \"unknown\"; language = "       \
	"\"en\"; program = \"IOP\"; },\n"                                      \
	"  { user = \"crisis-es\"; risk = \"high\"; language = \"es\"; "       \
	"needs = [ \"spanish\" ]; } );\n"                                      \
	"overflow_uris = ( { target = \"tel:988\"; uri = "                     \
	"\"sip:988@trunk.example\"; } );\n"

static char dir[] = "/tmp/test_gwconf.XXXXXX";

/* Write text to dir/name; returns the path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load text as a config; NULL and *cause on error. */
static struct gwconf *
load(const char *text, char **cause)
{
	*cause = NULL;
	return gwconf_load(write_file("sipgw.conf", text), cause);
}

/* The example of CONTRACT §9 and more: every field read. */
static void
test_good(void **state)
{
	struct gwconf *c;
	char *cause, want[300];
	bool listed;

	(void)state;
	assert_non_null(c = load(GOOD, &cause));
	assert_int_equal(c->ncrisisd, 1);
	assert_string_equal(c->crisisd[0].host, "127.0.0.1");
	assert_string_equal(c->crisisd[0].port, "7410");
	assert_string_equal(c->evapi_port, "8448");
	snprintf(want, sizeof want, "%s/token", dir);
	assert_string_equal(c->token_file, want);
	assert_int_equal(c->nlines, 2);
	assert_string_equal(gwconf_line(c, "crisis-es")->language, "es");
	assert_int_equal(gwconf_line(c, "crisis-es")->nneeds, 1);
	assert_null(gwconf_line(c, "nobody"));
	assert_string_equal(gwconf_overflow_uri(c, "tel:988", &listed),
	    "sip:988@trunk.example");
	assert_true(listed);
	/* An unlisted target still reaches someone: the first entry. */
	assert_string_equal(gwconf_overflow_uri(c, "tel:911", &listed),
	    "sip:988@trunk.example");
	assert_false(listed);
	/* Defaults. */
	assert_int_equal(c->reply_timeout_ms, 1500);
	assert_int_equal(c->max_calls, 2000);
	assert_false(c->tls.enabled);
	gwconf_free(c);
}

/* Timers, limits and TLS, with paths made absolute. */
static void
test_optional_groups(void **state)
{
	struct gwconf *c;
	char *cause, want[300];

	(void)state;
	assert_non_null(c = load(GOOD "timers : { reply_timeout_ms = 900; "
	                              "outage_grace_ms = 0; };\n"
	                              "limits : { max_calls = 10; "
	                              "max_netstring_bytes = 4096; };\n"
	                              "log_level = \"debug\";\n",
	                    &cause));
	assert_int_equal(c->reply_timeout_ms, 900);
	assert_int_equal(c->outage_grace_ms, 0);
	assert_int_equal(c->max_calls, 10);
	assert_int_equal(c->max_netstring_bytes, 4096);
	gwconf_free(c);
	assert_non_null(
	    c = load("crisisd : { address = \"[::1]:7410\"; principal = "
	             "\"gw\"; token_file = \"/t\"; tls : { ca = \"ca.crt\"; "
	             "certificate = \"c.crt\"; key = \"c.key\"; }; };\n"
	             "evapi = \"localhost:8448\";\n"
	             "lines = ( { user = \"c\"; risk = \"low\"; } );\n"
	             "overflow_uris = ( { target = \"tel:988\"; uri = "
	             "\"sip:988@t\"; } );\n",
	        &cause));
	assert_string_equal(c->crisisd[0].host, "::1");
	assert_true(c->tls.enabled);
	snprintf(want, sizeof want, "%s/ca.crt", dir);
	assert_string_equal(c->tls.ca, want);
	assert_string_equal(c->token_file, "/t");
	gwconf_free(c);
}

#define REST                                                                   \
	"principal = \"gw\"; token_file = \"t\"; };\n"                         \
	"evapi = \"127.0.0.1:8448\";\n"                                        \
	"lines = ( { user = \"c\"; risk = \"low\"; } );\n"                     \
	"overflow_uris = ( { target = \"tel:988\"; uri = \"sip:9@t\"; } );\n"

/* crisisd.address as a list (CONTRACT §10): every node, in order. */
static void
test_address_list(void **state)
{
	struct gwconf *c;
	char *cause;

	(void)state;
	assert_non_null(
	    c = load("crisisd : { address = [ \"10.0.0.1:7410\", "
	             "\"[::1]:7411\", \"db-b.example:7410\" ];\n" REST,
	        &cause));
	assert_int_equal(c->ncrisisd, 3);
	assert_string_equal(c->crisisd[0].host, "10.0.0.1");
	assert_string_equal(c->crisisd[1].host, "::1");
	assert_string_equal(c->crisisd[1].port, "7411");
	assert_string_equal(c->crisisd[2].host, "db-b.example");
	gwconf_free(c);
	/* A list ( ... ) is taken as well as an array [ ... ]. */
	assert_non_null(
	    c = load("crisisd : { address = ( \"h:1\", \"h:2\" );\n" REST,
	        &cause));
	assert_int_equal(c->ncrisisd, 2);
	gwconf_free(c);
}

/* A bad list: empty, too long, a bad or non-string element. */
static void
test_address_list_errors(void **state)
{
	char *cause, text[2048];
	size_t len;
	int i;

	(void)state;
	assert_null(load("crisisd : { address = [ ];\n" REST, &cause));
	assert_non_null(strstr(cause, "address: must list 1 to 16"));
	free(cause);
	len = (size_t)snprintf(text, sizeof text, "crisisd : { address = [ ");
	for (i = 0; i <= GWCONF_CRISISD_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
		    "%s\"h:%d\"", i ? ", " : "", i + 1);
	snprintf(text + len, sizeof text - len, " ];\n" REST);
	assert_null(load(text, &cause));
	assert_non_null(strstr(cause, "must list 1 to 16"));
	free(cause);
	assert_null(
	    load("crisisd : { address = [ \"h:1\",\n \"h\" ];\n" REST, &cause));
	assert_non_null(
	    strstr(cause, "sipgw.conf:2: \"h\": expected HOST:PORT"));
	free(cause);
	assert_null(
	    load("crisisd : { address = ( \"h:1\", 7 );\n" REST, &cause));
	assert_non_null(strstr(cause, "must be a string"));
	free(cause);
	assert_null(load("crisisd : { address = 7410;\n" REST, &cause));
	assert_non_null(
	    strstr(cause, "address: must be \"HOST:PORT\" or a list"));
	free(cause);
}

/* Every error at once, each with file:line. */
static void
test_errors(void **state)
{
	char *cause;

	(void)state;
	assert_null(load("crisisd : { address = \"127.0.0.1\"; principal = "
	                 "\"a b\"; token_file = \"t\"; colour = 1; };\n"
	                 "evapi = \"127.0.0.1:70000\";\n"
	                 "lines = ( { user = \"cri sis\"; risk = \"dire\"; } "
	                 ");\n"
	                 "overflow_uris = ( { target = \"tel:988\"; uri = "
	                 "\"tel:988\"; } );\n"
	                 "timers : { reply_timeout_ms = 5; max_calls = 3; };\n"
	                 "mystery = 1;\n",
	    &cause));
	assert_non_null(cause);
	assert_non_null(strstr(cause, "sipgw.conf:1: address:"));
	assert_non_null(strstr(cause, "principal: \"a b\" is not"));
	assert_non_null(strstr(cause, "sipgw.conf:1: colour: unknown key"));
	assert_non_null(strstr(cause, "sipgw.conf:2: evapi:"));
	assert_non_null(strstr(cause, "sipgw.conf:3: user:"));
	assert_non_null(strstr(cause, "sipgw.conf:3: risk:"));
	assert_non_null(strstr(cause, "sipgw.conf:4: uri:"));
	assert_non_null(strstr(cause,
	    "sipgw.conf:5: reply_timeout_ms: 5 is "
	    "out of range"));
	/* max_calls belongs to limits, not timers. */
	assert_non_null(strstr(cause, "sipgw.conf:5: max_calls: unknown key"));
	assert_non_null(strstr(cause, "sipgw.conf:6: mystery: unknown key"));
	free(cause);
}

/* Missing groups and empty lists; a line listed twice; a syntax error. */
static void
test_missing(void **state)
{
	char *cause;

	(void)state;
	assert_null(load("evapi = \"127.0.0.1:8448\";\nlines = ();\n"
	                 "overflow_uris = ();\n",
	    &cause));
	assert_non_null(strstr(cause, "crisisd is missing"));
	assert_non_null(strstr(cause, "lines: needs at least one line"));
	assert_non_null(strstr(cause, "overflow_uris: needs at least one"));
	free(cause);
	assert_null(load(GOOD "lines = ();\n", &cause));
	free(cause);
	assert_null(
	    load("crisisd : { address = \"127.0.0.1:1\"; principal = \"g\"; "
	         "token_file = \"t\"; };\nevapi = \"127.0.0.1:2\";\n"
	         "lines = ( { user = \"c\"; risk = \"low\"; }, { user = "
	         "\"c\"; risk = \"high\"; } );\noverflow_uris = ( { target = "
	         "\"tel:988\"; uri = \"sip:9@t\"; } );\n",
	        &cause));
	assert_non_null(strstr(cause, "line \"c\" is listed twice"));
	free(cause);
	assert_null(load("evapi = ;\n", &cause));
	assert_non_null(strstr(cause, "sipgw.conf:1:"));
	free(cause);
}

/* The token file: its first line, trimmed; empty is an error. */
static void
test_token(void **state)
{
	char *cause = NULL, *t;

	(void)state;
	t = gwconf_read_token(write_file("tok", "  s3cret \nnext\n"), &cause);
	assert_string_equal(t, "s3cret");
	free(t);
	assert_null(gwconf_read_token(write_file("tok", "\n"), &cause));
	free(cause);
	assert_null(gwconf_read_token("/nonexistent/token", &cause));
	assert_non_null(strstr(cause, "/nonexistent/token"));
	free(cause);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_optional_groups),
		cmocka_unit_test(test_address_list),
		cmocka_unit_test(test_address_list_errors),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
