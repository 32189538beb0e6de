/*
 * db_sqlite.c: the SQLite backend of db.h, a thin layer over sqlite3_*:
 * db.h took SQLite's shape, so each operation is one call.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "util.h"

struct db_sqlite {
	struct db base;
	sqlite3 *h;
};

struct db_sqlite_stmt {
	struct db_stmt base;
	sqlite3_stmt *s;
};

static sqlite3 *
db_sqlite_h(struct db *db)
{
	return ((struct db_sqlite *)db)->h;
}

static sqlite3_stmt *
db_sqlite_s(struct db_stmt *s)
{
	return ((struct db_sqlite_stmt *)s)->s;
}

static int
db_sqlite_prepare(struct db *db, const char *sql, bool persistent,
    struct db_stmt **out)
{
	struct db_sqlite_stmt *st;
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v3(db_sqlite_h(db), sql, -1,
	    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL);
	if (rc != SQLITE_OK) {
		*out = NULL;
		return rc;
	}
	st = xcalloc(1, sizeof *st);
	st->base.db = db;
	st->s = s;
	*out = &st->base;
	return SQLITE_OK;
}

static int
db_sqlite_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	return sqlite3_bind_int64(db_sqlite_s(s), i, v);
}

static int
db_sqlite_bind_double(struct db_stmt *s, int i, double v)
{
	return sqlite3_bind_double(db_sqlite_s(s), i, v);
}

static int
db_sqlite_bind_text(struct db_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(db_sqlite_s(s), i, v, -1, SQLITE_STATIC);
}

static int
db_sqlite_bind_blob(struct db_stmt *s, int i, const void *v, int n)
{
	return sqlite3_bind_blob(db_sqlite_s(s), i, v, n, SQLITE_STATIC);
}

static int
db_sqlite_bind_null(struct db_stmt *s, int i)
{
	return sqlite3_bind_null(db_sqlite_s(s), i);
}

static int
db_sqlite_step(struct db_stmt *s)
{
	return sqlite3_step(db_sqlite_s(s));
}

static int
db_sqlite_reset(struct db_stmt *s)
{
	return sqlite3_reset(db_sqlite_s(s));
}

static void
db_sqlite_finalize(struct db_stmt *s)
{
	sqlite3_finalize(db_sqlite_s(s));
	free(s);
}

static int
db_sqlite_column_count(struct db_stmt *s)
{
	return sqlite3_column_count(db_sqlite_s(s));
}

static int
db_sqlite_column_type(struct db_stmt *s, int i)
{
	return sqlite3_column_type(db_sqlite_s(s), i);
}

static const char *
db_sqlite_column_name(struct db_stmt *s, int i)
{
	return sqlite3_column_name(db_sqlite_s(s), i);
}

static int64_t
db_sqlite_column_int64(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(db_sqlite_s(s), i);
}

static double
db_sqlite_column_double(struct db_stmt *s, int i)
{
	return sqlite3_column_double(db_sqlite_s(s), i);
}

static const char *
db_sqlite_column_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(db_sqlite_s(s), i);
}

static const void *
db_sqlite_column_blob(struct db_stmt *s, int i)
{
	return sqlite3_column_blob(db_sqlite_s(s), i);
}

static int
db_sqlite_column_bytes(struct db_stmt *s, int i)
{
	return sqlite3_column_bytes(db_sqlite_s(s), i);
}

static int
db_sqlite_exec(struct db *db, const char *sql)
{
	return sqlite3_exec(db_sqlite_h(db), sql, NULL, NULL, NULL);
}

static int
db_sqlite_changes(struct db *db)
{
	return sqlite3_changes(db_sqlite_h(db));
}

static bool
db_sqlite_autocommit(struct db *db)
{
	return sqlite3_get_autocommit(db_sqlite_h(db)) != 0;
}

static const char *
db_sqlite_errmsg(struct db *db)
{
	return sqlite3_errmsg(db_sqlite_h(db));
}

static enum db_fault
db_sqlite_fault(struct db *db)
{
	switch (sqlite3_extended_errcode(db_sqlite_h(db))) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return DB_FAULT_UNIQUE;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return DB_FAULT_FOREIGN_KEY;
	default:
		break;
	}
	switch (sqlite3_errcode(db_sqlite_h(db)) & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return DB_FAULT_NONE;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_FAULT_BUSY;
	default:
		return DB_FAULT_OTHER;
	}
}

static void
db_sqlite_close(struct db *db)
{
	sqlite3_close_v2(db_sqlite_h(db));
	free(db);
}

static const struct db_ops db_sqlite_ops = {
	.name = "sqlite",
	.prepare = db_sqlite_prepare,
	.bind_int64 = db_sqlite_bind_int64,
	.bind_double = db_sqlite_bind_double,
	.bind_text = db_sqlite_bind_text,
	.bind_blob = db_sqlite_bind_blob,
	.bind_null = db_sqlite_bind_null,
	.step = db_sqlite_step,
	.reset = db_sqlite_reset,
	.finalize = db_sqlite_finalize,
	.column_count = db_sqlite_column_count,
	.column_type = db_sqlite_column_type,
	.column_name = db_sqlite_column_name,
	.column_int64 = db_sqlite_column_int64,
	.column_double = db_sqlite_column_double,
	.column_text = db_sqlite_column_text,
	.column_blob = db_sqlite_column_blob,
	.column_bytes = db_sqlite_column_bytes,
	.exec = db_sqlite_exec,
	.changes = db_sqlite_changes,
	.autocommit = db_sqlite_autocommit,
	.errmsg = db_sqlite_errmsg,
	.fault = db_sqlite_fault,
	.close = db_sqlite_close,
};

/*
 * Open path with sqlite3_open_v2's flags.  NULL only when SQLite could not
 * allocate a handle; otherwise the db is returned even when the open
 * failed (*rc says so), so that its errmsg can tell why: close it after.
 */
struct db *
db_sqlite_open(const char *path, int flags, int *rc)
{
	struct db_sqlite *db;
	sqlite3 *h = NULL;

	*rc = sqlite3_open_v2(path, &h, flags, NULL);
	if (h == NULL)
		return NULL;
	db = xcalloc(1, sizeof *db);
	db->base.ops = &db_sqlite_ops;
	db->h = h;
	return &db->base;
}

/* The SQLite handle under a SQLite db (NULL for another backend). */
struct sqlite3 *
db_sqlite_handle(struct db *db)
{
	return db != NULL && db->ops == &db_sqlite_ops ? db_sqlite_h(db) : NULL;
}
