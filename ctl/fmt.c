/*
 * fmt.c: crisisctl's output: the formats by name, what a value looks like
 * (times, durations, a cell's text), JSON, and the entry points of fmt.h,
 * which hand a table to fmt_table.c and CSV to fmt_csv.c.
 *
 * Everything here is pure formatting over jansson values, so the unit tests
 * can drive it into an open_memstream() buffer.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fmt.h"
#include "fmt_int.h"
#include "util.h"

/* Longest time, duration or number text, with its NUL. */
#define FMT_SCALAR_MAX 64

static const char *const fmt_format_names[] = {
	[FMT_TABLE] = "table",
	[FMT_JSON] = "json",
	[FMT_CSV] = "csv",
};

/* The format named name, or -1. */
int
fmt_format_from_name(const char *name)
{
	for (size_t i = 0; i < nitems(fmt_format_names); i++) {
		if (strcmp(name, fmt_format_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* The name of a format. */
const char *
fmt_format_name(enum fmt_format format)
{
	return fmt_format_names[format];
}

/* Does s end with suffix? */
static bool
fmt_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Keys ending in "_ms" are durations. */
bool
fmt_is_duration_key(const char *key)
{
	return key != NULL && fmt_ends_with(key, "_ms");
}

/* Format a duration in ms as [[Dd ]H:]MM:SS.mmm, with a sign if negative. */
void
fmt_duration(int64_t ms, char *buf, size_t size)
{
	const char *sign = ms < 0 ? "-" : "";
	uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	uint64_t d = v / 86400000, h = v / 3600000 % 24, m = v / 60000 % 60;
	uint64_t s = v / 1000 % 60, frac = v % 1000;

	if (d > 0)
		snprintf(buf, size,
		    "%s%" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64
		    ".%03" PRIu64,
		    sign, d, h, m, s, frac);
	else if (h > 0)
		snprintf(buf, size,
		    "%s%" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64,
		    sign, h, m, s, frac);
	else
		snprintf(buf, size, "%s%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64,
		    sign, m, s, frac);
}

/* Print v as indented JSON, times in RFC 3339 UTC, and a newline. */
static void
fmt_json_print(FILE *fp, json_t *v)
{
	json_t *copy = jsontime_copy(v);

	json_dumpf(copy, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', fp);
	json_decref(copy);
}

/*
 * Output hygiene (issue 12).  Text that reaches a table or a CSV file from
 * outside crisisctl (patient ids, refs, notes, names, disclosure
 * recipients, and keys) may hold bytes a terminal or a spreadsheet would
 * act on.  fmt_text() escapes them visibly, one form for both formats:
 *
 *   - TAB, LF and CR as \t, \n and \r; the other C0 controls and DEL
 *     as \xNN (ESC is \x1b), so a row is always one line, in CSV too;
 *   - C1 controls (U+0080..U+009F) and the bidirectional controls
 *     (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) as \uNNNN
 *     (CSI is \u009b, RLO \u202e);
 *   - each byte that is not part of valid UTF-8 as \xNN.
 *
 * Hex digits are lower case.  A backslash itself is left as it is: the
 * escapes are for reading, and JSON output gives the exact text.
 *
 * In CSV, text whose first character is =, +, -, @, TAB or CR (a formula
 * to a spreadsheet) also gets a leading ' (inside the usual quoting).
 * Only text is neutralised, never a number crisisctl formats itself: a
 * duration or a count may be negative (a clock stepped back), and "-5"
 * must stay a number to a spreadsheet.  Times, crisisctl's own RFC 3339
 * text, are left alone too; a nested value is compact JSON, which starts
 * with [ or {.
 */

/* Leading characters that make a spreadsheet read a CSV cell as a formula. */
static const char fmt_formula_leaders[] = "=+-@\t\r";

/* Is cp a bidirectional control: a mark, embedding, override or isolate? */
static bool
fmt_is_bidi(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * The length of the valid UTF-8 sequence at s (n bytes left) and its code
 * point in *cp; 0 if the bytes there are not valid UTF-8 (a stray or
 * missing continuation byte, an overlong form, a surrogate, past U+10FFFF).
 */
static size_t
fmt_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t v, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1fU;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		v = s[0] & 0x0fU;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07U;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3fU);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* The len bytes of s as a table's or a CSV file's text (caller frees). */
char *
fmt_text(const char *s, size_t len, enum fmt_format format)
{
	const unsigned char *u = (const unsigned char *)s;
	/* At most 4 characters a byte (\xNN), a ' and the NUL. */
	char *out = xmalloc(len * 4 + 2), *p = out;
	uint32_t cp;
	size_t n;

	if (format == FMT_CSV && len > 0 && s[0] != '\0' &&
	    strchr(fmt_formula_leaders, s[0]) != NULL)
		*p++ = '\'';
	for (size_t i = 0; i < len; i += n) {
		if ((n = fmt_utf8(u + i, len - i, &cp)) == 0) {
			p += sprintf(p, "\\x%02x", u[i]);
			n = 1;
		} else if (cp == '\n' || cp == '\t' || cp == '\r') {
			*p++ = '\\';
			*p++ = cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r';
		} else if (cp < 0x20 || cp == 0x7f)
			p += sprintf(p, "\\x%02x", (unsigned)cp);
		else if ((cp >= 0x80 && cp <= 0x9f) || fmt_is_bidi(cp))
			p += sprintf(p, "\\u%04x", (unsigned)cp);
		else {
			memcpy(p, s + i, n);
			p += n;
		}
	}
	*p = '\0';
	return out;
}

/* A NUL-terminated string as a table's or a CSV file's text. */
char *
fmt_text_str(const char *s, enum fmt_format format)
{
	return fmt_text(s, strlen(s), format);
}

/* An integer's text: a time, a duration (table only) or a plain number. */
static void
fmt_integer(json_int_t n, const char *key, bool duration,
    enum fmt_format format, const char *tz, char buf[FMT_SCALAR_MAX])
{
	if (jsontime_is_key(key) && format == FMT_TABLE)
		util_format_local(n, tz, buf, FMT_SCALAR_MAX);
	else if (jsontime_is_key(key))
		util_format_rfc3339(n, buf);
	else if (format == FMT_TABLE && (duration || fmt_is_duration_key(key)))
		fmt_duration(n, buf, FMT_SCALAR_MAX);
	else
		snprintf(buf, FMT_SCALAR_MAX, "%" JSON_INTEGER_FORMAT, n);
}

/*
 * The text of one value under key for a table or a CSV file (caller
 * frees).  Nested values are compact JSON.
 */
char *
fmt_cell(json_t *v, const char *key, bool duration, enum fmt_format format,
    const char *tz)
{
	char buf[FMT_SCALAR_MAX], *text, *out;

	switch (json_typeof(v)) {
	case JSON_NULL:
		return xstrdup(format == FMT_TABLE ? "-" : "");
	case JSON_TRUE:
		return xstrdup("true");
	case JSON_FALSE:
		return xstrdup("false");
	case JSON_STRING:
		return fmt_text(json_string_value(v), json_string_length(v),
		    format);
	case JSON_INTEGER:
		fmt_integer(json_integer_value(v), key, duration, format, tz,
		    buf);
		return xstrdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf),
		    format == FMT_TABLE ? "%.4g" : "%.6g", json_real_value(v));
		return xstrdup(buf);
	default:
		text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text == NULL)
			return xstrdup("");
		/* Starts with [ or {: escaped, never taken for a formula. */
		out = fmt_text_str(text, format);
		free(text);
		return out;
	}
}

/* Is v a non-empty array of objects (printed as a nested table)? */
bool
fmt_is_row_array(json_t *v)
{
	return json_is_array(v) && json_array_size(v) > 0 &&
	    json_is_object(json_array_get(v, 0));
}

/* Flush fp and say whether everything reached it. */
static int
fmt_done(FILE *fp)
{
	if (fflush(fp) != 0 || ferror(fp))
		return -1;
	return 0;
}

/* Start a listing printed row by row. */
void
fmt_stream_begin(struct fmt_stream *fs, FILE *fp, enum fmt_format format,
    const char *const *columns, const char *tz)
{
	memset(fs, 0, sizeof(*fs));
	fs->fp = fp;
	fs->format = format;
	fs->columns = columns;
	fs->tz = tz;
}

/* Print one row as an element of a JSON array, one line each. */
static void
fmt_stream_json(struct fmt_stream *fs, json_t *row)
{
	json_t *copy = jsontime_copy(row);

	fputs(fs->nrows == 0 ? "[\n  " : ",\n  ", fs->fp);
	json_dumpf(copy, fs->fp, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(copy);
}

/* Print one row of the listing. */
int
fmt_stream_row(struct fmt_stream *fs, json_t *row)
{
	if (fs->format == FMT_TABLE || !json_is_object(row))
		return -1;
	if (fs->format == FMT_CSV) {
		if (fs->nrows == 0)
			fmt_csv_write_header(fs, row);
		fmt_csv_write_row(fs, row);
	} else
		fmt_stream_json(fs, row);
	fs->nrows++;
	return ferror(fs->fp) ? -1 : 0;
}

/* End the listing; -1 if any of it failed to print. */
int
fmt_stream_end(struct fmt_stream *fs)
{
	if (fs->format == FMT_JSON)
		fputs(fs->nrows == 0 ? "[]\n" : "\n]\n", fs->fp);
	else if (fs->format == FMT_CSV && fs->nrows == 0)
		fmt_csv_write_header(fs, NULL);
	for (size_t i = 0; fs->keys != NULL && fs->keys[i] != NULL; i++)
		free(fs->keys[i]);
	free(fs->keys);
	fs->keys = NULL;
	return fmt_done(fs->fp);
}

/* Print a listing of flat objects in the chosen format. */
int
fmt_rows(FILE *fp, enum fmt_format format, json_t *rows,
    const char *const *columns, const char *tz)
{
	struct fmt_stream fs;
	json_t *row;
	size_t i;

	if (!json_is_array(rows))
		return -1;
	if (format == FMT_TABLE) {
		fmt_table_rows(fp, rows, columns, tz);
		return fmt_done(fp);
	}
	fmt_stream_begin(&fs, fp, format, columns, tz);
	json_array_foreach (rows, i, row)
		fmt_stream_row(&fs, row);
	return fmt_stream_end(&fs);
}

/* Print one (possibly nested) object in the chosen format. */
int
fmt_object(FILE *fp, enum fmt_format format, json_t *obj, const char *tz)
{
	if (!json_is_object(obj))
		return -1;
	switch (format) {
	case FMT_JSON:
		fmt_json_print(fp, obj);
		break;
	case FMT_CSV:
		fmt_csv_write_object(fp, obj, tz);
		break;
	case FMT_TABLE:
		fmt_table_object(fp, obj, tz);
		break;
	}
	return fmt_done(fp);
}
