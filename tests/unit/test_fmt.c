/*
 * test_fmt.c: crisisctl's table, JSON and CSV output (alignment, quoting,
 * times in UTC and across the 2026-11-01 change in America/New_York,
 * durations, nested objects) and the CSV reader behind roster import.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "fmt.h"
#include "util.h"

/* 2026-11-01 05:30 and 06:30 UTC: 01:30 EDT, then 01:30 EST an hour later. */
#define TEST_BEFORE_FALLBACK_MS 1793511000000LL
#define TEST_AFTER_FALLBACK_MS 1793514600000LL
/* 2026-11-27T10:00:00Z */
#define TEST_NOV27_MS 1795773600000LL

/* Output captured in memory. */
struct capture {
	FILE *fp;
	char *buf;
	size_t len;
};

/* Open a memory stream to print into. */
static FILE *
capture_open(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->buf, &c->len);
	assert_non_null(c->fp);
	return c->fp;
}

/* Close the stream; the text stays in c->buf for the caller to free. */
static const char *
capture_text(struct capture *c)
{
	fclose(c->fp);
	return c->buf;
}

/* Parse JSON text written by a test into a tree, failing the test if bad. */
static json_t *
load(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, 0, &err);

	if (v == NULL)
		fail_msg("bad JSON in test: %s: %s", err.text, text);
	return v;
}

/* Print rows with fmt_rows and compare the whole output. */
static void
expect_rows(enum fmt_format format, const char *rows_json,
    const char *const *columns, const char *tz, const char *want)
{
	struct capture c;
	json_t *rows = load(rows_json);

	assert_int_equal(fmt_rows(capture_open(&c), format, rows, columns, tz),
	    0);
	assert_string_equal(capture_text(&c), want);
	free(c.buf);
	json_decref(rows);
}

/* Print an object with fmt_object and compare the whole output. */
static void
expect_object(enum fmt_format format, const char *obj_json, const char *tz,
    const char *want)
{
	struct capture c;
	json_t *obj = load(obj_json);

	assert_int_equal(fmt_object(capture_open(&c), format, obj, tz), 0);
	assert_string_equal(capture_text(&c), want);
	free(c.buf);
	json_decref(obj);
}

/* Format names go both ways; unknown names are refused. */
static void
test_format_names(void **state)
{
	(void)state;
	assert_int_equal(fmt_format_from_name("table"), FMT_TABLE);
	assert_int_equal(fmt_format_from_name("json"), FMT_JSON);
	assert_int_equal(fmt_format_from_name("csv"), FMT_CSV);
	assert_int_equal(fmt_format_from_name("xml"), -1);
	assert_int_equal(fmt_format_from_name("JSON"), -1);
	assert_string_equal(fmt_format_name(FMT_CSV), "csv");
}

/* Which keys are times and which durations. */
static void
test_keys(void **state)
{
	static const struct {
		const char *key;
		bool time, duration;
	} cases[] = {
		{ "queued_at", true, false },
		{ "start", true, false },
		{ "end", true, false },
		{ "at", true, false },
		{ "format", false, false },
		{ "state", false, false },
		{ "_at", true, false },
		{ "elapsed_ms", false, true },
		{ "ms", false, false },
		{ "starts", false, false },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		assert_int_equal(jsontime_is_key(cases[i].key), cases[i].time);
		assert_int_equal(fmt_is_duration_key(cases[i].key),
		    cases[i].duration);
	}
	assert_false(jsontime_is_key(NULL));
}

