/*
 * db_pg_stmt.c: statements of the PostgreSQL backend.  A statement runs
 * at its first step, all its rows in one result, which later steps walk;
 * its parameters go as text (numbers formatted here) and blobs in binary,
 * its columns come back as text and are read SQLite's way: booleans (what
 * PostgreSQL gives for a comparison) are the integers 1 and 0.
 *
 * A persistent statement is prepared on the server, under a name, at its
 * first step on each connection; the others run as the unnamed statement,
 * parse and all in one round trip.  Inside a transaction a write runs in
 * a savepoint, sent in the same round trip (a pipeline), so that when it
 * fails it fails alone, as it would on SQLite.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "db_pg.h"
#include "db_pg_int.h"
#include "util.h"

/* The type OIDs of pg_type that columns are told apart by. */
enum {
	PG_OID_BOOL = 16,
	PG_OID_BYTEA = 17,
	PG_OID_INT8 = 20,
	PG_OID_INT2 = 21,
	PG_OID_INT4 = 23,
	PG_OID_OID = 26,
	PG_OID_FLOAT4 = 700,
	PG_OID_FLOAT8 = 701,
	PG_OID_NUMERIC = 1700,
};

/* The connection a statement belongs to. */
static struct pg_db *
pg_stmt_db(struct pg_stmt *s)
{
	return (struct pg_db *)s->stmt.db;
}

/* Prepare sql: translate it now, send it to the server at its first step. */
int
pg_prepare(struct db *db, const char *sql, bool persistent,
    struct db_stmt **out)
{
	struct pg_db *p = (struct pg_db *)db;
	struct pg_stmt *s;
	char *text;
	int n;

	*out = NULL;
	p->fault = DB_FAULT_NONE;
	if (db_pg_sql_translate(sql, &text, &n) != 0) {
		pg_set_error(p, DB_FAULT_OTHER, "bad parameter number");
		return DB_ERROR;
	}
	s = xcalloc(1, sizeof *s);
	s->stmt.db = db;
	s->sql = text;
	s->persistent = persistent;
	s->write = pg_sql_is(text, pg_write_words);
	s->ends_txn = pg_sql_ends_txn(text);
	s->nparams = n;
	s->params = xcalloc((size_t)(n > 0 ? n : 1), sizeof *s->params);
	*out = &s->stmt;
	return DB_OK;
}

/* Forget the decoded blobs of the current row. */
static void
pg_clear_blobs(struct pg_stmt *s)
{
	int i, n;

	if (s->blobs == NULL)
		return;
	n = PQnfields(s->res);
	for (i = 0; i < n; i++) {
		if (s->blobs[i] != NULL)
			PQfreemem(s->blobs[i]);
		s->blobs[i] = NULL;
	}
}

/* Forget the current execution's rows. */
static void
pg_clear(struct pg_stmt *s)
{
	pg_clear_blobs(s);
	free(s->blobs);
	free(s->blob_lens);
	s->blobs = NULL;
	s->blob_lens = NULL;
	PQclear(s->res);
	s->res = NULL;
	s->row = s->nrows = 0;
	s->done = false;
}

/* The parameter i (1-based), emptied for a new value; NULL out of range. */
static struct pg_param *
pg_param(struct pg_stmt *s, int i)
{
	struct pg_param *pp;

	if (i < 1 || i > s->nparams) {
		pg_set_error(pg_stmt_db(s), DB_FAULT_OTHER,
		    "parameter index out of range");
		return NULL;
	}
	pp = &s->params[i - 1];
	free(pp->owned);
	memset(pp, 0, sizeof *pp);
	return pp;
}

/* Bind an integer, sent as text. */
int
pg_bind_int64(struct db_stmt *stmt, int i, int64_t v)
{
	struct pg_param *pp = pg_param((struct pg_stmt *)stmt, i);

	if (pp == NULL)
		return DB_ERROR;
	snprintf(pp->num, sizeof pp->num, "%" PRId64, v);
	pp->value = pp->num;
	return DB_OK;
}

/* Bind a double, sent as text that reads back as the same double. */
int
pg_bind_double(struct db_stmt *stmt, int i, double v)
{
	struct pg_param *pp = pg_param((struct pg_stmt *)stmt, i);

	if (pp == NULL)
		return DB_ERROR;
	snprintf(pp->num, sizeof pp->num, "%.17g", v);
	pp->value = pp->num;
	return DB_OK;
}

/* Bind text, copied (SQLite keeps a binding across a reset; so do we). */
int
pg_bind_text(struct db_stmt *stmt, int i, const char *v)
{
	struct pg_param *pp = pg_param((struct pg_stmt *)stmt, i);

	if (pp == NULL)
		return DB_ERROR;
	if (v != NULL)
		pp->value = pp->owned = xstrdup(v);
	return DB_OK;
}

