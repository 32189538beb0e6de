/*
 * fmt_table.c: crisisctl's aligned tables: a listing as columns under
 * upper-case headers, numbers right-aligned, and one object as indented
 * "key  value" lines, its nested listings as tables under their key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fmt.h"
#include "fmt_int.h"
#include "util.h"

/* Spaces between table columns. */
#define FMT_TABLE_GAP 2
/* Indentation per nesting level of a table-printed object. */
#define FMT_INDENT 2

/* A grid of cell texts, header row first, ready to print. */
struct fmt_grid {
	size_t ncols;
	size_t nrows;
	char **cells; /* nrows * ncols, row-major */
	size_t *width; /* per column, in characters */
	bool *numeric; /* per column: right-aligned */
};

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
 * durations, which the table shows as [H:]MM:SS.mmm rather than in ms;
 * escaped like any text (a listing without columns takes the first row's
 * keys).
 */
static char *
fmt_header(const char *name)
{
	char *up = xstrdup(name), *out;

	if (fmt_is_duration_key(name))
		up[strlen(up) - strlen("_ms")] = '\0';

	for (char *p = up; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	out = fmt_text_str(up, FMT_TABLE);
	free(up);
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
		text[c] = jsontime_is_key(cols[c]);
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

/* Print rows as a table under the given (or the first row's) columns. */
static void
fmt_table_at(FILE *fp, json_t *rows, const char *const *columns, const char *tz,
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

/* The width of a key as printed (escaped). */
static size_t
fmt_key_width(const char *key)
{
	char *text = fmt_text_str(key, FMT_TABLE);
	size_t w = fmt_width(text);

	free(text);
	return w;
}

/* Print an object as indented "key  value" lines, nesting under keys. */
static void
fmt_table_object_at(FILE *fp, json_t *obj, const char *tz, size_t indent,
    bool duration)
{
	size_t width = 0, w;
	const char *key;
	json_t *v;
	char *cell, *name;

	json_object_foreach (obj, key, v) {
		if (!json_is_object(v) && !fmt_is_row_array(v) &&
		    (w = fmt_key_width(key)) > width)
			width = w;
	}
	json_object_foreach (obj, key, v) {
		bool dur = duration || fmt_is_duration_key(key);

		name = fmt_text_str(key, FMT_TABLE);
		fmt_pad(fp, indent);
		if (json_is_object(v) || fmt_is_row_array(v)) {
			fprintf(fp, "%s\n", name);
			free(name);
			if (json_is_object(v))
				fmt_table_object_at(fp, v, tz,
				    indent + FMT_INDENT, dur);
			else
				fmt_table_at(fp, v, NULL, tz,
				    indent + FMT_INDENT, dur);
			continue;
		}
		cell = fmt_cell(v, key, duration, FMT_TABLE, tz);
		fputs(name, fp);
		fmt_pad(fp, width - fmt_width(name) + FMT_TABLE_GAP);
		fprintf(fp, "%s\n", cell);
		free(cell);
		free(name);
	}
}

/* Print a listing of flat objects as a table. */
void
fmt_table_rows(FILE *fp, json_t *rows, const char *const *columns,
    const char *tz)
{
	fmt_table_at(fp, rows, columns, tz, 0, false);
}

/* Print one (possibly nested) object as a table. */
void
fmt_table_object(FILE *fp, json_t *obj, const char *tz)
{
	fmt_table_object_at(fp, obj, tz, 0, false);
}
