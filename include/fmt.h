/*
 * fmt.h: crisisctl's listings as a table, JSON or CSV, and the CSV reader
 * for roster imports.  Pure: values in, text out to a FILE *; no store, no
 * clock.
 *
 * Values are jansson trees.  Keys ending in "_at", and "start", "end" and
 * "at", hold times (ms since the epoch, UTC): a table shows them in the
 * configured time zone, JSON and CSV as RFC 3339 UTC.  Keys ending in "_ms"
 * hold durations: a table shows them as [[Dd ]H:]MM:SS.mmm, JSON and CSV as
 * ms.
 */
#ifndef CRISISD_FMT_H
#define CRISISD_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "jsontime.h"

enum fmt_format {
	FMT_TABLE = 0,
	FMT_JSON,
	FMT_CSV,
};

/* "table", "json", "csv" and back (-1 if unknown). */
int fmt_format_from_name(const char *name);
const char *fmt_format_name(enum fmt_format format);

/* Does key hold a duration?  (Times: jsontime.h.) */
bool fmt_is_duration_key(const char *key);

/*
 * A duration as "MM:SS.mmm", from an hour on as "H:MM:SS.mmm", from a day
 * on as "Dd HH:MM:SS.mmm".
 */
void fmt_duration(int64_t ms, char *buf, size_t size);

/*
 * A listing: rows is an array of flat objects.  columns (NULL-terminated,
 * or NULL for the first row's keys) picks and orders the table's and the
 * CSV's columns; JSON prints every key, one row per line.  tz names the table's
 * time zone (NULL: UTC).  Returns -1 if writing failed.
 */
int fmt_rows(FILE *fp, enum fmt_format format, json_t *rows,
    const char *const *columns, const char *tz);

/*
 * A JSON or CSV listing printed row by row, for more rows than should be
 * held in memory at once: begin, a row at a time (the caller keeps each
 * row until the next call), end.  JSON is an array with one compact
 * object per line; the CSV header comes from columns, or else from the
 * first row.  A table cannot be streamed: its columns are aligned.
 */
struct fmt_stream {
	FILE *fp;
	enum fmt_format format;
	const char *const *columns;
	const char *tz;
	size_t nrows;
	char **keys; /* copies of the first row's keys, when columns is NULL */
};

void fmt_stream_begin(struct fmt_stream *fs, FILE *fp, enum fmt_format format,
    const char *const *columns, const char *tz);
/* -1 if writing failed, or for a table or a row that is not an object. */
int fmt_stream_row(struct fmt_stream *fs, json_t *row);
/* -1 if any of the listing failed to print. */
int fmt_stream_end(struct fmt_stream *fs);

/*
 * One object, possibly nested (stats, a contact): a table prints aligned
 * "key  value" lines with nested objects indented under their key and
 * arrays of objects as indented tables; CSV prints "key,value" rows with
 * dotted paths ("by_risk.high", "per_clinician.0.offers").
 */
int fmt_object(FILE *fp, enum fmt_format format, json_t *obj, const char *tz);

/* --- reading CSV (RFC 4180, with CRLF or LF, blank lines skipped) --- */

#define FMT_CSV_LINE_MAX_BYTES 4096 /* one physical line */
#define FMT_CSV_RECORD_MAX_BYTES 16384 /* a record, quoted newlines and all */
#define FMT_CSV_FIELDS_MAX 32

struct fmt_csv {
	FILE *fp;
	long line; /* the line being read, from 1 */
	long record_line; /* the line the last record began on */
	size_t nfields;
	char *fields[FMT_CSV_FIELDS_MAX];
	char buf[FMT_CSV_RECORD_MAX_BYTES + FMT_CSV_FIELDS_MAX];
	size_t len;
	size_t line_bytes;
	bool started; /* the byte order mark check is done */
};

void fmt_csv_init(struct fmt_csv *csv, FILE *fp);

/*
 * Read the next record into csv->fields (valid until the next call).
 * Returns 1 for a record, 0 at the end, -1 with *cause (caller frees) on
 * bad input, csv->line then naming the line at fault.  A UTF-8 byte order
 * mark before the first record is skipped.
 */
int fmt_csv_read(struct fmt_csv *csv, char **cause);

#endif