/* Durations read as [[Dd ]H:]MM:SS.mmm. */
static void
test_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
		{ 0, "00:00.000" },
		{ 12345, "00:12.345" },
		{ 61001, "01:01.001" },
		{ 3599999, "59:59.999" },
		{ 3600000, "1:00:00.000" },
		{ 86399999, "23:59:59.999" },
		{ 90061001, "1d 01:01:01.001" },
		{ 604800000, "7d 00:00:00.000" },
		{ -1500, "-00:01.500" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		fmt_duration(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

/* Columns line up; numbers are right-aligned; null is "-"; no trailing blanks.
 */
static void
test_table_alignment(void **state)
{
	static const char *const cols[] = { "id", "n", "name", NULL };

	(void)state;
	expect_rows(FMT_TABLE,
	    "[{\"id\":\"a\",\"n\":5,\"name\":\"Ann\",\"hidden\":1},"
	    " {\"id\":\"bbbb\",\"n\":123,\"name\":null}]",
	    cols, NULL,
	    "ID      N  NAME\n"
	    "a       5  Ann\n"
	    "bbbb  123  -\n");
}

/* Only columns with numbers (and nulls) are right-aligned, not all-null ones.
 */
static void
test_table_null_columns(void **state)
{
	static const char *const cols[] = { "tier", "program", "n", NULL };

	(void)state;
	expect_rows(FMT_TABLE,
	    "[{\"tier\":null,\"program\":null,\"n\":\"x\"},"
	    " {\"tier\":12,\"program\":null,\"n\":3}]",
	    cols, NULL,
	    "TIER  PROGRAM  N\n"
	    "   -  -        x\n"
	    "  12  -        3\n");
}

/* Widths count characters, not bytes; control characters are escaped. */
static void
test_table_utf8_and_escapes(void **state)
{
	(void)state;
	expect_rows(FMT_TABLE,
	    "[{\"name\":\"Jos\\u00e9\",\"x\":\"a\\nb\\tc\\u0001\"},"
	    " {\"name\":\"Al\",\"x\":\"c\"}]",
	    NULL, NULL,
	    "NAME  X\n"
	    "Jos\xc3\xa9  a\\nb\\tc\\x01\n"
	    "Al    c\n");
}

/* An empty listing still prints its header. */
static void
test_table_empty(void **state)
{
	static const char *const cols[] = { "tier", "clinician", NULL };

	(void)state;
	expect_rows(FMT_TABLE, "[]", cols, NULL, "TIER  CLINICIAN\n");
	expect_rows(FMT_CSV, "[]", cols, NULL, "tier,clinician\r\n");
	expect_rows(FMT_JSON, "[]", cols, NULL, "[]\n");
}

/* Table times follow the zone across the fall-back hour; UTC without one. */
static void
test_table_timezone_dst(void **state)
{
	char rows[128];

	(void)state;
	snprintf(rows, sizeof(rows), "[{\"at\":%lld},{\"at\":%lld}]",
	    TEST_BEFORE_FALLBACK_MS, TEST_AFTER_FALLBACK_MS);
	expect_rows(FMT_TABLE, rows, NULL, "America/New_York",
	    "AT\n"
	    "2026-11-01 01:30:00 EDT\n"
	    "2026-11-01 01:30:00 EST\n");
	expect_rows(FMT_TABLE, rows, NULL, NULL,
	    "AT\n"
	    "2026-11-01 05:30:00 UTC\n"
	    "2026-11-01 06:30:00 UTC\n");
	/* CSV ignores the zone: RFC 3339 UTC. */
	expect_rows(FMT_CSV, rows, NULL, "America/New_York",
	    "at\r\n"
	    "2026-11-01T05:30:00.000Z\r\n"
	    "2026-11-01T06:30:00.000Z\r\n");
}

/*
 * CSV quotes commas and quotes (RFC 4180); line breaks are escaped, so a
 * record is one line; null is empty.
 */
static void
test_csv_quoting(void **state)
{
	char rows[256];

	(void)state;
	snprintf(rows, sizeof(rows),
	    "[{\"id\":\"a,b\",\"note\":\"say "
	    "\\\"hi\\\"\",\"multi\":\"l1\\nl2\","
	    "\"cr\":\"x\\ry\",\"n\":7,\"none\":null,\"rate\":0.5,"
	    "\"needs\":[\"mat\",\"family\"],\"queued_at\":%lld}]",
	    TEST_NOV27_MS);
	expect_rows(FMT_CSV, rows, NULL, NULL,
	    "id,note,multi,cr,n,none,rate,needs,queued_at\r\n"
	    "\"a,b\",\"say \"\"hi\"\"\",l1\\nl2,x\\ry,7,,0.5,"
	    "\"[\"\"mat\"\",\"\"family\"\"]\",2026-11-27T10:00:00.000Z\r\n");
}

/* One text cell under "patient", in a table and in CSV, from raw bytes. */
struct hygiene_case {
	const char *in;
	size_t len; /* of in, which may hold a NUL */
	const char *table;
	const char *csv;
};

#define HC(in, table, csv)                                                     \
	{                                                                      \
		in, sizeof(in) - 1, table, csv                                 \
	}

/* Print one row holding text as the patient and compare the output. */
static void
expect_cell(enum fmt_format format, const struct hygiene_case *hc)
{
	static const char *const cols[] = { "patient", NULL };
	const char *cell = format == FMT_TABLE ? hc->table : hc->csv;
	json_t *rows = json_pack("[{s:o}]", "patient",
	    json_stringn_nocheck(hc->in, hc->len));
	struct capture c;
	char want[256];

	snprintf(want, sizeof(want),
	    format == FMT_TABLE ? "PATIENT\n%s\n" : "patient\r\n%s\r\n", cell);
	assert_int_equal(fmt_rows(capture_open(&c), format, rows, cols, NULL),
	    0);
	assert_string_equal(capture_text(&c), want);
	free(c.buf);
	json_decref(rows);
}

/*
 * Issue 12: CSV neutralises formula cells with a leading ' (inside the
 * quoting); table and CSV escape C0 and C1 controls, DEL, bidirectional
 * controls and invalid UTF-8 as \t \n \r \xNN \uNNNN; other text is left
 * alone.
 */
static void
test_output_hygiene(void **state)
{
	static const struct hygiene_case cases[] = {
		HC("=HYPERLINK(\"http://x.test/\",\"call\")",
		    "=HYPERLINK(\"http://x.test/\",\"call\")",
		    "\"'=HYPERLINK(\"\"http://x.test/\"\",\"\"call\"\")\""),
		HC("+15550100", "+15550100", "'+15550100"),
		HC("-2+3", "-2+3", "'-2+3"),
		HC("@SUM(A1:A9)", "@SUM(A1:A9)", "'@SUM(A1:A9)"),
		HC("\t=1", "\\t=1", "'\\t=1"),
		HC("\r=1", "\\r=1", "'\\r=1"),
		HC("=a,b", "=a,b", "\"'=a,b\""),
		/* Not at the start: not a formula. */
		HC("a=1", "a=1", "a=1"),
		HC("'=1", "'=1", "'=1"),
		HC(" =1", " =1", " =1"),
		/* C0 controls and DEL. */
		HC("a\x1b[31mred\x07", "a\\x1b[31mred\\x07",
		    "a\\x1b[31mred\\x07"),
		HC("l1\nl2", "l1\\nl2", "l1\\nl2"),
		HC("a\x7fz", "a\\x7fz", "a\\x7fz"),
		HC("a\0b", "a\\x00b", "a\\x00b"),
		/* C1 controls: CSI (U+009B), NEL (U+0085), U+0080. */
		HC("a\xc2\x9b[31m", "a\\u009b[31m", "a\\u009b[31m"),
		HC("\xc2\x85\xc2\x80", "\\u0085\\u0080", "\\u0085\\u0080"),
		/* Bidirectional controls: RLO, LRE, PDI, LRM, RLM, ALM. */
		HC("abc\xe2\x80\xaegnp.exe", "abc\\u202egnp.exe",
		    "abc\\u202egnp.exe"),
		HC("\xe2\x80\xaa\xe2\x81\xa9", "\\u202a\\u2069",
		    "\\u202a\\u2069"),
		HC("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u200e\\u200f\\u061c",
		    "\\u200e\\u200f\\u061c"),
		/* Invalid UTF-8: stray, cut short, overlong, surrogate, big. */
		HC("a\xffz", "a\\xffz", "a\\xffz"),
		HC("a\xc3", "a\\xc3", "a\\xc3"),
		HC("\xc0\xaf", "\\xc0\\xaf", "\\xc0\\xaf"),
		HC("\xed\xa0\x80", "\\xed\\xa0\\x80", "\\xed\\xa0\\x80"),
		HC("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80",
		    "\\xf4\\x90\\x80\\x80"),
		/* Plain text and letters are left alone. */
		HC("p-1234", "p-1234", "p-1234"),
		HC("Jos\xc3\xa9", "Jos\xc3\xa9", "Jos\xc3\xa9"),
		HC("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac",
		    "\xe6\x97\xa5\xe6\x9c\xac"),
		HC("\xc2\xa0\xe2\x80\x8b\xf0\x9f\x98\x80",
		    "\xc2\xa0\xe2\x80\x8b\xf0\x9f\x98\x80",
		    "\xc2\xa0\xe2\x80\x8b\xf0\x9f\x98\x80"),
		HC("C:\\x1b", "C:\\x1b", "C:\\x1b"),
		HC("", "", ""),
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		expect_cell(FMT_TABLE, &cases[i]);
		expect_cell(FMT_CSV, &cases[i]);
	}
}

/*
 * Numbers crisisctl formats itself stay numbers in CSV, negative or not;
 * only text is neutralised.  Text in a nested value is escaped too.
 */
static void
test_csv_numbers_not_neutralised(void **state)
{
	(void)state;
	expect_rows(FMT_CSV,
	    "[{\"n\":-5,\"wait_ms\":-1500,\"rate\":-0.5,\"id\":\"-5\","
	    "\"tags\":[\"=x\",\"\\u001b\\u202e\"]}]",
	    NULL, NULL,
	    "n,wait_ms,rate,id,tags\r\n"
	    "-5,-1500,-0.5,'-5,\"[\"\"=x\"\",\"\"\\u001B\\u202e\"\"]\"\r\n");
	expect_object(FMT_CSV, "{\"by_risk\":{\"-\\u001b\":-1},\"=k\":\"@v\"}",
	    NULL,
	    "key,value\r\n"
	    "by_risk.-\\x1b,-1\r\n"
	    "'=k,'@v\r\n");
}

/* Table widths count the escaped text; keys and headers are escaped. */
static void
test_table_escaped_widths(void **state)
{
	(void)state;
	expect_rows(FMT_TABLE,
	    "[{\"a\\u001b\":\"\\u202e\",\"n\":1},{\"a\\u001b\":\"x\",\"n\":22}"
	    "]",
	    NULL, NULL,
	    "A\\x1b    N\n"
	    "\\u202e   1\n"
	    "x       22\n");
	expect_object(FMT_TABLE, "{\"k\\u009b\":\"v\\u0007\",\"kk\":1}", NULL,
	    "k\\u009b  v\\x07\n"
	    "kk       1\n");
}

/* JSON keeps the exact text: no escapes beyond JSON's, no ' added. */
static void
test_json_exact(void **state)
{
	static const char *const texts[] = {
		"=HYPERLINK(\"http://x.test/\",\"call\")",
		"+1",
		"-1",
		"@x",
		"\t=1",
		"\r=1",
		"a\x1b[31mb\x07",
		"a\xc2\x9b[1m",
		"a\xe2\x80\xaez",
		"Jos\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",
	};
	struct capture c;
	json_t *rows, *got, *obj;

	(void)state;
	for (size_t i = 0; i < nitems(texts); i++) {
		rows = json_pack("[{s:s}]", "patient", texts[i]);
		assert_int_equal(fmt_rows(capture_open(&c), FMT_JSON, rows,
		                     NULL, NULL),
		    0);
		got = load(capture_text(&c));
		assert_true(json_equal(got, rows));
		/* Non-ASCII goes out as UTF-8, as it came. */
		if (strstr(texts[i], "\xe2\x80\xae") != NULL)
			assert_non_null(strstr(c.buf, "\xe2\x80\xae"));
		free(c.buf);
		json_decref(got);
		obj = json_array_get(rows, 0);
		assert_int_equal(fmt_object(capture_open(&c), FMT_JSON, obj,
		                     NULL),
		    0);
		got = load(capture_text(&c));
		assert_true(json_equal(got, obj));
		free(c.buf);
		json_decref(got);
		json_decref(rows);
	}
}

/* JSON keeps every key, writes times as RFC 3339 and leaves the input alone. */
static void
test_json_times(void **state)
{
	struct capture c;
	char text[256];
	json_t *rows, *out, *row;

	(void)state;
	snprintf(text, sizeof(text),
	    "[{\"id\":\"c1\",\"queued_at\":%lld,\"assigned_at\":null,"
	    "\"wait_ms\":1500,\"events\":[{\"at\":%lld,\"event\":\"queued\","
	    "\"detail\":{\"risk\":\"high\"}}]}]",
	    TEST_NOV27_MS, TEST_NOV27_MS + 250);
	rows = load(text);
	assert_int_equal(fmt_rows(capture_open(&c), FMT_JSON, rows, NULL,
	                     "America/New_York"),
	    0);
	out = load(capture_text(&c));
	row = json_array_get(out, 0);
	assert_string_equal(json_string_value(
	                        json_object_get(row, "queued_at")),
	    "2026-11-27T10:00:00.000Z");
	assert_true(json_is_null(json_object_get(row, "assigned_at")));
	assert_int_equal(json_integer_value(json_object_get(row, "wait_ms")),
	    1500);
	row = json_array_get(json_object_get(row, "events"), 0);
	assert_string_equal(json_string_value(json_object_get(row, "at")),
	    "2026-11-27T10:00:00.250Z");
	assert_string_equal(json_string_value(
	                        json_object_get(json_object_get(row, "detail"),
	                            "risk")),
	    "high");
	/* The caller's tree still holds ms. */
	assert_int_equal(json_integer_value(
	                     json_object_get(json_array_get(rows, 0),
	                         "queued_at")),
	    TEST_NOV27_MS);
	free(c.buf);
	json_decref(out);
	json_decref(rows);
}

/* A streamed listing: each row freed once printed, the header from row 1. */
static void
test_stream(void **state)
{
	static const char *const texts[] = {
		"{\"id\":\"c2\",\"at\":1795773600000,\"n\":null}",
		"{\"id\":\"c,1\",\"at\":null,\"n\":2}",
	};
	static const char *const want[] = {
		[FMT_CSV] = "id,at,n\r\n"
		            "c2,2026-11-27T10:00:00.000Z,\r\n"
		            "\"c,1\",,2\r\n",
		[FMT_JSON] =
		    "[\n"
		    "  {\"id\":\"c2\",\"at\":\"2026-11-27T10:00:00.000Z\","
		    "\"n\":null},\n"
		    "  {\"id\":\"c,1\",\"at\":null,\"n\":2}\n"
		    "]\n",
	};
	static const enum fmt_format formats[] = { FMT_CSV, FMT_JSON };
	struct fmt_stream fs;
	struct capture c;
	json_t *row;

	(void)state;
	for (size_t f = 0; f < nitems(formats); f++) {
		fmt_stream_begin(&fs, capture_open(&c), formats[f], NULL, NULL);
		for (size_t i = 0; i < nitems(texts); i++) {
			row = load(texts[i]);
			assert_int_equal(fmt_stream_row(&fs, row), 0);
			json_decref(row);
		}
		assert_int_equal(fmt_stream_end(&fs), 0);
		assert_string_equal(capture_text(&c), want[formats[f]]);
		free(c.buf);
	}
	/* A table cannot be streamed. */
	fmt_stream_begin(&fs, capture_open(&c), FMT_TABLE, NULL, NULL);
	row = load(texts[0]);
	assert_int_equal(fmt_stream_row(&fs, row), -1);
	json_decref(row);
	fmt_stream_end(&fs);
	capture_text(&c);
	free(c.buf);
}

#define TEST_STATS                                                             \
	"{\"total\":3,\"answer_rate\":0.6667,"                                 \
	"\"time_to_answer_ms\":{\"median\":1500,\"p90\":65000},"               \
	"\"by_risk\":{\"high\":2},"                                            \
	"\"per_clinician\":[{\"clinician\":\"alice\",\"offers\":4,"            \
	"\"median_time_to_answer_ms\":1500}]}"

/* A nested object as a table: sections indented, durations readable. */
static void
test_object_table(void **state)
{
	(void)state;
	expect_object(FMT_TABLE, TEST_STATS, NULL,
	    "total        3\n"
	    "answer_rate  0.6667\n"
	    "time_to_answer_ms\n"
	    "  median  00:01.500\n"
	    "  p90     01:05.000\n"
	    "by_risk\n"
	    "  high  2\n"
	    "per_clinician\n"
	    "  CLINICIAN  OFFERS  MEDIAN_TIME_TO_ANSWER\n"
	    "  alice           4              00:01.500\n");
}

/* A nested object as CSV: one dotted path per leaf, ms left as numbers. */
static void
test_object_csv(void **state)
{
	(void)state;
	expect_object(FMT_CSV, TEST_STATS, NULL,
	    "key,value\r\n"
	    "total,3\r\n"
	    "answer_rate,0.6667\r\n"
	    "time_to_answer_ms.median,1500\r\n"
	    "time_to_answer_ms.p90,65000\r\n"
	    "by_risk.high,2\r\n"
	    "per_clinician.0.clinician,alice\r\n"
	    "per_clinician.0.offers,4\r\n"
	    "per_clinician.0.median_time_to_answer_ms,1500\r\n");
}

/* A nested object as JSON keeps its shape. */
static void
test_object_json(void **state)
{
	struct capture c;
	json_t *want = load(TEST_STATS), *got;

	(void)state;
	assert_int_equal(fmt_object(capture_open(&c), FMT_JSON, want, NULL), 0);
	got = load(capture_text(&c));
	assert_true(json_equal(got, want));
	free(c.buf);
	json_decref(got);
	json_decref(want);
}

/* A CSV reader over a string of given length. */
struct reader {
	FILE *fp;
	struct fmt_csv csv;
};

/* Start reading len bytes of text. */
static void
reader_open(struct reader *r, const char *text, size_t len)
{
	r->fp = fmemopen((void *)(uintptr_t)text, len, "r");
	assert_non_null(r->fp);
	fmt_csv_init(&r->csv, r->fp);
}

/* The next record must have these fields (NULL-terminated), from line. */
static void
expect_record(struct reader *r, long line, const char *const *fields)
{
	char *cause = NULL;
	size_t n = 0;

	assert_int_equal(fmt_csv_read(&r->csv, &cause), 1);
	while (fields[n] != NULL) {
		assert_true(n < r->csv.nfields);
		assert_string_equal(r->csv.fields[n], fields[n]);
		n++;
	}
	assert_int_equal(r->csv.nfields, n);
	assert_int_equal(r->csv.record_line, line);
}

/* The input must be over. */
static void
expect_end(struct reader *r)
{
	char *cause = NULL;

	assert_int_equal(fmt_csv_read(&r->csv, &cause), 0);
	assert_null(cause);
	fclose(r->fp);
}

/* Quoted fields, escaped quotes, quoted newlines, CRLF, BOM, blank lines. */
static void
test_csv_read_good(void **state)
{
	static const char text[] = "\xef\xbb\xbf"
	                           "clinician,tier,start,end\r\n"
	                           "\"alice\",1,\"2026-11-27T10:00:00Z\",x\r\n"
	                           "\"o\"\"neil, j\",2,\"multi\nline\",\r\n"
	                           ",,\n"
	                           "\r\n"
	                           "\n"
	                           "last,row\n"
	                           "\r\n";
	static const char *const r1[] = { "clinician", "tier", "start", "end",
		NULL };
	static const char *const r2[] = { "alice", "1", "2026-11-27T10:00:00Z",
		"x", NULL };
	static const char *const r3[] = { "o\"neil, j", "2", "multi\nline", "",
		NULL };
	static const char *const r4[] = { "", "", "", NULL };
	static const char *const r5[] = { "last", "row", NULL };
	struct reader r;

	(void)state;
	reader_open(&r, text, strlen(text));
	expect_record(&r, 1, r1);
	expect_record(&r, 2, r2);
	expect_record(&r, 3, r3);
	expect_record(&r, 5, r4);
	expect_record(&r, 8, r5);
	expect_end(&r);
}

/* No final newline, lone CRs, a quoted field that is the whole line. */
static void
test_csv_read_endings(void **state)
{
	static const char text[] = "a\rb,\"c\"\rd";
	static const char *const r1[] = { "a", NULL };
	static const char *const r2[] = { "b", "c", NULL };
	static const char *const r3[] = { "d", NULL };
	struct reader r;

	(void)state;
	reader_open(&r, text, strlen(text));
	expect_record(&r, 1, r1);
	expect_record(&r, 2, r2);
	expect_record(&r, 3, r3);
	expect_end(&r);
	reader_open(&r, "", 0);
	expect_end(&r);
}

/* A line of exactly the limit is read; one byte more is refused. */
static void
test_csv_read_line_limit(void **state)
{
	char *text = xmalloc(FMT_CSV_LINE_MAX_BYTES + 3);
	char *cause = NULL;
	struct reader r;

	(void)state;
	memset(text, 'a', FMT_CSV_LINE_MAX_BYTES);
	strcpy(text + FMT_CSV_LINE_MAX_BYTES, "\r\n");
	reader_open(&r, text, strlen(text));
	assert_int_equal(fmt_csv_read(&r.csv, &cause), 1);
	assert_int_equal(strlen(r.csv.fields[0]), FMT_CSV_LINE_MAX_BYTES);
	expect_end(&r);

	memset(text, 'a', FMT_CSV_LINE_MAX_BYTES + 1);
	strcpy(text + FMT_CSV_LINE_MAX_BYTES + 1, "\n");
	reader_open(&r, text, strlen(text));
	assert_int_equal(fmt_csv_read(&r.csv, &cause), -1);
	assert_non_null(strstr(cause, "longer than 4096 bytes"));
	assert_int_equal(r.csv.line, 1);
	free(cause);
	fclose(r.fp);
	free(text);
}

/* Bad input is refused with the line at fault and why. */
static void
test_csv_read_errors(void **state)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		long line;
		const char *why;
	} cases[] = {
		{ "h\na,\"b\nc\n", 0, 2, "quoted field never closed" },
		{ "h\nx\na\"b\n", 0, 3, "quote inside an unquoted field" },
		{ "\"a\"b\n", 0, 1, "text after a closing quote" },
		{ "\"a\" ,b\n", 0, 1, "text after a closing quote" },
		{ "ok\na\0b\n", 7, 2, "NUL byte" },
		{ "\xef\xbb"
		  "x\n",
		    0, 1, "byte order mark" },
		{ ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n", 0, 1,
		    "more than 32 fields" },
	};
	char *cause;
	struct reader r;
	int rc;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		size_t len =
		    cases[i].len != 0 ? cases[i].len : strlen(cases[i].text);

		reader_open(&r, cases[i].text, len);
		cause = NULL;
		while ((rc = fmt_csv_read(&r.csv, &cause)) == 1)
			;
		assert_int_equal(rc, -1);
		assert_non_null(cause);
		if (strstr(cause, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, cause,
			    cases[i].why);
		assert_int_equal(r.csv.line, cases[i].line);
		free(cause);
		fclose(r.fp);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_table_alignment),
		cmocka_unit_test(test_table_null_columns),
		cmocka_unit_test(test_table_utf8_and_escapes),
		cmocka_unit_test(test_table_empty),
		cmocka_unit_test(test_table_timezone_dst),
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_output_hygiene),
		cmocka_unit_test(test_csv_numbers_not_neutralised),
		cmocka_unit_test(test_table_escaped_widths),
		cmocka_unit_test(test_json_exact),
		cmocka_unit_test(test_json_times),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_object_table),
		cmocka_unit_test(test_object_csv),
		cmocka_unit_test(test_object_json),
		cmocka_unit_test(test_csv_read_good),
		cmocka_unit_test(test_csv_read_endings),
		cmocka_unit_test(test_csv_read_line_limit),
		cmocka_unit_test(test_csv_read_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
