/*
 * test_config.c: crisisd.conf parsing and checking.  The contract's example
 * gives the right values, left-out keys their defaults, and every kind of
 * mistake an error at the right file:line, all of them at once.  Then the
 * corpus in tests/conf (good/ must load, bad/ must fail as each file's
 * "# expect: LINE: text" says) and the shipped conf/crisisd.conf.
 *
 * Temporary files live in a mkdtemp directory removed at the end.  Time
 * zones are checked against a small fake tz directory there ($TZDIR), so
 * the tests do not depend on the machine's tzdata; one test looks at the
 * real one when it is installed.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Where the corpus is when CRISISD_TEST_CONF_DIR is not set (make check). */
#define TEST_CONF_DIR "tests/conf"
#define TEST_LINE_MAX_BYTES 512

static char test_dir[PATH_MAX];

/* The pieces of a small valid config, one line each (routing is 5). */
#define LISTEN "listen = [ \"127.0.0.1:7410\" ];\n"
#define DATABASE "database = \"crisisd.db\";\n"
#define TIERS "  tiers = ( { tier = 1; strategy = \"ring-all\"; } );\n"
#define MAX_WAIT "  max_wait_ms = 90000;\n"
#define OVERFLOW "  overflow_target = \"tel:988\";\n"
#define ROUTING "routing : {\n" TIERS MAX_WAIT OVERFLOW "};\n"
#define ROUTING_WITH(line) "routing : {\n" TIERS MAX_WAIT OVERFLOW line "};\n"
#define BASE LISTEN DATABASE ROUTING
#define TIER_NEXT(n) ", { tier = " #n "; strategy = \"ring-all\"; }"

/* The contract's example, tiers out of order and one int64 literal. */
static const char contract_example[] =
    "listen = [ \"127.0.0.1:7410\", \"[::1]:7410\" ];\n"
    "database = \"/var/lib/crisisd/crisisd.db\";\n"
    "log_level = \"notice\";\n"
    "timezone = \"America/New_York\";\n"
    "routing : {\n"
    "  tiers = (\n"
    "    { tier = 3; strategy = \"ring-all\";     offer_timeout_ms = 20000; "
    "},\n"
    "    { tier = 1; strategy = \"ring-all\";     offer_timeout_ms = 20000L; "
    "},\n"
    "    { tier = 2; strategy = \"longest-idle\"; offer_timeout_ms = 15000; }\n"
    "  );\n"
    "  max_wait_ms          = 90000;\n"
    "  overflow_target      = \"tel:988\";\n"
    "  continuity_ms        = 12000;\n"
    "  imminent_max_wait_ms = 31000;\n"
    "  wrapup_ms            = 32000;\n"
    "  max_missed_offers    = 4;\n"
    "};\n"
    "limits : {\n"
    "  max_connections = 2000;\n"
    "  max_line_bytes  = 8192;\n"
    "  hello_timeout_ms = 3000;\n"
    "};\n";

