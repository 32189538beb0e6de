/*
 * db_pg.h: what the PostgreSQL backend of db.h (db_pg.c) offers beyond the
 * table of operations: opening a connection, its time bound, the hook run
 * after each (re)connect, and the SQL translation, a pure function the
 * unit tests call directly.
 *
 * Included only by the store's files, the backend and its tests.
 */
#ifndef CRISISD_DB_PG_H
#define CRISISD_DB_PG_H

#include <stdbool.h>

struct db;

/* The bound on each round trip to the server unless set otherwise. */
#define DB_PG_TIMEOUT_MS 2000
/* A broken connection is tried again at most this often. */
#define DB_PG_RECONNECT_MS 100
/* The highest parameter number a statement may use (PostgreSQL's limit). */
#define DB_PG_PARAMS_MAX 32767

/*
 * Connect to uri (a libpq connection URI) within DB_PG_TIMEOUT_MS; NULL
 * with *cause set (free it) on failure.
 */
struct db *db_pg_open(const char *uri, char **cause);
/* Bound every later round trip on db to ms milliseconds. */
void db_pg_set_timeout(struct db *db, int ms);
/*
 * Run fn(db, arg) after every (re)connect, and now: it applies session
 * settings.  If it fails (non-zero), the connection is dropped as broken
 * and db_fault() says DB_FAULT_CONNECTION.
 */
void db_pg_on_connect(struct db *db, int (*fn)(struct db *, void *), void *arg);

/*
 * Rewrite SQLite's SQL for PostgreSQL: "?N" becomes "$N", a bare "?" one
 * more than the highest number so far (SQLite's count), and BEGIN
 * IMMEDIATE (or DEFERRED, EXCLUSIVE) plain BEGIN, and SQLite's planner
 * hint "INDEXED BY name" is dropped; string literals, quoted
 * identifiers and comments are copied as they are.  *out is allocated
 * (free it); *nparams is the highest parameter number.  -1 on a parameter
 * number that is 0 or above DB_PG_PARAMS_MAX.
 */
int db_pg_sql_translate(const char *sql, char **out, int *nparams);

#endif
