/*
 * db_pg.c: the PostgreSQL backend of db.h, on libpq: the connection, its
 * round trips, and what happens when the server goes away.
 *
 * Every round trip is bounded.  The event loop must never wait on the
 * server for long (CONTRACT §5), so a query is sent with libpq's
 * asynchronous calls on a non-blocking socket and its results awaited
 * with poll() until a deadline (DB_PG_TIMEOUT_MS unless set); past it the
 * query is cancelled and the connection dropped as broken.
 *
 * A broken connection is connected again at the next call made outside a
 * transaction, at most every DB_PG_RECONNECT_MS; calls in between fail at
 * once with DB_FAULT_CONNECTION.  A transaction open when it broke is
 * gone with it, and calls fail until the store ends it (ROLLBACK), so
 * that no write of a lost transaction lands in the next one.  Statements
 * are prepared on the server again, lazily, after a reconnect.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "db.h"
#include "db_pg.h"
#include "db_pg_int.h"
#include "util.h"

static int pg_exec(struct db *db, const char *sql);
static int pg_changes(struct db *db);
static bool pg_autocommit(struct db *db);
static const char *pg_errmsg(struct db *db);
static enum db_fault pg_fault(struct db *db);
static void pg_close(struct db *db);

static const struct db_ops pg_ops = {
	.name = "postgresql",
	.prepare = pg_prepare,
	.bind_int64 = pg_bind_int64,
	.bind_double = pg_bind_double,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.reset = pg_reset,
	.finalize = pg_finalize,
	.column_count = pg_column_count,
	.column_type = pg_column_type,
	.column_name = pg_column_name,
	.column_int64 = pg_column_int64,
	.column_double = pg_column_double,
	.column_text = pg_column_text,
	.column_blob = pg_column_blob,
	.column_bytes = pg_column_bytes,
	.exec = pg_exec,
	.changes = pg_changes,
	.autocommit = pg_autocommit,
	.errmsg = pg_errmsg,
	.fault = pg_fault,
	.close = pg_close,
};

/* Statements that write, and so get a savepoint inside a transaction. */
const char *const pg_write_words[] = { "INSERT", "UPDATE", "DELETE", "WITH",
	NULL };
/* Statements that end a transaction (but see pg_sql_ends_txn). */
const char *const pg_end_words[] = { "COMMIT", "END", "ROLLBACK", "ABORT",
	NULL };

/* Statements that commit. */
static const char *const pg_commit_words[] = { "COMMIT", "END", NULL };

/*
 * A COMMIT of a transaction that had already failed "succeeds" on
 * PostgreSQL with the tag ROLLBACK: nothing was committed, and the caller
 * must hear so, as SQLite would tell it.  -1 (error set) in that case.
 */
int
pg_commit_check(struct pg_db *p, const char *sql, const PGresult *r)
{
	if (r == NULL || !pg_sql_is(sql, pg_commit_words) ||
	    strcmp(PQcmdStatus((PGresult *)r), "ROLLBACK") != 0)
		return 0;
	pg_set_error(p, DB_FAULT_OTHER,
	    "commit: the transaction had failed and was rolled back");
	return -1;
}

/* SQLSTATEs (or their classes, two characters) and what they mean. */
static const struct {
	const char *state;
	enum db_fault fault;
} pg_states[] = {
	{ "23505", DB_FAULT_UNIQUE },
	{ "23503", DB_FAULT_FOREIGN_KEY },
	{ "55P03", DB_FAULT_BUSY }, /* lock_timeout */
	{ "40P01", DB_FAULT_BUSY }, /* deadlock */
	{ "40001", DB_FAULT_BUSY }, /* serialization */
	{ "57P01", DB_FAULT_CONNECTION }, /* admin shutdown, terminated */
	{ "57P02", DB_FAULT_CONNECTION }, /* crash shutdown */
	{ "57P03", DB_FAULT_CONNECTION }, /* cannot connect now */
	{ "08", DB_FAULT_CONNECTION },
};