/* Write a file, creating the directories on the way. */
static void
test_write(const char *path, const char *text, size_t len)
{
	char dir[PATH_MAX], *slash;
	FILE *f;

	strlcpy_(dir, path, sizeof dir);
	for (slash = strchr(dir + 1, '/'); slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(dir, 0700);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Write text as name in the test directory; returns the path (free it). */
static char *
test_conf(const char *name, const char *text)
{
	char *path;

	xasprintf(&path, "%s/%s", test_dir, name);
	test_write(path, text, strlen(text));
	return path;
}

/* Make the fake tz directory: two zones, a directory, a non-zone file. */
static void
test_fake_tzdir(void)
{
	char *path;

	xasprintf(&path, "%s/zoneinfo/America/New_York", test_dir);
	test_write(path, "TZif2 fake", 10);
	free(path);
	xasprintf(&path, "%s/zoneinfo/Europe/Berlin", test_dir);
	test_write(path, "TZif2 fake", 10);
	free(path);
	xasprintf(&path, "%s/zoneinfo/zone.tab", test_dir);
	test_write(path, "US\t+404251-0740023\tAmerica/New_York\n", 35);
	free(path);
	xasprintf(&path, "%s/zoneinfo", test_dir);
	assert_int_equal(setenv("TZDIR", path, 1), 0);
	free(path);
}

/* Group set-up: the temporary directory and the fake tz directory. */
static int
test_setup(void **state)
{
	(void)state;
	strlcpy_(test_dir, "/tmp/test_config.XXXXXX", sizeof test_dir);
	if (mkdtemp(test_dir) == NULL)
		return -1;
	test_fake_tzdir();
	return 0;
}

/* nftw callback removing one entry. */
static int
test_remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Group tear-down: remove the temporary directory and all in it. */
static int
test_teardown(void **state)
{
	(void)state;
	return nftw(test_dir, test_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Load text written as name, which must succeed. */
static struct conf *
test_load_ok(const char *name, const char *text)
{
	struct conf *conf = NULL;
	char *path = test_conf(name, text), *cause = NULL;

	if (conf_load(path, &conf, &cause) != 0)
		fail_msg("%s should load, got:\n%s", name, cause);
	assert_null(cause);
	free(path);
	return conf;
}

/* Does a line of cause start "path:line: " and contain text? */
static bool
test_cause_has(const char *cause, const char *path, int line, const char *text)
{
	char prefix[PATH_MAX + 32];
	const char *p, *eol;
	size_t plen;

	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	plen = strlen(prefix);
	for (p = cause; *p != '\0'; p = *eol != '\0' ? eol + 1 : eol) {
		eol = strchrnul(p, '\n');
		if ((size_t)(eol - p) >= plen &&
		    strncmp(p, prefix, plen) == 0 &&
		    memmem(p, (size_t)(eol - p), text, strlen(text)) != NULL)
			return true;
	}
	return false;
}

/* How many lines cause has. */
static int
test_cause_lines(const char *cause)
{
	int n = 1;

	for (; *cause != '\0'; cause++)
		n += *cause == '\n';
	return n;
}

/* The contract's example loads with exactly its values, tiers sorted. */
static void
test_contract_example(void **state)
{
	struct conf *conf = test_load_ok("contract.conf", contract_example);

	(void)state;
	assert_int_equal(conf->nlisten, 2);
	assert_string_equal(conf->listen[0], "127.0.0.1:7410");
	assert_string_equal(conf->listen[1], "[::1]:7410");
	assert_string_equal(conf->database, "/var/lib/crisisd/crisisd.db");
	assert_int_equal(conf->log_level, LOG_LEVEL_NOTICE);
	assert_string_equal(conf->timezone, "America/New_York");
	assert_int_equal(conf->ntiers, 3);
	assert_int_equal(conf->tiers[0].tier, 1);
	assert_int_equal(conf->tiers[0].strategy, STRATEGY_RING_ALL);
	assert_int_equal(conf->tiers[0].offer_timeout_ms, 20000);
	assert_int_equal(conf->tiers[1].tier, 2);
	assert_int_equal(conf->tiers[1].strategy, STRATEGY_LONGEST_IDLE);
	assert_int_equal(conf->tiers[1].offer_timeout_ms, 15000);
	assert_int_equal(conf->tiers[2].tier, 3);
	assert_int_equal(conf->tiers[2].strategy, STRATEGY_RING_ALL);
	assert_int_equal(conf->max_wait_ms, 90000);
	assert_string_equal(conf->overflow_target, "tel:988");
	assert_int_equal(conf->continuity_ms, 12000);
	assert_int_equal(conf->imminent_max_wait_ms, 31000);
	assert_int_equal(conf->wrapup_ms, 32000);
	assert_int_equal(conf->max_missed_offers, 4);
	assert_int_equal(conf->max_connections, 2000);
	assert_int_equal(conf->max_line_bytes, 8192);
	assert_int_equal(conf->hello_timeout_ms, 3000);
	assert_non_null(strstr(conf->path, "contract.conf"));
	assert_ptr_equal(conf_tier(conf, 2), &conf->tiers[1]);
	assert_null(conf_tier(conf, 4));
	assert_null(conf_tier(conf, 0));
	conf_free(conf);
}

/* Only the required keys: everything else is the documented default. */
static void
test_defaults(void **state)
{
	struct conf *conf = test_load_ok("minimal.conf", BASE);
	char *db;

	(void)state;
	xasprintf(&db, "%s/crisisd.db", test_dir);
	assert_string_equal(conf->database, db);
	assert_int_equal(conf->log_level, LOG_LEVEL_INFO);
	assert_string_equal(conf->timezone, "UTC");
	assert_int_equal(conf->ntiers, 1);
	assert_int_equal(conf->tiers[0].strategy, STRATEGY_RING_ALL);
	assert_int_equal(conf->tiers[0].offer_timeout_ms, 20000);
	assert_int_equal(conf->continuity_ms, 10000);
	assert_int_equal(conf->imminent_max_wait_ms, 30000);
	assert_int_equal(conf->wrapup_ms, 30000);
	assert_int_equal(conf->max_missed_offers, 3);
	assert_int_equal(conf->max_offers_per_clinician, 1);
	assert_int_equal(conf->max_open_contacts_total, 20000);
	assert_int_equal(conf->max_unauthenticated, 256);
	assert_int_equal(conf->max_output_bytes_total, 256 * 1024 * 1024);
	assert_int_equal(conf->max_connections, 10000);
	assert_int_equal(conf->max_line_bytes, 16384);
	assert_int_equal(conf->hello_timeout_ms, 5000);
	free(db);
	conf_free(conf);
}

struct bound_case {
	const char *line; /* one routing line added to BASE */
	size_t offset; /* of the int64_t or int it sets in struct conf */
	bool is_int;
	int64_t value;
};

static const struct bound_case bound_cases[] = {
	{ "  continuity_ms = 0;\n", offsetof(struct conf, continuity_ms), false,
	    0 },
	{ "  wrapup_ms = 0;\n", offsetof(struct conf, wrapup_ms), false, 0 },
	{ "  wrapup_ms = 86400000L;\n", offsetof(struct conf, wrapup_ms), false,
	    86400000 },
	{ "  imminent_max_wait_ms = 1;\n",
	    offsetof(struct conf, imminent_max_wait_ms), false, 1 },
	{ "  max_missed_offers = 1;\n",
	    offsetof(struct conf, max_missed_offers), true, 1 },
	{ "  max_missed_offers = 1000;\n",
	    offsetof(struct conf, max_missed_offers), true, 1000 },
	{ "  max_offers_per_clinician = 0;\n",
	    offsetof(struct conf, max_offers_per_clinician), true, 0 },
	{ "  max_offers_per_clinician = 1000;\n",
	    offsetof(struct conf, max_offers_per_clinician), true, 1000 },
};

/* Values at the edges of their ranges are taken. */
static void
test_bounds(void **state)
{
	char text[TEST_LINE_MAX_BYTES * 2];
	struct conf *conf;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bound_cases); i++) {
		const struct bound_case *c = &bound_cases[i];
		int64_t got;

		snprintf(text, sizeof text, "%s%s};\n",
		    LISTEN DATABASE "routing : {\n" TIERS MAX_WAIT OVERFLOW,
		    c->line);
		conf = test_load_ok("bound.conf", text);
		if (c->is_int)
			got = *(int *)((char *)conf + c->offset);
		else
			got = *(int64_t *)((char *)conf + c->offset);
		assert_int_equal(got, c->value);
		conf_free(conf);
	}
}

/* limits.max_output_bytes_total takes its whole range, int64 too. */
static void
test_output_total_bounds(void **state)
{
	static const struct {
		const char *text;
		size_t value;
	} cases[] = {
		{ "1048576", 1048576 },
		{ "268435456", 268435456 },
		{ "4294967296L", 4294967296ULL },
		{ "1099511627776L", 1099511627776ULL },
	};
	char text[TEST_LINE_MAX_BYTES * 2];
	struct conf *conf;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		snprintf(text, sizeof text,
		    BASE "limits : { max_output_bytes_total = %s; };\n",
		    cases[i].text);
		conf = test_load_ok("output.conf", text);
		assert_int_equal(conf->max_output_bytes_total, cases[i].value);
		conf_free(conf);
	}
}

/* A relative database is resolved against the config file's directory. */
static void
test_database_path(void **state)
{
	char cwd[PATH_MAX], here[PATH_MAX], *db;
	struct conf *conf;

	(void)state;
	conf = test_load_ok("sub/rel.conf",
	    LISTEN "database = \"data/crisisd.db\";\n" ROUTING);
	xasprintf(&db, "%s/sub/data/crisisd.db", test_dir);
	assert_string_equal(conf->database, db);
	free(db);
	conf_free(conf);

	conf = test_load_ok("mem.conf",
	    LISTEN "database = \":memory:\";\n" ROUTING);
	assert_string_equal(conf->database, ":memory:");
	conf_free(conf);

	/* A relative config path still yields an absolute database path. */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(test_dir), 0);
	assert_non_null(getcwd(here, sizeof here));
	assert_int_equal(conf_load("minimal.conf", &conf, NULL), 0);
	xasprintf(&db, "%s/crisisd.db", here);
	assert_string_equal(conf->database, db);
	free(db);
	conf_free(conf);
	assert_int_equal(conf_load("sub/rel.conf", &conf, NULL), 0);
	xasprintf(&db, "%s/sub/data/crisisd.db", here);
	assert_string_equal(conf->database, db);
	free(db);
	conf_free(conf);
	assert_int_equal(chdir(cwd), 0);
}