/* Bind a blob, copied, sent in binary (bytea's binary form is its bytes). */
int
pg_bind_blob(struct db_stmt *stmt, int i, const void *v, int n)
{
	struct pg_param *pp = pg_param((struct pg_stmt *)stmt, i);

	if (pp == NULL)
		return DB_ERROR;
	if (v == NULL || n < 0)
		return DB_OK;
	pp->owned = xmalloc(n > 0 ? (size_t)n : 1);
	memcpy(pp->owned, v, (size_t)n);
	pp->value = pp->owned;
	pp->length = n;
	pp->format = 1;
	return DB_OK;
}

/* Bind NULL. */
int
pg_bind_null(struct db_stmt *stmt, int i)
{
	return pg_param((struct pg_stmt *)stmt, i) == NULL ? DB_ERROR : DB_OK;
}

/*
 * Run the statement: one round trip, a pipeline of [SAVEPOINT] [PREPARE]
 * EXECUTE [RELEASE] when it needs more than the statement itself.
 */
static int
pg_run(struct pg_stmt *s)
{
	struct pg_db *p = pg_stmt_db(s);
	struct pg_cmd cmds[PG_CMDS_MAX];
	int n = 0, keep, prepare = -1, rc;
	bool wrap;
	unsigned ok;

	pg_clear(s);
	if (pg_ready(p, s->ends_txn) != 0)
		return DB_ERROR;
	wrap = s->write && p->txn_before == PQTRANS_INTRANS;
	if (wrap)
		cmds[n++] =
		    (struct pg_cmd){ PG_CMD_SIMPLE, PG_SAVEPOINT, NULL, NULL };
	if (s->persistent && s->generation != p->generation) {
		/* A new name each time: a failed attempt may have left one. */
		snprintf(s->name, sizeof s->name, "crisisd_%" PRIu64,
		    ++p->names);
		prepare = n;
		cmds[n++] =
		    (struct pg_cmd){ PG_CMD_PREPARE, s->sql, s->name, NULL };
	}
	keep = n;
	cmds[n++] =
	    (struct pg_cmd){ s->persistent ? PG_CMD_PREPARED : PG_CMD_PARAMS,
		    s->sql, s->name, s };
	if (wrap)
		cmds[n++] =
		    (struct pg_cmd){ PG_CMD_SIMPLE, PG_RELEASE, NULL, NULL };
	rc = pg_round_trip(p, cmds, n, keep, &s->res, &ok);
	if (prepare >= 0 && (ok & (1u << prepare)) != 0)
		s->generation = p->generation;
	if (rc != 0) {
		if (wrap)
			pg_rollback_to(p);
		return DB_ERROR;
	}
	if (s->ends_txn && pg_commit_check(p, s->sql, s->res) != 0)
		return DB_ERROR;
	s->nrows = PQntuples(s->res);
	if (PQnfields(s->res) > 0) {
		s->blobs = xcalloc((size_t)PQnfields(s->res), sizeof *s->blobs);
		s->blob_lens =
		    xcalloc((size_t)PQnfields(s->res), sizeof *s->blob_lens);
	}
	s->done = s->nrows == 0;
	return s->done ? DB_DONE : DB_ROW;
}

/* The next row: the first step runs the statement, as does one after DONE. */
int
pg_step(struct db_stmt *stmt)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;

	if (s->res == NULL || s->done)
		return pg_run(s);
	pg_clear_blobs(s);
	if (++s->row < s->nrows)
		return DB_ROW;
	s->done = true;
	return DB_DONE;
}

/* Ready to run again, with the same parameters (as SQLite's reset). */
int
pg_reset(struct db_stmt *stmt)
{
	pg_clear((struct pg_stmt *)stmt);
	return DB_OK;
}

/*
 * Drop the statement, and its prepared form on the server unless the
 * transaction is failed (where the server takes nothing but a rollback;
 * the name then lives as long as the session, which is harmless).
 */
void
pg_finalize(struct db_stmt *stmt)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;
	struct pg_db *p = pg_stmt_db(s);
	struct pg_cmd cmd = { .kind = PG_CMD_SIMPLE };
	enum db_fault fault = p->fault;
	char *msg = p->errmsg, sql[64];
	unsigned ok;
	int i;

	pg_clear(s);
	if (s->persistent && s->generation == p->generation &&
	    p->conn != NULL &&
	    PQtransactionStatus(p->conn) != PQTRANS_INERROR) {
		snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
		cmd.sql = sql;
		p->errmsg = NULL;
		pg_round_trip(p, &cmd, 1, -1, NULL, &ok);
		free(p->errmsg);
		p->errmsg = msg;
		p->fault = fault;
	}
	for (i = 0; i < s->nparams; i++)
		free(s->params[i].owned);
	free(s->params);
	free(s->sql);
	free(s);
}

