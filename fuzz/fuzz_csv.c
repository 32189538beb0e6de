/*
 * fuzz_csv.c: libFuzzer target for the CSV reader behind `crisisctl roster
 * import` (issue 6).
 *
 * The input is read record by record with fmt_csv_read(), as
 * ctl_roster_import() reads a roster file.  Each record must hold what
 * fmt.h promises: 1..FMT_CSV_FIELDS_MAX fields, laid out one after another
 * in the record buffer, no blank record, line numbers that only go
 * forward; a refusal must say why.
 *
 * Then the round trip: the records read are written back as CSV (quoting
 * only the fields that need it, so no physical line grows) and read again.
 * The second reading must give the very same records, each starting on
 * the line where it was written, and end cleanly.  A reader that loses,
 * splits or joins fields, or miscounts lines, fails here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "util.h"

#include "fuzz.h"

/* What one pass over a CSV text gave, in a comparable form. */
struct fuzz_csv_pass {
	FILE *canon; /* per record: line, field count, fields with lengths */
	char *canon_buf;
	size_t canon_len;
	FILE *out; /* the records written back as CSV (first pass only) */
	char *out_buf;
	size_t out_len;
	long next_line; /* the line the next written record starts on */
	size_t nrecords;
};

/* Open the memory streams of a pass. */
static void
fuzz_csv_pass_open(struct fuzz_csv_pass *p, bool write_back)
{
	memset(p, 0, sizeof(*p));
	if ((p->canon = open_memstream(&p->canon_buf, &p->canon_len)) == NULL)
		abort();
	if (!write_back)
		return;
	if ((p->out = open_memstream(&p->out_buf, &p->out_len)) == NULL)
		abort();
	/*
	 * A blank first line: skipped by the reader, and it keeps a first
	 * field that starts with 0xEF from looking like a byte order mark.
	 */
	fputc('\n', p->out);
	p->next_line = 2;
}

/* Close the memory streams of a pass (the buffers stay until freed). */
static void
fuzz_csv_pass_close(struct fuzz_csv_pass *p)
{
	if (fclose(p->canon) != 0)
		abort();
	if (p->out != NULL && fclose(p->out) != 0)
		abort();
}

/* Does a field need quotes to be read back as it is? */
static bool
fuzz_csv_needs_quotes(const char *s)
{
	return strpbrk(s, ",\"\r\n") != NULL;
}

/* Write one field as CSV, quoted and with quotes doubled if needed. */
static void
fuzz_csv_write_field(FILE *fp, const char *s)
{
	if (!fuzz_csv_needs_quotes(s)) {
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

/* Check the layout of the record just read. */
static void
fuzz_csv_check_record(const struct fmt_csv *csv)
{
	const char *end = csv->buf + sizeof(csv->buf);
	size_t i, len, total = 0;

	FUZZ_CHECK(csv->nfields >= 1 && csv->nfields <= FMT_CSV_FIELDS_MAX);
	FUZZ_CHECK(csv->fields[0] == csv->buf);
	FUZZ_CHECK(!(csv->nfields == 1 && csv->fields[0][0] == '\0'));
	for (i = 0; i < csv->nfields; i++) {
		FUZZ_CHECK(csv->fields[i] >= csv->buf && csv->fields[i] < end);
		len = strnlen(csv->fields[i], (size_t)(end - csv->fields[i]));
		FUZZ_CHECK(csv->fields[i] + len < end);
		FUZZ_CHECK(i + 1 == csv->nfields ||
		    csv->fields[i + 1] == csv->fields[i] + len + 1);
		total += len + 1;
	}
	FUZZ_CHECK(total <= sizeof(csv->buf) - 1);
	FUZZ_CHECK(csv->record_line >= 1 && csv->record_line <= csv->line);
}

/* Add the record just read to the pass, and write it back if asked. */
static void
fuzz_csv_take(struct fuzz_csv_pass *p, const struct fmt_csv *csv, long line)
{
	size_t i, len;

	fprintf(p->canon, "%ld %zu:", line, csv->nfields);
	for (i = 0; i < csv->nfields; i++) {
		len = strlen(csv->fields[i]);
		fprintf(p->canon, "%zu=", len);
		fwrite(csv->fields[i], 1, len, p->canon);
	}
	fputc('\n', p->canon);
	p->nrecords++;
	if (p->out == NULL)
		return;
	for (i = 0; i < csv->nfields; i++) {
		if (i > 0)
			fputc(',', p->out);
		fuzz_csv_write_field(p->out, csv->fields[i]);
		for (const char *s = csv->fields[i]; *s != '\0'; s++)
			p->next_line += *s == '\n';
	}
	fputc('\n', p->out);
	p->next_line++;
}

/*
 * Read text to its end or its first error.  The first pass notes each
 * record at the line it will start on when written back; the second pass
 * at the line the reader says it started on.  Returns the last result.
 */
static int
fuzz_csv_read_all(char *text, size_t len, struct fuzz_csv_pass *p)
{
	struct fmt_csv *csv = xmalloc(sizeof(*csv));
	FILE *fp = fmemopen(text, len, "r");
	char *cause = NULL;
	long last_line = 0, at;
	int r;

	if (fp == NULL)
		abort();
	fmt_csv_init(csv, fp);
	while ((r = fmt_csv_read(csv, &cause)) == 1) {
		FUZZ_CHECK(cause == NULL);
		fuzz_csv_check_record(csv);
		FUZZ_CHECK(csv->record_line > last_line);
		last_line = csv->record_line;
		at = p->out != NULL ? p->next_line : csv->record_line;
		fuzz_csv_take(p, csv, at);
	}
	if (r == -1) {
		FUZZ_CHECK(cause != NULL && cause[0] != '\0');
		FUZZ_CHECK(csv->line >= 1 && (size_t)csv->line <= len + 1);
		free(cause);
	} else {
		FUZZ_CHECK(r == 0 && cause == NULL);
		FUZZ_CHECK(fmt_csv_read(csv, &cause) == 0 && cause == NULL);
	}
	fclose(fp);
	free(csv);
	return r;
}

/* Read the input, write its records back, read them again, compare. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_csv_pass first, second;
	char *text;

	/* fmemopen refuses a zero size; an empty file has no records anyway. */
	if (size == 0)
		return 0;
	text = xmalloc(size);
	memcpy(text, data, size);
	fuzz_csv_pass_open(&first, true);
	fuzz_csv_read_all(text, size, &first);
	fuzz_csv_pass_close(&first);
	fuzz_csv_pass_open(&second, false);
	FUZZ_CHECK(
	    fuzz_csv_read_all(first.out_buf, first.out_len, &second) == 0);
	fuzz_csv_pass_close(&second);
	FUZZ_CHECK(second.nrecords == first.nrecords);
	FUZZ_CHECK(second.canon_len == first.canon_len &&
	    memcmp(second.canon_buf, first.canon_buf, first.canon_len) == 0);
	free(first.canon_buf);
	free(first.out_buf);
	free(second.canon_buf);
	free(text);
	return 0;
}