struct error_case {
	const char *what;
	const char *text;
	int line;
	const char *message;
};

static const struct error_case error_cases[] = {
	{ "syntax", LISTEN "database = ;\n" ROUTING, 2, "syntax error" },
	{ "duplicate key", BASE DATABASE, 8, "duplicate setting" },
	{ "unknown top-level key", BASE "colour = \"blue\";\n", 8,
	    "colour: unknown key" },
	{ "unknown group is reported once", BASE "extra : { a = 1; };\n", 8,
	    "extra: unknown key" },
	{ "unknown routing key",
	    LISTEN DATABASE ROUTING_WITH("  max_wait = 5;\n"), 7,
	    "routing.max_wait: unknown key" },
	{ "unknown tier key",
	    LISTEN DATABASE "routing : {\n"
	                    "  tiers = ( { tier = 1; strategy = \"ring-all\"; "
	                    "bogus = 1; } );\n" MAX_WAIT OVERFLOW "};\n",
	    4, "routing.tiers[0].bogus: unknown key" },
	{ "unknown limits key", BASE "limits : {\n  max_lines = 5;\n};\n", 9,
	    "limits.max_lines: unknown key" },
	{ "listen without port",
	    "listen = [ \"127.0.0.1\" ];\n" DATABASE ROUTING, 1,
	    "needs the form host:port" },
	{ "listen port 0", "listen = [ \"127.0.0.1:0\" ];\n" DATABASE ROUTING,
	    1, "port must be a number from 1 to 65535" },
	{ "listen port 65536",
	    "listen = [ \"127.0.0.1:65536\" ];\n" DATABASE ROUTING, 1,
	    "port must be" },
	{ "listen port by name",
	    "listen = [ \"localhost:http\" ];\n" DATABASE ROUTING, 1,
	    "port must be" },
	{ "listen without host", "listen = [ \":7410\" ];\n" DATABASE ROUTING,
	    1, "not a valid host name" },
	{ "listen bad IPv6", "listen = [ \"[::g]:7410\" ];\n" DATABASE ROUTING,
	    1, "not a valid IPv6 address" },
	{ "listen IPv6 without port",
	    "listen = [ \"[::1]\" ];\n" DATABASE ROUTING, 1, "[address]:port" },
	{ "listen bare IPv6", "listen = [ \"::1:7410\" ];\n" DATABASE ROUTING,
	    1, "in brackets" },
	{ "listen empty", "listen = [ ];\n" DATABASE ROUTING, 1,
	    "at least one address" },
	{ "listen a number", "listen = 7410;\n" DATABASE ROUTING, 1,
	    "must be a list of addresses" },
	{ "listen element a number", "listen = [ 7410 ];\n" DATABASE ROUTING, 1,
	    "listen[0]: must be a string" },
	{ "listen too many",
	    "listen = ( \"a:1\", \"a:2\", \"a:3\", \"a:4\", "
	    "\"a:5\", \"a:6\", \"a:7\", \"a:8\", \"a:9\", \"a:10\", \"a:11\", "
	    "\"a:12\", \"a:13\", \"a:14\", \"a:15\", \"a:16\", \"a:17\" "
	    ");\n" DATABASE ROUTING,
	    1, "listen[16]: more than 16 addresses" },
	{ "database empty", LISTEN "database = \"\";\n" ROUTING, 2,
	    "database: must not be empty" },
	{ "database a number", LISTEN "database = 5;\n" ROUTING, 2,
	    "database: must be a string" },
	{ "log_level unknown", BASE "log_level = \"loud\";\n", 8,
	    "unknown level \"loud\"" },
	{ "log_level a number", BASE "log_level = 3;\n", 8,
	    "log_level: must be a string" },
	{ "timezone unknown", BASE "timezone = \"Mars/Olympus_Mons\";\n", 8,
	    "unknown time zone" },
	{ "timezone escaping", BASE "timezone = \"../zoneinfo/zone.tab\";\n", 8,
	    "unknown time zone" },
	{ "timezone absolute", BASE "timezone = \"/etc/passwd\";\n", 8,
	    "unknown time zone" },
	{ "timezone a directory", BASE "timezone = \"America\";\n", 8,
	    "unknown time zone" },
	{ "timezone not a zone file", BASE "timezone = \"zone.tab\";\n", 8,
	    "unknown time zone" },
	{ "routing missing", LISTEN DATABASE, 1,
	    "missing required key routing" },
	{ "routing not a group", LISTEN DATABASE "routing = 5;\n", 3,
	    "routing: must be a group" },
	{ "limits not a group", BASE "limits = [ 1 ];\n", 8,
	    "limits: must be a group" },
	{ "tiers missing",
	    LISTEN DATABASE "routing : {\n" MAX_WAIT OVERFLOW "};\n", 3,
	    "routing: missing required key tiers" },
	{ "max_wait_ms missing",
	    LISTEN DATABASE "routing : {\n" TIERS OVERFLOW "};\n", 3,
	    "routing: missing required key max_wait_ms" },
	{ "overflow_target missing",
	    LISTEN DATABASE "routing : {\n" TIERS MAX_WAIT "};\n", 3,
	    "missing required key overflow_target" },
	{ "overflow_target empty",
	    LISTEN DATABASE "routing : {\n" TIERS MAX_WAIT
	                    "  overflow_target = \"\";\n};\n",
	    6, "routing.overflow_target: must not be empty" },
	{ "tiers a group",
	    LISTEN DATABASE
	    "routing : {\n"
	    "  tiers = { tier = 1; strategy = \"ring-all\"; };\n" MAX_WAIT
	        OVERFLOW "};\n",
	    4, "must be a list of tier groups" },
	{ "tiers an array",
	    LISTEN DATABASE "routing : {\n"
	                    "  tiers = [ 1, 2 ];\n" MAX_WAIT OVERFLOW "};\n",
	    4, "must be a list of tier groups" },
	{ "tier entry not a group",
	    LISTEN DATABASE "routing : {\n"
	                    "  tiers = ( 1 );\n" MAX_WAIT OVERFLOW "};\n",
	    4, "routing.tiers[0]: must be a group" },
	{ "tier 0",
	    LISTEN DATABASE
	    "routing : {\n"
	    "  tiers = ( { tier = 0; strategy = \"ring-all\"; } );\n" MAX_WAIT
	        OVERFLOW "};\n",
	    4, "0 is out of range 1..31" },
	{ "tier a string",
	    LISTEN DATABASE "routing : {\n"
	                    "  tiers = ( { tier = \"1\"; strategy = "
	                    "\"ring-all\"; } );\n" MAX_WAIT OVERFLOW "};\n",
	    4, "tier: must be an integer" },
	{ "strategy missing",
	    LISTEN DATABASE "routing : {\n"
	                    "  tiers = ( { tier = 1; } );\n" MAX_WAIT OVERFLOW
	                    "};\n",
	    4, "routing.tiers[0]: missing required key strategy" },
	{ "strategy unknown",
	    LISTEN DATABASE
	    "routing : {\n"
	    "  tiers = ( { tier = 1; strategy = \"random\"; } );\n" MAX_WAIT
	        OVERFLOW "};\n",
	    4, "unknown strategy \"random\"" },
	{ "duplicate tier",
	    LISTEN DATABASE
	    "routing : {\n  tiers = (\n"
	    "    { tier = 1; strategy = \"ring-all\"; },\n"
	    "    { tier = 1; strategy = \"sequential\"; } );\n" MAX_WAIT
	        OVERFLOW "};\n",
	    6, "tier 1 is already defined at line 5" },
	{ "too many tiers",
	    LISTEN DATABASE
	    "routing : {\n  tiers = ("
	    "{ tier = 1; strategy = \"ring-all\"; }" TIER_NEXT(2) TIER_NEXT(3)
	        TIER_NEXT(4) TIER_NEXT(5) TIER_NEXT(6) TIER_NEXT(7) TIER_NEXT(8)
	            TIER_NEXT(9) TIER_NEXT(10) TIER_NEXT(11) TIER_NEXT(12)
	                TIER_NEXT(13) TIER_NEXT(14) TIER_NEXT(15) TIER_NEXT(16)
	                    TIER_NEXT(17) ");\n" MAX_WAIT OVERFLOW "};\n",
	    4, "more than 16 tiers" },
	{ "offer_timeout_ms over a day",
	    LISTEN DATABASE
	    "routing : {\n"
	    "  tiers = ( { tier = 1; strategy = \"ring-all\"; "
	    "offer_timeout_ms = 86400001; } );\n" MAX_WAIT OVERFLOW "};\n",
	    4, "86400001 is out of range 1..86400000" },
	{ "max_wait_ms a float",
	    LISTEN DATABASE "routing : {\n" TIERS
	                    "  max_wait_ms = 90.0;\n" OVERFLOW "};\n",
	    5, "max_wait_ms: must be an integer" },
	{ "continuity_ms negative",
	    LISTEN DATABASE ROUTING_WITH("  continuity_ms = -1;\n"), 7,
	    "-1 is out of range 0..86400000" },
	{ "imminent_max_wait_ms zero",
	    LISTEN DATABASE ROUTING_WITH("  imminent_max_wait_ms = 0;\n"), 7,
	    "0 is out of range 1.." },
	{ "wrapup_ms negative",
	    LISTEN DATABASE ROUTING_WITH("  wrapup_ms = -5;\n"), 7,
	    "wrapup_ms: -5 is out of range" },
	{ "max_missed_offers zero",
	    LISTEN DATABASE ROUTING_WITH("  max_missed_offers = 0;\n"), 7,
	    "0 is out of range 1..1000" },
	{ "max_offers_per_clinician negative",
	    LISTEN DATABASE ROUTING_WITH("  max_offers_per_clinician = -1;\n"),
	    7, "max_offers_per_clinician: -1 is out of range 0..1000" },
	{ "max_offers_per_clinician too many",
	    LISTEN DATABASE ROUTING_WITH(
	        "  max_offers_per_clinician = 1001;\n"),
	    7, "max_offers_per_clinician: 1001 is out of range 0..1000" },
	{ "max_connections zero", BASE "limits : { max_connections = 0; };\n",
	    8, "0 is out of range 1..1000000" },
	{ "max_connections too many",
	    BASE "limits : { max_connections = 1000001; };\n", 8,
	    "1000001 is out of range" },
	{ "max_connections beyond int",
	    BASE "limits : { max_connections = 5000000000L; };\n", 8,
	    "5000000000 is out of range" },
	{ "max_line_bytes over 16 MiB",
	    BASE "limits : { max_line_bytes = 16777217; };\n", 8,
	    "16777217 is out of range 256..16777216" },
	{ "max_output_bytes_total zero",
	    BASE "limits : { max_output_bytes_total = 0; };\n", 8,
	    "limits.max_output_bytes_total: 0 is out of range "
	    "1048576..1099511627776" },
	{ "max_output_bytes_total under a MiB",
	    BASE "limits : { max_output_bytes_total = 1048575; };\n", 8,
	    "1048575 is out of range 1048576.." },
	{ "max_output_bytes_total over a TiB",
	    BASE "limits : { max_output_bytes_total = 1099511627777L; };\n", 8,
	    "1099511627777 is out of range" },
	{ "max_output_bytes_total with a unit",
	    BASE "limits : { max_output_bytes_total = \"256M\"; };\n", 8,
	    "max_output_bytes_total: must be an integer" },
	{ "hello_timeout_ms too short",
	    BASE "limits : { hello_timeout_ms = 99; };\n", 8,
	    "99 is out of range 100..600000" },
	{ "hello_timeout_ms too long",
	    BASE "limits : { hello_timeout_ms = 600001; };\n", 8,
	    "600001 is out of range" },
};