/* Is column i of the current row there to read? */
static bool
pg_has(struct pg_stmt *s, int i)
{
	return s->res != NULL && !s->done && s->row < s->nrows && i >= 0 &&
	    i < PQnfields(s->res);
}

/* Columns of the result (0 before the first step). */
int
pg_column_count(struct db_stmt *stmt)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;

	return s->res != NULL ? PQnfields(s->res) : 0;
}

/* Column i's type in this row, SQLite's way. */
int
pg_column_type(struct db_stmt *stmt, int i)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;

	if (!pg_has(s, i) || PQgetisnull(s->res, s->row, i))
		return DB_NULL;
	switch (PQftype(s->res, i)) {
	case PG_OID_BOOL:
	case PG_OID_INT2:
	case PG_OID_INT4:
	case PG_OID_INT8:
	case PG_OID_OID:
		return DB_INTEGER;
	case PG_OID_NUMERIC:
		return strchr(PQgetvalue(s->res, s->row, i), '.') == NULL
		    ? DB_INTEGER
		    : DB_FLOAT;
	case PG_OID_FLOAT4:
	case PG_OID_FLOAT8:
		return DB_FLOAT;
	case PG_OID_BYTEA:
		return DB_BLOB;
	default:
		return DB_TEXT;
	}
}

/* Column i's name. */
const char *
pg_column_name(struct db_stmt *stmt, int i)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;

	if (s->res == NULL || i < 0 || i >= PQnfields(s->res))
		return NULL;
	return PQfname(s->res, i);
}

/* Column i as text, a boolean as "1" or "0"; NULL for SQL NULL. */
const char *
pg_column_text(struct db_stmt *stmt, int i)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;
	const char *v;

	if (!pg_has(s, i) || PQgetisnull(s->res, s->row, i))
		return NULL;
	v = PQgetvalue(s->res, s->row, i);
	if (PQftype(s->res, i) == PG_OID_BOOL)
		return v[0] == 't' ? "1" : "0";
	return v;
}

/* Column i as a double (0 for NULL). */
double
pg_column_double(struct db_stmt *stmt, int i)
{
	const char *v = pg_column_text(stmt, i);

	return v != NULL ? strtod(v, NULL) : 0.0;
}

/* Column i as an integer: a real one is truncated, as SQLite does. */
int64_t
pg_column_int64(struct db_stmt *stmt, int i)
{
	const char *v = pg_column_text(stmt, i);
	char *end;
	int64_t n;
	double d;

	if (v == NULL)
		return 0;
	n = strtoll(v, &end, 10);
	if (*end != '.' && *end != 'e' && *end != 'E' && *end != 'I' &&
	    *end != 'N' && *end != 'i' && *end != 'n')
		return n;
	d = strtod(v, NULL);
	if (isnan(d))
		return 0;
	if (d >= 9223372036854775807.0)
		return INT64_MAX;
	if (d <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)d;
}

/* Decode column i, a bytea, once per row. */
static const unsigned char *
pg_bytea(struct pg_stmt *s, int i, size_t *len)
{
	if (s->blobs[i] == NULL)
		s->blobs[i] =
		    PQunescapeBytea((const unsigned char *)PQgetvalue(s->res,
		                        s->row, i),
		        &s->blob_lens[i]);
	*len = s->blob_lens[i];
	return s->blobs[i];
}

/* Column i's bytes: a bytea decoded, other types their text. */
const void *
pg_column_blob(struct db_stmt *stmt, int i)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;
	size_t len;
	const void *v;

	if (!pg_has(s, i) || PQgetisnull(s->res, s->row, i))
		return NULL;
	if (PQftype(s->res, i) != PG_OID_BYTEA)
		return pg_column_text(stmt, i);
	v = pg_bytea(s, i, &len);
	/* SQLite gives NULL for an empty blob. */
	return len > 0 ? v : NULL;
}

/* The length of column i's blob or text. */
int
pg_column_bytes(struct db_stmt *stmt, int i)
{
	struct pg_stmt *s = (struct pg_stmt *)stmt;
	size_t len;

	if (!pg_has(s, i) || PQgetisnull(s->res, s->row, i))
		return 0;
	if (PQftype(s->res, i) == PG_OID_BYTEA) {
		pg_bytea(s, i, &len);
		return (int)len;
	}
	return (int)strlen(pg_column_text(stmt, i));
}
