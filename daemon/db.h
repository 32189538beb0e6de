/*
 * db.h: one SQL connection behind a table of operations, so that every
 * store*.c file runs the same statements on SQLite (db_sqlite.c) or on
 * PostgreSQL (db_pg.c).
 *
 * The shape is SQLite's: prepare once, bind (1-based), step through rows
 * (DB_ROW ... DB_DONE), read columns (0-based), reset, finalize.  SQL is
 * written once, in the dialect both accept: "?" or "?N" parameters (the
 * PostgreSQL backend renumbers them "$N"), no SQLite-only functions.  Where
 * a parameter's type cannot be inferred from its context on PostgreSQL, the
 * SQL casts it (CAST(? AS BIGINT)).
 *
 * Included only by the store's files and the two backends.
 */
#ifndef CRISISD_DB_H
#define CRISISD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What db calls return: SQLite's numbers, so its backend passes them on. */
enum db_rc {
	DB_OK = 0,
	DB_ERROR = 1,
	DB_ROW = 100,
	DB_DONE = 101,
};

/* A column's type in the current row (SQLite's numbers). */
enum db_type {
	DB_INTEGER = 1,
	DB_FLOAT = 2,
	DB_TEXT = 3,
	DB_BLOB = 4,
	DB_NULL = 5,
};

/* Why the last call on a connection failed, as the store must tell. */
enum db_fault {
	DB_FAULT_NONE,
	DB_FAULT_UNIQUE, /* a unique or primary key violated */
	DB_FAULT_FOREIGN_KEY, /* a foreign key violated */
	DB_FAULT_BUSY, /* another connection's lock, not had in time */
	DB_FAULT_CONNECTION, /* the server is gone (PostgreSQL) */
	DB_FAULT_OTHER,
};

struct db;
struct db_stmt;

struct db_ops {
	const char *name; /* "sqlite", "postgresql" */
	/* persistent: kept for the connection's life (a hint). */
	int (*prepare)(struct db *, const char *sql, bool persistent,
	    struct db_stmt **out);
	int (*bind_int64)(struct db_stmt *, int i, int64_t v);
	int (*bind_double)(struct db_stmt *, int i, double v);
	/* NULL binds NULL; text and blobs must live until the next step. */
	int (*bind_text)(struct db_stmt *, int i, const char *v);
	int (*bind_blob)(struct db_stmt *, int i, const void *v, int n);
	int (*bind_null)(struct db_stmt *, int i);
	int (*step)(struct db_stmt *);
	int (*reset)(struct db_stmt *);
	void (*finalize)(struct db_stmt *);
	int (*column_count)(struct db_stmt *);
	int (*column_type)(struct db_stmt *, int i);
	const char *(*column_name)(struct db_stmt *, int i);
	int64_t (*column_int64)(struct db_stmt *, int i);
	double (*column_double)(struct db_stmt *, int i);
	const char *(*column_text)(struct db_stmt *, int i);
	const void *(*column_blob)(struct db_stmt *, int i);
	int (*column_bytes)(struct db_stmt *, int i);
	/* One or more statements without parameters or rows. */
	int (*exec)(struct db *, const char *sql);
	/* Rows changed by the last INSERT, UPDATE or DELETE. */
	int (*changes)(struct db *);
	/* No transaction is open. */
	bool (*autocommit)(struct db *);
	const char *(*errmsg)(struct db *);
	enum db_fault (*fault)(struct db *);
	void (*close)(struct db *);
};

/* Every backend's connection and statement begin with these. */
struct db {
	const struct db_ops *ops;
};
struct db_stmt {
	struct db *db;
};

/* Open a SQLite file (db_sqlite.c); flags as sqlite3_open_v2's. */
struct db *db_sqlite_open(const char *path, int flags, int *rc);
/* The SQLite handle under a SQLite db, for what only SQLite has. */
struct sqlite3 *db_sqlite_handle(struct db *db);

static inline int
db_prepare(struct db *db, const char *sql, bool persistent,
    struct db_stmt **out)
{
	return db->ops->prepare(db, sql, persistent, out);
}
static inline int
db_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	return s->db->ops->bind_int64(s, i, v);
}
static inline int
db_bind_double(struct db_stmt *s, int i, double v)
{
	return s->db->ops->bind_double(s, i, v);
}
static inline int
db_bind_text(struct db_stmt *s, int i, const char *v)
{
	return s->db->ops->bind_text(s, i, v);
}
static inline int
db_bind_blob(struct db_stmt *s, int i, const void *v, int n)
{
	return s->db->ops->bind_blob(s, i, v, n);
}
static inline int
db_bind_null(struct db_stmt *s, int i)
{
	return s->db->ops->bind_null(s, i);
}
static inline int
db_step(struct db_stmt *s)
{
	return s->db->ops->step(s);
}
static inline int
db_reset(struct db_stmt *s)
{
	return s->db->ops->reset(s);
}
static inline void
db_finalize(struct db_stmt *s)
{
	if (s != NULL)
		s->db->ops->finalize(s);
}
static inline int
db_column_count(struct db_stmt *s)
{
	return s->db->ops->column_count(s);
}
static inline int
db_column_type(struct db_stmt *s, int i)
{
	return s->db->ops->column_type(s, i);
}
static inline const char *
db_column_name(struct db_stmt *s, int i)
{
	return s->db->ops->column_name(s, i);
}
static inline int64_t
db_column_int64(struct db_stmt *s, int i)
{
	return s->db->ops->column_int64(s, i);
}
static inline int
db_column_int(struct db_stmt *s, int i)
{
	return (int)s->db->ops->column_int64(s, i);
}
static inline double
db_column_double(struct db_stmt *s, int i)
{
	return s->db->ops->column_double(s, i);
}
static inline const char *
db_column_text(struct db_stmt *s, int i)
{
	return s->db->ops->column_text(s, i);
}
static inline const void *
db_column_blob(struct db_stmt *s, int i)
{
	return s->db->ops->column_blob(s, i);
}
static inline int
db_column_bytes(struct db_stmt *s, int i)
{
	return s->db->ops->column_bytes(s, i);
}
static inline int
db_exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}
static inline int
db_changes(struct db *db)
{
	return db->ops->changes(db);
}
static inline bool
db_autocommit(struct db *db)
{
	return db->ops->autocommit(db);
}
static inline const char *
db_errmsg(struct db *db)
{
	return db->ops->errmsg(db);
}
static inline enum db_fault
db_fault(struct db *db)
{
	return db->ops->fault(db);
}
/* End a transaction left open by a failure, if any (its error stays). */
static inline void
db_rollback_open(struct db *db)
{
	if (!db->ops->autocommit(db))
		(void)db->ops->exec(db, "ROLLBACK");
}
static inline void
db_close(struct db *db)
{
	if (db != NULL)
		db->ops->close(db);
}

#endif