/* Each mistake is refused with its file:line and what is wrong. */
static void
test_errors(void **state)
{
	struct conf *conf;
	char *path, *cause;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(error_cases); i++) {
		const struct error_case *c = &error_cases[i];

		path = test_conf("error.conf", c->text);
		conf = NULL;
		cause = NULL;
		if (conf_load(path, &conf, &cause) != -1)
			fail_msg("%s: loaded", c->what);
		assert_null(conf);
		assert_non_null(cause);
		if (!test_cause_has(cause, path, c->line, c->message))
			fail_msg("%s: expected line %d \"%s\", got:\n%s",
			    c->what, c->line, c->message, cause);
		free(cause);
		free(path);
	}
}

/* A file with many mistakes gets every one reported, in file order. */
static void
test_all_errors(void **state)
{
	static const char text[] =
	    "listen = [ \"127.0.0.1:0\" ];\n"
	    "database = 5;\n"
	    "colour = \"blue\";\n"
	    "routing : {\n"
	    "  tiers = ( { tier = 1; strategy = \"x\"; },\n"
	    "            { tier = 0; strategy = \"ring-all\"; } );\n"
	    "  max_wait_ms = 0;\n"
	    "};\n"
	    "limits : { max_line_bytes = 1; };\n";
	static const struct {
		int line;
		const char *message;
	} expect[] = {
		{ 1, "port must be" },
		{ 2, "database: must be a string" },
		{ 3, "colour: unknown key" },
		{ 5, "unknown strategy \"x\"" },
		{ 6, "0 is out of range" },
		{ 7, "max_wait_ms: 0 is out of range" },
		{ 4, "missing required key overflow_target" },
		{ 9, "max_line_bytes: 1 is out of range" },
	};
	struct conf *conf = NULL;
	char *path = test_conf("many.conf", text), *cause = NULL;
	size_t i;

	(void)state;
	assert_int_equal(conf_load(path, &conf, &cause), -1);
	assert_int_equal(test_cause_lines(cause), nitems(expect));
	for (i = 0; i < nitems(expect); i++) {
		if (!test_cause_has(cause, path, expect[i].line,
		        expect[i].message))
			fail_msg("expected line %d \"%s\" in:\n%s",
			    expect[i].line, expect[i].message, cause);
	}
	free(cause);
	free(path);
}

