/*
 * store_int.h: what the store*.c files share and nothing else includes.
 * The connection, the cache of prepared statements (one enum, their SQL in
 * one table in store.c), the last error, and the batch state.
 */
#ifndef CRISISD_STORE_INT_H
#define CRISISD_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#include "store.h"

/* How long the daemon's event loop waits for a lock, at most (§5). */
#define STORE_DAEMON_BUSY_TIMEOUT_MS 100

/* Longest message store_error() returns, with its NUL. */
#define STORE_ERROR_BYTES 512

/*
 * Every statement the store runs more than once.  Each is prepared on first
 * use, kept for the life of the connection and reset after each use.
 */
enum store_stmt_id {
	/* batches (store.c) */
	STORE_STMT_BEGIN,
	STORE_STMT_COMMIT,
	STORE_STMT_ROLLBACK,
	STORE_STMT_SAVEPOINT,
	STORE_STMT_RELEASE,
	STORE_STMT_ROLLBACK_TO,
	STORE_STMT_READ_BEGIN,
	/* principals and roster (store_roster.c) */
	STORE_STMT_PRINCIPAL_INSERT,
	STORE_STMT_PRINCIPAL_GET,
	STORE_STMT_TOKEN_SET,
	STORE_STMT_PRINCIPAL_DISABLE,
	STORE_STMT_CLINICIAN_INSERT,
	STORE_STMT_PATIENT_UPSERT,
	STORE_STMT_PATIENT_PRIMARY,
	STORE_STMT_SHIFT_INSERT,
	STORE_STMT_ROSTER_VERSION,
	STORE_STMT_ROSTER_CLINICIANS,
	STORE_STMT_ROSTER_SHIFTS,
	STORE_STMT_SHIFT_CLINICIAN,
	STORE_STMT_SHIFT_IMPORT_BEGIN,
	STORE_STMT_SHIFT_IMPORT_DONE,
	STORE_STMT_SHIFT_IMPORT_CLAIM,
	STORE_STMT_SHIFT_IMPORT_REMOVE,
	STORE_STMT_SHIFT_IMPORT_FORGET,
	STORE_STMT_SHIFT_IMPORT_UNFINISHED,
	/* contacts (store_contact.c) */
	STORE_STMT_CONTACT_INSERT,
	STORE_STMT_CONTACT_BY_REF,
	STORE_STMT_CONTACT_STATE,
	STORE_STMT_CONTACT_SET_STATE,
	STORE_STMT_CONTACT_SET_ROUTE,
	STORE_STMT_CONTACT_COMPLETE,
	STORE_STMT_CONTACT_REOPEN,
	STORE_STMT_CONTACT_ENDED,
	STORE_STMT_EVENT_EXISTS,
	STORE_STMT_CONTACT_OFFERS_DROP,
	STORE_STMT_EVENT_INSERT,
	STORE_STMT_OFFER_UPSERT,
	STORE_STMT_OFFER_DELETE,
	STORE_STMT_PUSH_INSERT,
	STORE_STMT_PUSH_ACK,
	STORE_STMT_PUSH_PENDING,
	STORE_STMT_PUSH_UNACKED,
	STORE_STMT_ALIVE,
	STORE_STMT_RESUME_CONTACTS,
	STORE_STMT_RESUME_OFFERS,
	STORE_STMT_ASSIGNED_COUNTS,
	/* the supervisors' review (store_audit.c, store_followup.c) */
	STORE_STMT_AUDIT_INSERT,
	STORE_STMT_DISCLOSURE_INSERT,
	STORE_STMT_FOLLOWUP_OPEN,
	/* supervisors' contact closes (store_close.c) */
	STORE_STMT_CLOSE_FILE,
	STORE_STMT_CLOSE_PENDING,
	STORE_STMT_CLOSE_DONE,
	STORE_STMT_CLOSE_RESULT,
	/* web console passwords (store_password.c) */
	STORE_STMT_PASSWORD_SET,
	STORE_STMT_PASSWORD_GET,
	STORE_STMT_COUNT
};

/*
 * SQL that is true for a shift of the roster: one added alone, or by a
 * roster import that is done.  The shifts of an import still being staged
 * are invisible to every reader (store_roster.c).  It names the shifts'
 * import column unqualified, so no other table in the query may have one.
 */
#define STORE_SHIFT_VISIBLE                                                    \
	"coalesce(import, 0) NOT IN"                                           \
	" (SELECT id FROM roster_imports WHERE done_at IS NULL)"

struct store {
	struct db *db;
	struct db_stmt *stmts[STORE_STMT_COUNT];
	/* A batch was opened by a write and not yet committed or rolled back.
	 */
	bool batch;
	/*
	 * SQLite rolled the batch back by itself (disk full, I/O error): every
	 * write until store_commit() or store_rollback() is refused, and
	 * store_commit() fails, so no later write commits without the lost
	 * ones.
	 */
	bool batch_lost;
	int version_found; /* user_version when opened, before migrations */
	uint64_t writes; /* write attempts, for store_write_count() */
	int64_t busy_since; /* the daemon's busy handler began waiting then */
	int busy_wait_ms; /* how long the daemon's busy handler waits */
	char error[STORE_ERROR_BYTES];
	char lost_why[STORE_ERROR_BYTES]; /* why the batch was lost */
	bool lost_busy; /* it was lost to another process's write lock */
	/* The checkpointer thread (STORE_OPEN_DAEMON), or NULL. */
	struct store_checkpoint *checkpoint;
	/* The WAL's sync thread (STORE_OPEN_DAEMON), or NULL. */
	struct store_sync *sync;
	uint64_t sync_ticket; /* the last commit's ticket, 0 if none yet */
	/* PostgreSQL (store_lease.c): its URI, else NULL (an SQLite file). */
	char *uri;
	int64_t epoch; /* the lease's epoch the daemon writes under, or 0 */
	void (*on_fenced)(const char *why); /* a write refused: step down */
};