/* Does sql begin with one of words (a NULL-terminated list)? */
bool
pg_sql_is(const char *sql, const char *const *words)
{
	size_t n;

	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '(')
		sql++;
	for (; *words != NULL; words++) {
		n = strlen(*words);
		if (strncasecmp(sql, *words, n) == 0 &&
		    (sql[n] == '\0' || sql[n] == ';' || sql[n] == ' ' ||
		        sql[n] == '\t' || sql[n] == '\n'))
			return true;
	}
	return false;
}

/* Does sql end a transaction ("ROLLBACK TO SAVEPOINT" does not)? */
bool
pg_sql_ends_txn(const char *sql)
{
	static const char *const to[] = { "ROLLBACK TO",
		"ROLLBACK TRANSACTION TO", "ROLLBACK WORK TO", NULL };

	return pg_sql_is(sql, pg_end_words) && !pg_sql_is(sql, to);
}

/* Record why the last call failed, the message trimmed of its newline. */
void
pg_set_error(struct pg_db *p, enum db_fault f, const char *msg)
{
	size_t n;

	p->fault = f;
	free(p->errmsg);
	p->errmsg =
	    xstrdup(msg != NULL && *msg != '\0' ? msg : "unknown error");
	n = strlen(p->errmsg);
	while (n > 0 && (p->errmsg[n - 1] == '\n' || p->errmsg[n - 1] == ' '))
		p->errmsg[--n] = '\0';
}

/* The fault a failed result's SQLSTATE stands for. */
static enum db_fault
pg_result_fault(struct pg_db *p, const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	size_t i;

	if (PQstatus(p->conn) == CONNECTION_BAD || state == NULL)
		return PQstatus(p->conn) == CONNECTION_BAD ? DB_FAULT_CONNECTION
		                                           : DB_FAULT_OTHER;
	for (i = 0; i < nitems(pg_states); i++)
		if (strncmp(state, pg_states[i].state,
		        strlen(pg_states[i].state)) == 0)
			return pg_states[i].fault;
	return DB_FAULT_OTHER;
}

/*
 * Drop a connection that cannot be trusted any more: gone, timed out, or
 * left in a state this file did not expect.
 */
static void
pg_broken(struct pg_db *p, const char *why)
{
	if (why != NULL)
		pg_set_error(p, DB_FAULT_CONNECTION, why);
	p->fault = DB_FAULT_CONNECTION;
	if (p->conn == NULL)
		return;
	p->lost_txn = p->txn_before != PQTRANS_IDLE;
	PQfinish(p->conn);
	p->conn = NULL;
	p->retry_at = util_monotonic_ms();
}