/* A missing file is an error naming the file; cause may be NULL. */
static void
test_missing_file(void **state)
{
	struct conf *conf = NULL;
	char *path, *cause = NULL;

	(void)state;
	xasprintf(&path, "%s/nonexistent.conf", test_dir);
	assert_int_equal(conf_load(path, &conf, &cause), -1);
	assert_null(conf);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "No such file"));
	assert_int_equal(conf_load(path, &conf, NULL), -1);
	free(cause);
	free(path);
}

/* The path: explicit, else $CRISISD_CONF, else the default. */
static void
test_conf_path(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("CRISISD_CONF"), 0);
	assert_string_equal(conf_path("/x.conf"), "/x.conf");
	assert_string_equal(conf_path(NULL), CONF_DEFAULT_PATH);
	assert_string_equal(conf_path(""), CONF_DEFAULT_PATH);
	assert_int_equal(setenv("CRISISD_CONF", "/env.conf", 1), 0);
	assert_string_equal(conf_path(NULL), "/env.conf");
	assert_string_equal(conf_path("/x.conf"), "/x.conf");
	assert_int_equal(setenv("CRISISD_CONF", "", 1), 0);
	assert_string_equal(conf_path(NULL), CONF_DEFAULT_PATH);
	assert_int_equal(unsetenv("CRISISD_CONF"), 0);
}

