/*
 * db_pg_sql.c: SQLite's SQL rewritten for PostgreSQL at prepare.  The
 * store writes its SQL once, with SQLite's parameters ("?", "?N"); the
 * PostgreSQL server takes "$N" only, BEGIN with no SQLite mode word, and
 * no INDEXED BY.
 * Text inside string literals, quoted identifiers and comments is never
 * touched: a "?" there is data.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_pg.h"
#include "util.h"

/* The output as it grows: the size is reserved up front, see below. */
struct sql_out {
	char *buf;
	size_t len;
	int max; /* the highest parameter number so far */
};

static const char *const begin_modes[] = { "IMMEDIATE", "DEFERRED",
	"EXCLUSIVE" };

/* Can c be part of a word (keyword, identifier, number)? */
static int
sql_is_word(int c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* Copy the n bytes at p to the output. */
static void
sql_put(struct sql_out *o, const char *p, size_t n)
{
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/*
 * Copy a literal or quoted identifier from its opening quote to its
 * closing one; a doubled quote inside is an escaped one.  Returns the
 * byte after it (the end of the text if it is never closed: the server
 * will say what is wrong).
 */
static const char *
sql_quoted(struct sql_out *o, const char *p)
{
	const char *q = p + 1;
	char quote = *p;

	for (;;) {
		if (*q == '\0')
			break;
		if (*q == quote) {
			if (q[1] != quote) {
				q++;
				break;
			}
			q++;
		}
		q++;
	}
	sql_put(o, p, (size_t)(q - p));
	return q;
}

/* Copy a comment ("-- ..." to the line's end, or a block) as it is. */
static const char *
sql_comment(struct sql_out *o, const char *p)
{
	const char *q;

	if (p[0] == '-') {
		q = strchr(p, '\n');
		if (q == NULL)
			q = p + strlen(p);
	} else {
		q = strstr(p + 2, "*/");
		q = q == NULL ? p + strlen(p) : q + 2;
	}
	sql_put(o, p, (size_t)(q - p));
	return q;
}

/* A parameter: "?N" keeps its number, "?" takes the next.  NULL if bad. */
static const char *
sql_param(struct sql_out *o, const char *p)
{
	char *end;
	long n;

	p++;
	if (isdigit((unsigned char)*p)) {
		n = strtol(p, &end, 10);
		if (n < 1 || n > DB_PG_PARAMS_MAX)
			return NULL;
		p = end;
	} else
		n = o->max + 1;
	if (n > DB_PG_PARAMS_MAX)
		return NULL;
	if (n > o->max)
		o->max = (int)n;
	o->len += (size_t)sprintf(o->buf + o->len, "$%ld", n);
	return p;
}

/*
 * At the word "BEGIN": copy it, and drop a SQLite mode word after it.
 * PostgreSQL's BEGIN takes its row locks as it goes, which is what
 * IMMEDIATE (take the write lock now) means for the store.
 */
static const char *
sql_begin(struct sql_out *o, const char *p)
{
	const char *q = p + 5;
	size_t i, n;

	sql_put(o, p, 5);
	while (isspace((unsigned char)*q))
		q++;
	for (i = 0; i < nitems(begin_modes); i++) {
		n = strlen(begin_modes[i]);
		if (strncasecmp(q, begin_modes[i], n) == 0 &&
		    !sql_is_word(q[n]))
			return q + n;
	}
	return p + 5;
}

/*
 * At the word "INDEXED": drop SQLite's "INDEXED BY name", a hint to its
 * planner that PostgreSQL has no syntax for (its planner picks alone).
 * NULL if it is not that.
 */
static const char *
sql_indexed_by(const char *p)
{
	const char *q = p + 7;

	while (isspace((unsigned char)*q))
		q++;
	if (strncasecmp(q, "BY", 2) != 0 || sql_is_word(q[2]))
		return NULL;
	q += 2;
	while (isspace((unsigned char)*q))
		q++;
	if (!sql_is_word(*q))
		return NULL;
	while (sql_is_word(*q))
		q++;
	return q;
}

/* Copy a word; "BEGIN" and "INDEXED" are looked at for what follows. */
static const char *
sql_word(struct sql_out *o, const char *p)
{
	const char *q = p, *skip;

	while (sql_is_word(*q))
		q++;
	if (q - p == 5 && strncasecmp(p, "BEGIN", 5) == 0)
		return sql_begin(o, p);
	if (q - p == 7 && strncasecmp(p, "INDEXED", 7) == 0 &&
	    (skip = sql_indexed_by(p)) != NULL)
		return skip;
	sql_put(o, p, (size_t)(q - p));
	return q;
}

/* Rewrite sql for PostgreSQL (see db_pg.h). */
int
db_pg_sql_translate(const char *sql, char **out, int *nparams)
{
	struct sql_out o = { NULL, 0, 0 };
	const char *p;
	size_t marks = 0;

	/* Each "?" grows to at most "$32767": reserve that for all. */
	for (p = sql; *p != '\0'; p++)
		if (*p == '?')
			marks++;
	o.buf = xmalloc(strlen(sql) + marks * 6 + 1);
	p = sql;
	while (p != NULL && *p != '\0') {
		if (*p == '\'' || *p == '"')
			p = sql_quoted(&o, p);
		else if ((p[0] == '-' && p[1] == '-') ||
		    (p[0] == '/' && p[1] == '*'))
			p = sql_comment(&o, p);
		else if (*p == '?')
			p = sql_param(&o, p);
		else if (sql_is_word(*p))
			p = sql_word(&o, p);
		else
			sql_put(&o, p++, 1);
	}
	if (p == NULL) {
		free(o.buf);
		*out = NULL;
		return -1;
	}
	o.buf[o.len] = '\0';
	*out = o.buf;
	*nparams = o.max;
	return 0;
}
