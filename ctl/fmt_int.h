/*
 * fmt_int.h: what crisisctl's output files share: a value's text in a
 * table cell or a CSV field (fmt.c), and the printers of a table
 * (fmt_table.c) and of CSV (fmt_csv.c) that fmt.h's entry points call.
 * Nothing outside ctl/fmt*.c includes it.
 */
#ifndef CRISISD_FMT_INT_H
#define CRISISD_FMT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "fmt.h"

/* --- fmt.c --- */

/*
 * The len bytes of s as text for a table or a CSV file (caller frees):
 * control characters, C1 controls, bidirectional controls and invalid
 * UTF-8 escaped as \t \n \r \xNN \uNNNN, and for CSV a leading ' on
 * text a spreadsheet would take for a formula.  fmt.c says more.
 */
char *fmt_text(const char *s, size_t len, enum fmt_format format);

/* The same for a NUL-terminated string. */
char *fmt_text_str(const char *s, enum fmt_format format);

/*
 * The text of one value under key for a table or a CSV file (caller
 * frees).  Nested values are compact JSON.  duration: an enclosing key
 * holds durations, so a table shows the integers under it as durations.
 */
char *fmt_cell(json_t *v, const char *key, bool duration,
    enum fmt_format format, const char *tz);

/* Is v a non-empty array of objects (printed as a nested table)? */
bool fmt_is_row_array(json_t *v);

/* --- fmt_table.c --- */

/* A listing of flat objects as aligned columns (fmt_rows' table). */
void fmt_table_rows(FILE *fp, json_t *rows, const char *const *columns,
    const char *tz);

/* One (possibly nested) object as indented "key  value" lines. */
void fmt_table_object(FILE *fp, json_t *obj, const char *tz);

/* --- fmt_csv.c --- */

/* A streamed listing's CSV header: its columns, or first's keys. */
void fmt_csv_write_header(struct fmt_stream *fs, json_t *first);

/* One row of a streamed listing as a CSV record. */
void fmt_csv_write_row(struct fmt_stream *fs, json_t *row);

/* One (possibly nested) object as "key,value" records, paths dotted. */
void fmt_csv_write_object(FILE *fp, json_t *obj, const char *tz);

#endif