/* Wait until the socket is ready for events; 0, or -1 past the deadline. */
static int
pg_poll(struct pg_db *p, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = PQsocket(p->conn), .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - util_monotonic_ms();
		if (left <= 0)
			return -1;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* A notice from the server: dropped, libpq would print it on stderr. */
static void
pg_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Connect (again) within the time bound, then apply the session hook. */
static int
pg_connect(struct pg_db *p)
{
	int64_t deadline = util_monotonic_ms() + p->timeout_ms;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	p->txn_before = PQTRANS_IDLE;
	p->conn = PQconnectStart(p->uri);
	if (p->conn == NULL) {
		pg_set_error(p, DB_FAULT_CONNECTION, "out of memory");
		return -1;
	}
	while (PQstatus(p->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			break;
		if (pg_poll(p, st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		        deadline) != 0) {
			pg_broken(p, "timed out connecting to the server");
			return -1;
		}
		st = PQconnectPoll(p->conn);
	}
	if (st != PGRES_POLLING_OK || PQsetnonblocking(p->conn, 1) != 0) {
		pg_broken(p, PQerrorMessage(p->conn));
		return -1;
	}
	/* NOTICEs (IF NOT EXISTS and the like) are not errors: no stderr. */
	PQsetNoticeProcessor(p->conn, pg_notice, NULL);
	p->generation++;
	if (p->on_connect != NULL &&
	    p->on_connect(&p->db, p->on_connect_arg) != 0) {
		pg_broken(p, NULL);
		return -1;
	}
	return 0;
}

/*
 * Make the connection usable for a call, or fail at once.  ends_txn: the
 * call ends a transaction, which ends a lost one too.
 */
int
pg_ready(struct pg_db *p, bool ends_txn)
{
	int64_t now;

	p->fault = DB_FAULT_NONE;
	if (p->conn != NULL) {
		p->txn_before = PQtransactionStatus(p->conn);
		return 0;
	}
	if (p->lost_txn) {
		p->lost_txn = !ends_txn;
		pg_set_error(p, DB_FAULT_CONNECTION,
		    "the connection to the server was lost in a transaction");
		return -1;
	}
	now = util_monotonic_ms();
	if (now < p->retry_at) {
		pg_set_error(p, DB_FAULT_CONNECTION,
		    "no connection to the server");
		return -1;
	}
	p->retry_at = now + DB_PG_RECONNECT_MS;
	if (pg_connect(p) != 0)
		return -1;
	p->fault = DB_FAULT_NONE;
	p->txn_before = PQtransactionStatus(p->conn);
	return 0;
}

/* Send one command of a round trip (in pipeline mode if pipeline). */
static int
pg_send(struct pg_db *p, const struct pg_cmd *c, bool pipeline)
{
	const char **values = NULL;
	int *lengths = NULL, *formats = NULL;
	int i, n = 0, rc;

	if (c->params != NULL && (n = c->params->nparams) > 0) {
		values = xcalloc((size_t)n, sizeof *values);
		lengths = xcalloc((size_t)n, sizeof *lengths);
		formats = xcalloc((size_t)n, sizeof *formats);
		for (i = 0; i < n; i++) {
			values[i] = c->params->params[i].value;
			lengths[i] = c->params->params[i].length;
			formats[i] = c->params->params[i].format;
		}
	}
	switch (c->kind) {
	case PG_CMD_SIMPLE:
		rc = pipeline ? PQsendQueryParams(p->conn, c->sql, 0, NULL,
		                    NULL, NULL, NULL, 0)
		              : PQsendQuery(p->conn, c->sql);
		break;
	case PG_CMD_PREPARE:
		rc = PQsendPrepare(p->conn, c->name, c->sql, 0, NULL);
		break;
	case PG_CMD_PREPARED:
		rc = PQsendQueryPrepared(p->conn, c->name, n, values, lengths,
		    formats, 0);
		break;
	default:
		rc = PQsendQueryParams(p->conn, c->sql, n, NULL, values,
		    lengths, formats, 0);
		break;
	}
	free(values);
	free(lengths);
	free(formats);
	return rc == 1 ? 0 : -1;
}

/* Send what libpq holds, within the deadline. */
static int
pg_flush(struct pg_db *p, int64_t deadline)
{
	int rc;

	while ((rc = PQflush(p->conn)) == 1)
		if (pg_poll(p, POLLOUT | POLLIN, deadline) != 0 ||
		    PQconsumeInput(p->conn) == 0)
			return -1;
	return rc;
}

/* The next result (NULL between commands), awaited within the deadline. */
static int
pg_next_result(struct pg_db *p, int64_t deadline, PGresult **r)
{
	while (PQisBusy(p->conn)) {
		if (pg_poll(p, POLLIN, deadline) != 0)
			return -1;
		if (PQconsumeInput(p->conn) == 0)
			return -1;
	}
	*r = PQgetResult(p->conn);
	return 0;
}

/* Give up on a round trip: cancel what the server is doing, and drop. */
static void
pg_give_up(struct pg_db *p, int64_t deadline)
{
	PGcancel *cancel;
	char why[256];

	if (util_monotonic_ms() >= deadline &&
	    PQstatus(p->conn) == CONNECTION_OK &&
	    (cancel = PQgetCancel(p->conn)) != NULL) {
		/* The server would go on holding its locks otherwise. */
		PQcancel(cancel, why, sizeof why);
		PQfreeCancel(cancel);
		snprintf(why, sizeof why,
		    "no answer from the server within %d ms", p->timeout_ms);
		pg_broken(p, why);
		return;
	}
	pg_broken(p, PQerrorMessage(p->conn));
}

/* Note a result: its fault if it failed, the rows it changed if it wrote. */
static bool
pg_note(struct pg_db *p, PGresult *r, bool *failed)
{
	ExecStatusType st = PQresultStatus(r);
	const char *tag, *msg;

	if (st == PGRES_FATAL_ERROR) {
		/* The message alone, as SQLite's: a trigger's is its text. */
		msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		if (!*failed)
			pg_set_error(p, pg_result_fault(p, r),
			    msg != NULL ? msg : PQresultErrorMessage(r));
		*failed = true;
		return false;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return false;
	tag = PQcmdStatus(r);
	if (strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
	    strncmp(tag, "DELETE", 6) == 0)
		p->changes = atoi(PQcmdTuples(r));
	return true;
}

/*
 * Read a round trip's results: in a pipeline, up to its sync, counting
 * commands at each NULL; else up to the NULL after the last.  The result
 * of command keep is kept; *ok gets a bit for each command that worked.
 */
static int
pg_collect(struct pg_db *p, bool pipeline, int64_t deadline, int keep,
    PGresult **kept, unsigned *ok)
{
	PGresult *r;
	bool failed = false;
	int idx = 0;

	for (;;) {
		if (pg_next_result(p, deadline, &r) != 0)
			return -2;
		if (r == NULL) {
			if (!pipeline)
				break;
			idx++;
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (pg_note(p, r, &failed)) {
			*ok |= 1u << idx;
			if (idx == keep && kept != NULL) {
				PQclear(*kept);
				*kept = r;
				continue;
			}
		}
		PQclear(r);
	}
	return failed ? -1 : 0;
}

/*
 * One round trip: n commands (a pipeline if more than one), their results
 * read within the time bound.  0, or -1 with the fault set.
 */
int
pg_round_trip(struct pg_db *p, const struct pg_cmd *cmds, int n, int keep,
    PGresult **kept, unsigned *ok)
{
	int64_t deadline = util_monotonic_ms() + p->timeout_ms;
	bool pipeline = n > 1;
	int i, rc;

	*ok = 0;
	if (pipeline && PQenterPipelineMode(p->conn) != 1)
		goto broken;
	for (i = 0; i < n; i++)
		if (pg_send(p, &cmds[i], pipeline) != 0)
			goto broken;
	if (pipeline && PQpipelineSync(p->conn) != 1)
		goto broken;
	if (pg_flush(p, deadline) != 0)
		goto broken;
	rc = pg_collect(p, pipeline, deadline, keep, kept, ok);
	if (rc == -2)
		goto broken;
	if (pipeline && PQexitPipelineMode(p->conn) != 1)
		goto broken;
	if (PQstatus(p->conn) == CONNECTION_BAD ||
	    p->fault == DB_FAULT_CONNECTION)
		goto broken;
	return rc;
broken:
	if (kept != NULL) {
		PQclear(*kept);
		*kept = NULL;
	}
	pg_give_up(p, deadline);
	return -1;
}

/*
 * After a write failed inside a transaction: undo it alone, so that the
 * transaction goes on as it would on SQLite.  The write's fault stays the
 * call's.
 */
void
pg_rollback_to(struct pg_db *p)
{
	struct pg_cmd cmd = { .kind = PG_CMD_SIMPLE, .sql = PG_ROLLBACK_TO };
	enum db_fault fault = p->fault;
	char *msg = p->errmsg;
	unsigned ok;

	if (p->conn == NULL || PQtransactionStatus(p->conn) != PQTRANS_INERROR)
		return;
	p->errmsg = NULL;
	pg_round_trip(p, &cmd, 1, -1, NULL, &ok);
	free(p->errmsg);
	p->errmsg = msg;
	if (p->fault != DB_FAULT_CONNECTION)
		p->fault = fault;
}

/* One or more statements, no parameters, no rows (the simple protocol). */
static int
pg_exec(struct db *db, const char *sql)
{
	struct pg_db *p = (struct pg_db *)db;
	struct pg_cmd cmd = { .kind = PG_CMD_SIMPLE };
	char *text, *wrapped = NULL;
	unsigned ok;
	int n, rc;

	if (db_pg_sql_translate(sql, &text, &n) != 0 || n > 0) {
		free(text);
		pg_set_error(p, DB_FAULT_OTHER, "exec takes no parameters");
		return DB_ERROR;
	}
	if (pg_ready(p, pg_sql_ends_txn(text)) != 0) {
		free(text);
		return DB_ERROR;
	}
	cmd.sql = text;
	if (p->txn_before == PQTRANS_INERROR &&
	    pg_sql_is(text, pg_commit_words)) {
		/* The COMMIT would answer ROLLBACK: end it, and say so. */
		cmd.sql = "ROLLBACK";
		pg_round_trip(p, &cmd, 1, -1, NULL, &ok);
		free(text);
		pg_set_error(p, DB_FAULT_OTHER,
		    "commit: the transaction had failed and was rolled back");
		return DB_ERROR;
	}
	if (p->txn_before == PQTRANS_INTRANS &&
	    pg_sql_is(text, pg_write_words)) {
		xasprintf(&wrapped, PG_SAVEPOINT "; %s;\n" PG_RELEASE, text);
		cmd.sql = wrapped;
	}
	rc = pg_round_trip(p, &cmd, 1, -1, NULL, &ok);
	if (rc != 0 && wrapped != NULL)
		pg_rollback_to(p);
	free(wrapped);
	free(text);
	return rc == 0 ? DB_OK : DB_ERROR;
}

/* Rows changed by the last INSERT, UPDATE or DELETE. */
static int
pg_changes(struct db *db)
{
	return ((struct pg_db *)db)->changes;
}

/* No transaction open (nor one lost that the store has yet to end). */
static bool
pg_autocommit(struct db *db)
{
	struct pg_db *p = (struct pg_db *)db;

	if (p->conn == NULL)
		return !p->lost_txn;
	return PQtransactionStatus(p->conn) == PQTRANS_IDLE;
}

/* Why the last call failed. */
static const char *
pg_errmsg(struct db *db)
{
	struct pg_db *p = (struct pg_db *)db;

	return p->errmsg != NULL ? p->errmsg : "not an error";
}

/* What kind of failure the last call's was. */
static enum db_fault
pg_fault(struct db *db)
{
	return ((struct pg_db *)db)->fault;
}

/* Close the connection; its statements must have been finalized. */
static void
pg_close(struct db *db)
{
	struct pg_db *p = (struct pg_db *)db;

	if (p->conn != NULL)
		PQfinish(p->conn);
	free(p->uri);
	free(p->errmsg);
	free(p);
}

/* Connect to a PostgreSQL server (see db_pg.h). */
struct db *
db_pg_open(const char *uri, char **cause)
{
	struct pg_db *p = xcalloc(1, sizeof *p);

	p->db.ops = &pg_ops;
	p->uri = xstrdup(uri);
	p->timeout_ms = DB_PG_TIMEOUT_MS;
	if (pg_connect(p) != 0) {
		xasprintf(cause, "%s", pg_errmsg(&p->db));
		pg_close(&p->db);
		return NULL;
	}
	return &p->db;
}

/* Bound every later round trip on db to ms milliseconds. */
void
db_pg_set_timeout(struct db *db, int ms)
{
	((struct pg_db *)db)->timeout_ms = ms > 0 ? ms : DB_PG_TIMEOUT_MS;
}

/* Apply fn after every (re)connect, and to the connection there is now. */
void
db_pg_on_connect(struct db *db, int (*fn)(struct db *, void *), void *arg)
{
	struct pg_db *p = (struct pg_db *)db;

	p->on_connect = fn;
	p->on_connect_arg = arg;
	p->fault = DB_FAULT_NONE;
	if (fn != NULL && p->conn != NULL && fn(db, arg) != 0)
		pg_broken(p, NULL);
}
