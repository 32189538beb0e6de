/*
 * fmt.c: crisisctl's output as an aligned table, JSON or CSV, and the CSV
 * reader behind `roster import`.
 *
 * Everything here is pure formatting over jansson values, so the unit tests
 * can drive it into an open_memstream() buffer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fmt.h"
#include "util.h"

/* Spaces between table columns. */
#define FMT_TABLE_GAP 2
/* Indentation per nesting level of a table-printed object. */
#define FMT_INDENT 2
/* Longest time, duration or number text, with its NUL. */
#define FMT_SCALAR_MAX 64
/* Longest dotted path of a CSV-flattened object. */
#define FMT_PATH_MAX 256

static const char *const fmt_format_names[] = {
	[FMT_TABLE] = "table",
	[FMT_JSON] = "json",
	[FMT_CSV] = "csv",
};

/* A grid of cell texts, header row first, ready to print. */
struct fmt_grid {
	size_t ncols;
	size_t nrows;
	char **cells; /* nrows * ncols, row-major */
	size_t *width; /* per column, in characters */
	bool *numeric; /* per column: right-aligned */
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

/* Keys ending in "_at", and "start", "end", "at", are times. */
bool
fmt_is_time_key(const char *key)
{
	return key != NULL &&
	    (fmt_ends_with(key, "_at") || strcmp(key, "start") == 0 ||
	        strcmp(key, "end") == 0 || strcmp(key, "at") == 0);
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

/* Copy v, turning integers under time keys into RFC 3339 text. */
static json_t *
fmt_json_times_at(json_t *v, bool is_time)
{
	char buf[RFC3339_MAX];
	const char *key;
	json_t *out, *child;
	size_t i;

	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach (v, key, child)
			json_object_set_new(out, key,
			    fmt_json_times_at(child, fmt_is_time_key(key)));
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach (v, i, child)
			json_array_append_new(out,
			    fmt_json_times_at(child, false));
		return out;
	}
	if (is_time && json_is_integer(v)) {
		util_format_rfc3339(json_integer_value(v), buf);
		return json_string(buf);
	}
	return json_deep_copy(v);
}

/* A deep copy of v with times as RFC 3339 UTC text. */
json_t *
fmt_json_times(json_t *v)
{
	return fmt_json_times_at(v, false);
}

/* Print v as indented JSON, times in RFC 3339 UTC, and a newline. */
static void
fmt_json_print(FILE *fp, json_t *v)
{
	json_t *copy = fmt_json_times(v);

	json_dumpf(copy, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', fp);
	json_decref(copy);
}

/* Text with control characters escaped, so a table row stays one line. */
static char *
fmt_escape(const char *s)
{
	size_t n = 0;
	char *out, *p;

	for (const char *q = s; *q != '\0'; q++)
		n += (unsigned char)*q < 0x20 || *q == 0x7f ? 4 : 1;
	out = p = xmalloc(n + 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n' || c == '\t' || c == '\r') {
			*p++ = '\\';
			*p++ = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else if (c < 0x20 || c == 0x7f)
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	*p = '\0';
	return out;
}

/* An integer's text: a time, a duration (table only) or a plain number. */
static void
fmt_integer(json_int_t n, const char *key, bool duration,
    enum fmt_format format, const char *tz, char buf[FMT_SCALAR_MAX])
{
	if (fmt_is_time_key(key) && format == FMT_TABLE)
		util_format_local(n, tz, buf, FMT_SCALAR_MAX);
	else if (fmt_is_time_key(key))
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
static char *
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
		return format == FMT_TABLE ? fmt_escape(json_string_value(v))
		                           : xstrdup(json_string_value(v));
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
		if (format != FMT_TABLE)
			return text;
		out = fmt_escape(text);
		free(text);
		return out;
	}
}

/* Characters (not bytes) in UTF-8 text, for column widths. */
static size_t
fmt_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

/*
 * A column name as a table header: upper case, and without "_ms" on
 * durations, which the table shows as [H:]MM:SS.mmm rather than in ms.
 */
static char *
fmt_header(const char *name)
{
	char *out = xstrdup(name);

	if (fmt_is_duration_key(name))
		out[strlen(out) - strlen("_ms")] = '\0';

	for (char *p = out; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	return out;
}

/* The names of the first row's keys, for a listing without columns. */
static const char **
fmt_row_keys(json_t *rows, size_t *ncols)
{
	json_t *first = json_array_get(rows, 0), *v;
	const char **cols, *key;
	size_t n = 0;

	cols = xcalloc(json_object_size(first) + 1, sizeof(*cols));
	json_object_foreach (first, key, v)
		cols[n++] = key;
	*ncols = n;
	return cols;
}

/* Fill a grid with a header and one row per object of rows. */
static void
fmt_grid_fill(struct fmt_grid *g, json_t *rows, const char *const *cols,
    enum fmt_format format, const char *tz, bool duration)
{
	json_t *row, *v;
	size_t r, c;
	bool *text; /* per column: holds something other than numbers */

	g->nrows = json_array_size(rows) + 1;
	g->cells = xcalloc(g->nrows * g->ncols, sizeof(*g->cells));
	g->width = xcalloc(g->ncols, sizeof(*g->width));
	g->numeric = xcalloc(g->ncols, sizeof(*g->numeric));
	text = xcalloc(g->ncols, sizeof(*text));
	for (c = 0; c < g->ncols; c++) {
		g->cells[c] = format == FMT_TABLE ? fmt_header(cols[c])
		                                  : xstrdup(cols[c]);
		text[c] = fmt_is_time_key(cols[c]);
	}
	/* A column is right-aligned if it holds numbers and nothing but null.
	 */
	json_array_foreach (rows, r, row) {
		for (c = 0; c < g->ncols; c++) {
			v = json_object_get(row, cols[c]);
			if (v == NULL)
				v = json_null();
			if (json_is_number(v))
				g->numeric[c] = true;
			else if (!json_is_null(v))
				text[c] = true;
			g->cells[(r + 1) * g->ncols + c] =
			    fmt_cell(v, cols[c], duration, format, tz);
		}
	}
	for (c = 0; c < g->ncols; c++)
		g->numeric[c] = g->numeric[c] && !text[c];
	for (r = 0; r < g->nrows; r++) {
		for (c = 0; c < g->ncols; c++) {
			size_t w = fmt_width(g->cells[r * g->ncols + c]);
			if (w > g->width[c])
				g->width[c] = w;
		}
	}
	free(text);
}

/* Free a grid's cells and column data. */
static void
fmt_grid_free(struct fmt_grid *g)
{
	for (size_t i = 0; i < g->nrows * g->ncols; i++)
		free(g->cells[i]);
	free(g->cells);
	free(g->width);
	free(g->numeric);
}

/* Print n spaces. */
static void
fmt_pad(FILE *fp, size_t n)
{
	while (n-- > 0)
		fputc(' ', fp);
}

/* Print a grid as aligned columns, numbers right-aligned, no trailing blanks.
 */
static void
fmt_grid_table(FILE *fp, const struct fmt_grid *g, size_t indent)
{
	for (size_t r = 0; r < g->nrows; r++) {
		fmt_pad(fp, indent);
		for (size_t c = 0; c < g->ncols; c++) {
			const char *cell = g->cells[r * g->ncols + c];
			size_t pad = g->width[c] - fmt_width(cell);
			bool last = c + 1 == g->ncols;

			if (g->numeric[c])
				fmt_pad(fp, pad);
			fputs(cell, fp);
			if (!g->numeric[c] && !last)
				fmt_pad(fp, pad);
			if (!last)
				fmt_pad(fp, FMT_TABLE_GAP);
		}
		fputc('\n', fp);
	}
}

/* Print one CSV field, quoted when it holds a comma, quote or line break. */
static void
fmt_csv_field(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

/* Print rows as a table under the given (or the first row's) columns. */
static void
fmt_table(FILE *fp, json_t *rows, const char *const *columns, const char *tz,
    size_t indent, bool duration)
{
	struct fmt_grid g = { 0 };
	const char **keys = NULL;

	if (columns == NULL) {
		keys = fmt_row_keys(rows, &g.ncols);
		columns = keys;
	} else {
		while (columns[g.ncols] != NULL)
			g.ncols++;
	}
	fmt_grid_fill(&g, rows, columns, FMT_TABLE, tz, duration);
	fmt_grid_table(fp, &g, indent);
	fmt_grid_free(&g);
	free(keys);
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

/* Print the CSV header, from the first row's keys if no columns were given. */
static void
fmt_stream_header(struct fmt_stream *fs, json_t *first)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	if (fs->columns == NULL && first != NULL) {
		/* Copies: the caller frees first before the next row. */
		fs->keys =
		    xcalloc(json_object_size(first) + 1, sizeof(*fs->keys));
		json_object_foreach (first, key, v)
			fs->keys[n++] = xstrdup(key);
		fs->columns = (const char *const *)fs->keys;
	}
	for (n = 0; fs->columns != NULL && fs->columns[n] != NULL; n++) {
		if (n > 0)
			fputc(',', fs->fp);
		fmt_csv_field(fs->fp, fs->columns[n]);
	}
	fputs("\r\n", fs->fp);
}

/* Print one row as a CSV record. */
static void
fmt_stream_csv(struct fmt_stream *fs, json_t *row)
{
	for (size_t c = 0; fs->columns[c] != NULL; c++) {
		json_t *v = json_object_get(row, fs->columns[c]);
		char *cell = fmt_cell(v != NULL ? v : json_null(),
		    fs->columns[c], false, FMT_CSV, fs->tz);

		if (c > 0)
			fputc(',', fs->fp);
		fmt_csv_field(fs->fp, cell);
		free(cell);
	}
	fputs("\r\n", fs->fp);
}

/* Print one row as an element of a JSON array, one line each. */
static void
fmt_stream_json(struct fmt_stream *fs, json_t *row)
{
	json_t *copy = fmt_json_times(row);

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
			fmt_stream_header(fs, row);
		fmt_stream_csv(fs, row);
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
		fmt_stream_header(fs, NULL);
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
		fmt_table(fp, rows, columns, tz, 0, false);
		return fmt_done(fp);
	}
	fmt_stream_begin(&fs, fp, format, columns, tz);
	json_array_foreach (rows, i, row)
		fmt_stream_row(&fs, row);
	return fmt_stream_end(&fs);
}

/* Is v a non-empty array of objects (printed as a nested table)? */
static bool
fmt_is_row_array(json_t *v)
{
	return json_is_array(v) && json_array_size(v) > 0 &&
	    json_is_object(json_array_get(v, 0));
}

/* Print an object as indented "key  value" lines, nesting under keys. */
static void
fmt_object_table(FILE *fp, json_t *obj, const char *tz, size_t indent,
    bool duration)
{
	size_t width = 0;
	const char *key;
	json_t *v;
	char *cell;

	json_object_foreach (obj, key, v) {
		if (!json_is_object(v) && !fmt_is_row_array(v) &&
		    fmt_width(key) > width)
			width = fmt_width(key);
	}
	json_object_foreach (obj, key, v) {
		bool dur = duration || fmt_is_duration_key(key);

		fmt_pad(fp, indent);
		if (json_is_object(v) || fmt_is_row_array(v)) {
			fprintf(fp, "%s\n", key);
			if (json_is_object(v))
				fmt_object_table(fp, v, tz, indent + FMT_INDENT,
				    dur);
			else
				fmt_table(fp, v, NULL, tz, indent + FMT_INDENT,
				    dur);
			continue;
		}
		cell = fmt_cell(v, key, duration, FMT_TABLE, tz);
		fputs(key, fp);
		fmt_pad(fp, width - fmt_width(key) + FMT_TABLE_GAP);
		fprintf(fp, "%s\n", cell);
		free(cell);
	}
}

/* Print v's leaves as "path,value" CSV records, path dotted from prefix. */
static void
fmt_object_csv(FILE *fp, json_t *v, const char *prefix, const char *key,
    const char *tz, bool duration)
{
	char path[FMT_PATH_MAX];
	const char *k;
	json_t *child;
	size_t i;
	char *cell;

	if (json_is_object(v) || fmt_is_row_array(v)) {
		json_object_foreach (v, k, child) {
			snprintf(path, sizeof(path), "%s%s%s", prefix,
			    *prefix != '\0' ? "." : "", k);
			fmt_object_csv(fp, child, path, k, tz,
			    duration || fmt_is_duration_key(k));
		}
		json_array_foreach (v, i, child) {
			snprintf(path, sizeof(path), "%s.%zu", prefix, i);
			fmt_object_csv(fp, child, path, NULL, tz, duration);
		}
		return;
	}
	cell = fmt_cell(v, key, duration, FMT_CSV, tz);
	fmt_csv_field(fp, prefix);
	fputc(',', fp);
	fmt_csv_field(fp, cell);
	fputs("\r\n", fp);
	free(cell);
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
		fputs("key,value\r\n", fp);
		fmt_object_csv(fp, obj, "", NULL, tz, false);
		break;
	case FMT_TABLE:
		fmt_object_table(fp, obj, tz, 0, false);
		break;
	}
	return fmt_done(fp);
}

/* --- reading CSV --- */

enum fmt_csv_state {
	FMT_CSV_FIELD_START,
	FMT_CSV_UNQUOTED,
	FMT_CSV_QUOTED,
	FMT_CSV_QUOTE_SEEN, /* a quote inside a quoted field: end or escape */
};

/* Start reading records from fp. */
void
fmt_csv_init(struct fmt_csv *csv, FILE *fp)
{
	memset(csv, 0, sizeof(*csv));
	csv->fp = fp;
	csv->line = 1;
}

/* Start a new field at the end of the buffer; -1 if there are too many. */
static int
fmt_csv_field_start(struct fmt_csv *csv, char **cause)
{
	if (csv->nfields == FMT_CSV_FIELDS_MAX) {
		xasprintf(cause, "more than %d fields", FMT_CSV_FIELDS_MAX);
		return -1;
	}
	csv->fields[csv->nfields++] = csv->buf + csv->len;
	return 0;
}

/* Add one byte to the current field; -1 if the record is too long. */
static int
fmt_csv_put(struct fmt_csv *csv, char c, char **cause)
{
	if (csv->len >= sizeof(csv->buf) - 1) {
		xasprintf(cause, "record longer than %d bytes",
		    FMT_CSV_RECORD_MAX_BYTES);
		return -1;
	}
	csv->buf[csv->len++] = c;
	return 0;
}

/* Read one byte, counting lines and refusing NULs and over-long lines. */
static int
fmt_csv_getc(struct fmt_csv *csv, char **cause)
{
	int c = getc(csv->fp);

	if (c == EOF) {
		if (ferror(csv->fp)) {
			xasprintf(cause, "read error");
			return -2;
		}
		return EOF;
	}
	if (c == '\0') {
		xasprintf(cause, "NUL byte in the text");
		return -2;
	}
	if (c != '\n' && c != '\r' &&
	    ++csv->line_bytes > FMT_CSV_LINE_MAX_BYTES) {
		xasprintf(cause, "line longer than %d bytes",
		    FMT_CSV_LINE_MAX_BYTES);
		return -2;
	}
	return c;
}

/* Note the end of a physical line (LF, CRLF or a lone CR). */
static void
fmt_csv_newline(struct fmt_csv *csv, int c)
{
	int next;

	if (c == '\r') {
		next = getc(csv->fp);
		if (next != '\n' && next != EOF)
			ungetc(next, csv->fp);
	}
	csv->line++;
	csv->line_bytes = 0;
}

/* Handle one byte outside quotes: 1 at the end of the record, 0 to go on. */
static int
fmt_csv_plain(struct fmt_csv *csv, int c, enum fmt_csv_state *state,
    char **cause)
{
	switch (c) {
	case ',':
		if (fmt_csv_put(csv, '\0', cause) == -1 ||
		    fmt_csv_field_start(csv, cause) == -1)
			return -1;
		*state = FMT_CSV_FIELD_START;
		return 0;
	case '\r':
	case '\n':
		fmt_csv_newline(csv, c);
		return 1;
	case '"':
		if (*state == FMT_CSV_FIELD_START) {
			*state = FMT_CSV_QUOTED;
			return 0;
		}
		xasprintf(cause,
		    *state == FMT_CSV_UNQUOTED
		        ? "quote inside an unquoted field"
		        : "text after a closing quote");
		return -1;
	default:
		if (*state == FMT_CSV_QUOTE_SEEN) {
			xasprintf(cause, "text after a closing quote");
			return -1;
		}
		*state = FMT_CSV_UNQUOTED;
		return fmt_csv_put(csv, (char)c, cause);
	}
}

/* Handle one byte inside quotes. */
static int
fmt_csv_quoted(struct fmt_csv *csv, int c, enum fmt_csv_state *state,
    char **cause)
{
	if (c == '"') {
		*state = FMT_CSV_QUOTE_SEEN;
		return 0;
	}
	if (c == '\n') {
		csv->line++;
		csv->line_bytes = 0;
	}
	return fmt_csv_put(csv, (char)c, cause);
}

/* Read one record, blank or not: 1, 0 at the end, -1 on bad input. */
static int
fmt_csv_record(struct fmt_csv *csv, char **cause)
{
	enum fmt_csv_state state = FMT_CSV_FIELD_START;
	bool any = false;
	int c, r;

	csv->nfields = 0;
	csv->len = 0;
	csv->record_line = csv->line;
	if (fmt_csv_field_start(csv, cause) == -1)
		return -1;
	for (;;) {
		if ((c = fmt_csv_getc(csv, cause)) == -2)
			return -1;
		if (c == EOF) {
			if (state == FMT_CSV_QUOTED) {
				csv->line = csv->record_line;
				xasprintf(cause, "quoted field never closed");
				return -1;
			}
			if (!any)
				return 0;
			break;
		}
		any = true;
		if (state == FMT_CSV_QUOTED)
			r = fmt_csv_quoted(csv, c, &state, cause);
		else if (state == FMT_CSV_QUOTE_SEEN && c == '"') {
			state = FMT_CSV_QUOTED;
			r = fmt_csv_put(csv, '"', cause);
		} else
			r = fmt_csv_plain(csv, c, &state, cause);
		if (r == -1)
			return -1;
		if (r == 1)
			break;
	}
	return fmt_csv_put(csv, '\0', cause) == -1 ? -1 : 1;
}

/* Skip a UTF-8 byte order mark at the start of the file. */
static int
fmt_csv_bom(struct fmt_csv *csv, char **cause)
{
	int c = getc(csv->fp);

	csv->started = true;
	if (c != 0xef) {
		if (c != EOF)
			ungetc(c, csv->fp);
		return 0;
	}
	if (getc(csv->fp) != 0xbb || getc(csv->fp) != 0xbf) {
		xasprintf(cause, "bad byte order mark");
		return -1;
	}
	return 0;
}

/* Read the next non-blank record. */
int
fmt_csv_read(struct fmt_csv *csv, char **cause)
{
	int r;

	if (!csv->started && fmt_csv_bom(csv, cause) == -1)
		return -1;
	do {
		if ((r = fmt_csv_record(csv, cause)) != 1)
			return r;
	} while (csv->nfields == 1 && csv->fields[0][0] == '\0');
	return 1;
}