static const struct {
	enum strategy strategy;
	const char *name;
} strategy_cases[] = {
	{ STRATEGY_RING_ALL, "ring-all" },
	{ STRATEGY_LONGEST_IDLE, "longest-idle" },
	{ STRATEGY_ROUND_ROBIN, "round-robin" },
	{ STRATEGY_SEQUENTIAL, "sequential" },
	{ STRATEGY_FEWEST_CONTACTS, "fewest-contacts" },
};

/* Strategy names both ways; unknown names are -1. */
static void
test_strategy_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(strategy_cases); i++) {
		assert_string_equal(conf_strategy_name(
		                        strategy_cases[i].strategy),
		    strategy_cases[i].name);
		assert_int_equal(conf_strategy_from_name(
		                     strategy_cases[i].name),
		    strategy_cases[i].strategy);
	}
	assert_int_equal(conf_strategy_from_name("Ring-All"), -1);
	assert_int_equal(conf_strategy_from_name(""), -1);
}

/* With the machine's own tzdata, a real zone passes and a typo does not. */
static void
test_real_tzdata(void **state)
{
	char *saved = xstrdup_null(getenv("TZDIR"));
	struct conf *conf = NULL;
	char *path, *cause = NULL;

	(void)state;
	if (access("/usr/share/zoneinfo/America/New_York", R_OK) != 0) {
		free(saved);
		skip();
	}
	assert_int_equal(unsetenv("TZDIR"), 0);
	conf = test_load_ok("realtz.conf",
	    BASE "timezone = \"America/New_York\";\n");
	assert_string_equal(conf->timezone, "America/New_York");
	conf_free(conf);
	conf = NULL;
	path = test_conf("realtz.conf", BASE "timezone = \"EST5EDTX\";\n");
	assert_int_equal(conf_load(path, &conf, &cause), -1);
	assert_true(test_cause_has(cause, path, 8, "unknown time zone"));
	if (saved != NULL)
		assert_int_equal(setenv("TZDIR", saved, 1), 0);
	free(cause);
	free(path);
	free(saved);
}