/* Open the daemon's write transaction under the lease (store_lease.c). */
int store_lease_begin(struct store *st);

/* Record the message store_error() returns. */
void store_set_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record "what: <sqlite's message>" and return STORE_ERROR. */
int store_fail(struct store *st, const char *what);

/* The cached statement id, prepared if need be; NULL (error set) on failure. */
struct db_stmt *store_stmt(struct store *st, enum store_stmt_id id);
/* store_stmt with the batch opened first: for every write. */
struct db_stmt *store_write_stmt(struct store *st, enum store_stmt_id id);

/* Make sure the batch's transaction is open (BEGIN IMMEDIATE on first write).
 */
int store_batch_begin(struct store *st);

/*
 * Open a savepoint inside the batch (opening the batch if need be), for
 * several writes that must all happen or none; end it with
 * store_savepoint_end(), keeping its writes in the batch or undoing them.
 */
int store_savepoint(struct store *st);
int store_savepoint_end(struct store *st, bool keep);

/*
 * Step a write statement to completion and reset it.  Maps a unique or
 * primary key violation to STORE_CONFLICT, a foreign key violation to
 * STORE_NOTFOUND, anything else to STORE_ERROR with "what: why".
 */
int store_step_write(struct store *st, struct db_stmt *s, const char *what);
/* Step an INSERT ... RETURNING one id: as store_step_write, and *id. */
int store_step_insert(struct store *st, struct db_stmt *s, const char *what,
    int64_t *id);

/*
 * Step a statement that reads one row.  STORE_OK with a row to read (reset
 * the statement after reading it), STORE_NOTFOUND if none, STORE_ERROR with
 * "what: why"; both of the latter reset the statement.
 */
int store_step_read(struct store *st, struct db_stmt *s, const char *what);

/*
 * Read several statements from one snapshot: opens a read transaction when
 * no batch is open (*opened says so) and store_snapshot_end() closes it.
 */
int store_snapshot_begin(struct store *st, bool *opened);
void store_snapshot_end(struct store *st, bool opened);

/* Bind text, or NULL for a NULL pointer (kept by pointer: step before return).
 */
int store_bind_text(struct db_stmt *s, int i, const char *v);

/* Rows changed by the last write of this connection. */
int store_changes(struct store *st);

/* The SQLite file (store_sqlite.c): 0, or -1 and *cause. */
int store_sqlite_open(struct store *st, const char *path,
    enum store_open_mode mode, char **cause);
int store_sqlite_check(struct store *st, char **cause);

/* What the checkpointer has done so far (store_checkpoint.c). */
struct store_checkpoint_counts {
	long passive; /* PASSIVE checkpoints the thread ran */
	long idle; /* of which once the commits paused */
	long busy; /* of which met another checkpoint (SQLITE_BUSY) */
	long failures; /* of which failed otherwise */
	long tails; /* last frames copied on the commit path to bound the WAL */
	int wal_pages; /* frames in the WAL at the thread's last checkpoint */
	int done_pages; /* of which copied into the database by then */
	/* The thread is idle and its last checkpoint began after the last
	 * commit. */
	bool caught_up;
};

/*
 * Turn wal_autocheckpoint off on st and start the checkpointer thread on
 * a connection of its own to path; STORE_OK without a thread (checkpoints
 * stay inside commits) if this SQLite is built without thread support.
 */
int store_checkpoint_start(struct store *st, const char *path);
/* Stop and join the thread, then checkpoint (TRUNCATE) on st itself. */
void store_checkpoint_stop(struct store *st);
/* Copy the thread's counts; -1 if st has no checkpointer thread. */
int
store_checkpoint_counts(struct store *st, struct store_checkpoint_counts *out);

/*
 * How the sync thread makes commits durable.  once: every ticket up to
 * target is durable when it returns 0; an errno (why says what failed)
 * is final.  idle, every idle_ms without a ticket (if idle_ms > 0): 0,
 * or an errno that is as final.  free: the arg, when the thread ends.
 */
struct store_sync_method {
	int (*once)(void *arg, uint64_t target, char *why, size_t size);
	int (*idle)(void *arg, char *why, size_t size);
	void (*free)(void *arg);
	void *arg;
	int idle_ms;
};
/* Start the sync thread with a method of another store (PostgreSQL). */
int store_sync_start_method(struct store *st,
    const struct store_sync_method *method);

/*
 * Start the thread that fdatasyncs path's WAL (store_sync.c), then switch
 * st to synchronous=NORMAL: its commits no longer sync, the thread does.
 */
int store_sync_start(struct store *st, const char *path);
/* Stop and join the thread once it has synced every ticket asked for. */
void store_sync_stop(struct store *st);
/* A commit wrote: ask the thread for a sync of it; returns its ticket. */
uint64_t store_sync_ask(struct store_sync *ss);
/*
 * One sync of the WAL, run by the thread: 0, or the errno of the call that
 * failed, with why filled in.  External so that bench/run can time it.
 */
int store_sync_once(struct store_sync *ss, char *why, size_t size);
/*
 * Run by the thread after a sync: every ticket up to target is on disk.
 * External so that bench/run can see when each ticket is done.
 */
void store_sync_completed(struct store_sync *ss, uint64_t target);

#endif
