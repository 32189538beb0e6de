/*
 * db_pg_int.h: the PostgreSQL backend's connection and statement, shared
 * by db_pg.c (the connection, its bounded round trips and reconnects) and
 * db_pg_stmt.c (statements, parameters and rows).
 */
#ifndef CRISISD_DB_PG_INT_H
#define CRISISD_DB_PG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"

/*
 * The savepoint around each write inside a transaction: SQLite fails only
 * the statement that broke a constraint, PostgreSQL the whole transaction,
 * and the store relies on SQLite's way (a duplicate is a reply, not the
 * end of the batch).
 */
#define PG_SAVEPOINT "SAVEPOINT db_stmt"
#define PG_RELEASE "RELEASE SAVEPOINT db_stmt"
#define PG_ROLLBACK_TO "ROLLBACK TO SAVEPOINT db_stmt; " PG_RELEASE

struct pg_db {
	struct db db;
	PGconn *conn; /* NULL while broken */
	char *uri;
	int timeout_ms;
	int64_t retry_at; /* monotonic ms: no reconnect before */
	/*
	 * The connection broke inside a transaction: its writes are gone,
	 * and every call fails until the store ends it (ROLLBACK, COMMIT).
	 */
	bool lost_txn;
	PGTransactionStatusType txn_before; /* at the current call's start */
	int (*on_connect)(struct db *, void *);
	void *on_connect_arg;
	uint64_t generation; /* moves at each connect */
	uint64_t names; /* server-side statement names used */
	enum db_fault fault;
	char *errmsg;
	int changes;
};

/* One parameter, as sent: text, or binary for a blob. */
struct pg_param {
	char *owned; /* a copy of text or a blob */
	char num[32]; /* an int64 or double as text */
	const char *value; /* NULL: SQL NULL */
	int length;
	int format; /* 0 text, 1 binary */
};

struct pg_stmt {
	struct db_stmt stmt;
	char *sql; /* translated */
	bool persistent; /* prepared server-side under name */
	bool write; /* INSERT, UPDATE, DELETE: a savepoint in a transaction */
	bool ends_txn; /* COMMIT, ROLLBACK, END */
	char name[32];
	uint64_t generation; /* prepared on this connection; 0: not yet */
	int nparams;
	struct pg_param *params;
	PGresult *res; /* the rows of the current execution */
	int row, nrows;
	bool done; /* DB_DONE returned: the next step runs again */
	unsigned char **blobs; /* bytea decoded in this row, by column */
	size_t *blob_lens;
};

/* Commands of one round trip, as db_pg.c sends them. */
enum pg_cmd_kind {
	PG_CMD_SIMPLE, /* text, no parameters */
	PG_CMD_PREPARE, /* name, text */
	PG_CMD_PREPARED, /* name, parameters */
	PG_CMD_PARAMS, /* text, parameters (the unnamed statement) */
};

struct pg_cmd {
	enum pg_cmd_kind kind;
	const char *sql;
	const char *name;
	const struct pg_stmt *params; /* for PG_CMD_PREPARED, PG_CMD_PARAMS */
};

#define PG_CMDS_MAX 4

int pg_ready(struct pg_db *p, bool ends_txn);
int pg_round_trip(struct pg_db *p, const struct pg_cmd *cmds, int n, int keep,
    PGresult **kept, unsigned *ok);
void pg_rollback_to(struct pg_db *p);
int pg_commit_check(struct pg_db *p, const char *sql, const PGresult *r);
void pg_set_error(struct pg_db *p, enum db_fault f, const char *msg);
bool pg_sql_is(const char *sql, const char *const *words);
bool pg_sql_ends_txn(const char *sql);

extern const char *const pg_write_words[];
extern const char *const pg_end_words[];

/* The statement operations (db_pg_stmt.c). */
int pg_prepare(struct db *db, const char *sql, bool persistent,
    struct db_stmt **out);
int pg_bind_int64(struct db_stmt *s, int i, int64_t v);
int pg_bind_double(struct db_stmt *s, int i, double v);
int pg_bind_text(struct db_stmt *s, int i, const char *v);
int pg_bind_blob(struct db_stmt *s, int i, const void *v, int n);
int pg_bind_null(struct db_stmt *s, int i);
int pg_step(struct db_stmt *s);
int pg_reset(struct db_stmt *s);
void pg_finalize(struct db_stmt *s);
int pg_column_count(struct db_stmt *s);
int pg_column_type(struct db_stmt *s, int i);
const char *pg_column_name(struct db_stmt *s, int i);
int64_t pg_column_int64(struct db_stmt *s, int i);
double pg_column_double(struct db_stmt *s, int i);
const char *pg_column_text(struct db_stmt *s, int i);
const void *pg_column_blob(struct db_stmt *s, int i);
int pg_column_bytes(struct db_stmt *s, int i);

#endif