/* The corpus directory: $CRISISD_TEST_CONF_DIR or tests/conf. */
static const char *
test_corpus_dir(void)
{
	const char *dir = getenv("CRISISD_TEST_CONF_DIR");

	return dir != NULL && dir[0] != '\0' ? dir : TEST_CONF_DIR;
}

/* Every *.conf in dir/sub, sorted; returns how many (free with free()). */
static int
test_corpus(const char *sub, struct dirent ***files)
{
	char dir[PATH_MAX];
	int n;

	snprintf(dir, sizeof dir, "%s/%s", test_corpus_dir(), sub);
	n = scandir(dir, files, NULL, alphasort);
	if (n < 0)
		fail_msg("cannot read %s (run from the repository root or set "
		         "CRISISD_TEST_CONF_DIR)",
		    dir);
	return n;
}

/* Does a directory entry name a .conf file? */
static bool
test_is_conf(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 5 && strcmp(d->d_name + len - 5, ".conf") == 0;
}

/* Read "# expect: LINE: text" from the first line of path. */
static void
test_expectation(const char *path, int *line, char *text, size_t size)
{
	char first[TEST_LINE_MAX_BYTES];
	FILE *f = fopen(path, "r");
	int skip = 0;

	assert_non_null(f);
	assert_non_null(fgets(first, sizeof first, f));
	fclose(f);
	first[strcspn(first, "\n")] = '\0';
	if (sscanf(first, "# expect: %d: %n", line, &skip) != 1 || skip == 0)
		fail_msg("%s: first line must be \"# expect: LINE: text\"",
		    path);
	strlcpy_(text, first + skip, size);
}

