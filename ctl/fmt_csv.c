/*
 * fmt_csv.c: crisisctl's CSV (RFC 4180, CRLF line ends), both ways: a
 * listing's header and records, one object flattened to "key,value"
 * records with dotted paths, and the reader behind `roster import`.
 * What is written is escaped and neutralised as fmt.c's fmt_text() says:
 * one record a line, and no text cell a spreadsheet would run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fmt.h"
#include "fmt_int.h"
#include "util.h"

/* Longest dotted path of a CSV-flattened object. */
#define FMT_PATH_MAX 256

/* --- writing CSV --- */

/*
 * Print one CSV field, quoted when it holds a comma or a quote.  Fields
 * come from fmt_cell() or fmt_csv_write_text(), escaped, so they hold no
 * line breaks; the check stays for safety.
 */
static void
fmt_csv_write_field(FILE *fp, const char *s)
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

/* Print a column name or a dotted path as a field, escaped and neutralised. */
static void
fmt_csv_write_text(FILE *fp, const char *s)
{
	char *text = fmt_text_str(s, FMT_CSV);

	fmt_csv_write_field(fp, text);
	free(text);
}

/* Print the CSV header, from the first row's keys if no columns were given. */
void
fmt_csv_write_header(struct fmt_stream *fs, json_t *first)
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
		fmt_csv_write_text(fs->fp, fs->columns[n]);
	}
	fputs("\r\n", fs->fp);
}

/* Print one row as a CSV record. */
void
fmt_csv_write_row(struct fmt_stream *fs, json_t *row)
{
	for (size_t c = 0; fs->columns[c] != NULL; c++) {
		json_t *v = json_object_get(row, fs->columns[c]);
		char *cell = fmt_cell(v != NULL ? v : json_null(),
		    fs->columns[c], false, FMT_CSV, fs->tz);

		if (c > 0)
			fputc(',', fs->fp);
		fmt_csv_write_field(fs->fp, cell);
		free(cell);
	}
	fputs("\r\n", fs->fp);
}

/* Print v's leaves as "path,value" CSV records, path dotted from prefix. */
static void
fmt_csv_write_leaves(FILE *fp, json_t *v, const char *prefix, const char *key,
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
			fmt_csv_write_leaves(fp, child, path, k, tz,
			    duration || fmt_is_duration_key(k));
		}
		json_array_foreach (v, i, child) {
			snprintf(path, sizeof(path), "%s.%zu", prefix, i);
			fmt_csv_write_leaves(fp, child, path, NULL, tz,
			    duration);
		}
		return;
	}
	cell = fmt_cell(v, key, duration, FMT_CSV, tz);
	fmt_csv_write_text(fp, prefix);
	fputc(',', fp);
	fmt_csv_write_field(fp, cell);
	fputs("\r\n", fp);
	free(cell);
}

/* Print one (possibly nested) object as "key,value" CSV records. */
void
fmt_csv_write_object(FILE *fp, json_t *obj, const char *tz)
{
	fputs("key,value\r\n", fp);
	fmt_csv_write_leaves(fp, obj, "", NULL, tz, false);
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