/* Every file in tests/conf/bad fails with exactly its expected error. */
static void
test_corpus_bad(void **state)
{
	char path[PATH_MAX], text[TEST_LINE_MAX_BYTES];
	struct dirent **files;
	struct conf *conf;
	char *cause;
	int i, n, line, checked = 0;

	(void)state;
	n = test_corpus("bad", &files);
	for (i = 0; i < n; i++) {
		if (test_is_conf(files[i])) {
			snprintf(path, sizeof path, "%s/bad/%s",
			    test_corpus_dir(), files[i]->d_name);
			test_expectation(path, &line, text, sizeof text);
			conf = NULL;
			cause = NULL;
			if (conf_load(path, &conf, &cause) != -1)
				fail_msg("%s: loaded", path);
			if (test_cause_lines(cause) != 1 ||
			    !test_cause_has(cause, path, line, text))
				fail_msg("%s: expected only line %d \"%s\", "
				         "got:\n%s",
				    path, line, text, cause);
			free(cause);
			checked++;
		}
		free(files[i]);
	}
	free(files);
	assert_true(checked >= 10);
}

/* Every file in tests/conf/good loads. */
static void
test_corpus_good(void **state)
{
	char path[PATH_MAX];
	struct dirent **files;
	struct conf *conf;
	char *cause;
	int i, n, checked = 0;

	(void)state;
	n = test_corpus("good", &files);
	for (i = 0; i < n; i++) {
		if (test_is_conf(files[i])) {
			snprintf(path, sizeof path, "%s/good/%s",
			    test_corpus_dir(), files[i]->d_name);
			conf = NULL;
			cause = NULL;
			if (conf_load(path, &conf, &cause) != 0)
				fail_msg("%s:\n%s", path, cause);
			assert_true(conf->nlisten >= 1);
			assert_true(conf->ntiers >= 1);
			assert_non_null(conf->database);
			conf_free(conf);
			checked++;
		}
		free(files[i]);
	}
	free(files);
	assert_true(checked >= 3);
}

/* The shipped conf/crisisd.conf loads with the contract's values. */
static void
test_sample(void **state)
{
	struct conf *conf = NULL;
	char path[PATH_MAX], *cause = NULL;

	(void)state;
	snprintf(path, sizeof path, "%s/../../conf/crisisd.conf",
	    test_corpus_dir());
	if (conf_load(path, &conf, &cause) != 0)
		fail_msg("%s:\n%s", path, cause);
	assert_int_equal(conf->nlisten, 1);
	assert_string_equal(conf->listen[0], "127.0.0.1:7410");
	assert_string_equal(conf->database, "/var/lib/crisisd/crisisd.db");
	assert_int_equal(conf->log_level, LOG_LEVEL_INFO);
	assert_string_equal(conf->timezone, "America/New_York");
	assert_int_equal(conf->ntiers, 3);
	assert_int_equal(conf->tiers[1].strategy, STRATEGY_LONGEST_IDLE);
	assert_int_equal(conf->tiers[1].offer_timeout_ms, 15000);
	assert_int_equal(conf->max_wait_ms, 90000);
	assert_string_equal(conf->overflow_target, "tel:988");
	assert_int_equal(conf->continuity_ms, 10000);
	assert_int_equal(conf->imminent_max_wait_ms, 30000);
	assert_int_equal(conf->wrapup_ms, 30000);
	assert_int_equal(conf->max_missed_offers, 3);
	assert_int_equal(conf->max_offers_per_clinician, 1);
	assert_int_equal(conf->max_connections, 10000);
	assert_int_equal(conf->max_output_bytes_total, 268435456);
	assert_int_equal(conf->max_line_bytes, 16384);
	assert_int_equal(conf->hello_timeout_ms, 5000);
	conf_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_output_total_bounds),
		cmocka_unit_test(test_database_path),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_all_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_conf_path),
		cmocka_unit_test(test_strategy_names),
		cmocka_unit_test(test_real_tzdata),
		cmocka_unit_test(test_corpus_bad),
		cmocka_unit_test(test_corpus_good),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
