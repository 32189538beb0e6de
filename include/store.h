/*
 * store.h: every read and write of durable state.  Only store*.c include
 * <sqlite3.h>; a PostgreSQL store later is one more implementation of this
 * header, not a rewrite of its callers.
 *
 * All times are milliseconds since the Unix epoch, UTC.
 *
 * Writes from the daemon go into a batch: the first write of an event-loop
 * turn opens a transaction and store_commit() at the end of the turn
 * commits all of them at once (group commit).  Nothing that depends on a
 * write may be sent before store_commit() has returned 0 and, for the
 * daemon's store, before the commit's sync ticket is done: store_synced().
 */
#ifndef CRISISD_STORE_H
#define CRISISD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "token.h"
#include "util.h"

/* The schema version this build writes and reads (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 5

enum store_result {
	STORE_ERROR = -1,
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_CONFLICT = 2, /* unique key already taken */
	STORE_UNSET = 3, /* the row is there, the value asked for is not */
};

/* Contact states, as stored in contacts.state (CONTRACT §6 outcomes). */
#define STORE_STATE_OPEN "open"
#define STORE_STATE_ASSIGNED "assigned"
#define STORE_STATE_COMPLETED "completed"
#define STORE_STATE_OVERFLOW "overflow"
#define STORE_STATE_ABANDONED "abandoned"

struct store;

enum store_open_mode {
	STORE_OPEN_EXISTING =
	    0, /* fail if missing or not at STORE_SCHEMA_VERSION */
	STORE_OPEN_MIGRATE, /* create if missing, migrate forward */
	/*
	 * crisisd's: as MIGRATE, and WAL checkpoints run in a thread of their
	 * own, on a second connection, instead of inside a commit; commits
	 * run with synchronous=NORMAL and another thread syncs the WAL
	 * (store_synced()).
	 */
	STORE_OPEN_DAEMON,
};

/*
 * Open the database at path: WAL, synchronous=FULL (NORMAL and the sync
 * thread for STORE_OPEN_DAEMON), foreign keys, a busy timeout, file mode
 * 0600 when created.  Returns NULL and sets *cause.
 */
struct store *
store_open(const char *path, enum store_open_mode mode, char **cause);
void store_close(struct store *st);

/* The message of the last failed call (never NULL). */
const char *store_error(const struct store *st);

/* PRAGMA quick_check and the schema version; -1 and *cause if not good. */
int store_check(struct store *st, char **cause);

/* The schema version found in the file (0 for a new file). */
int store_schema_version(struct store *st);

/* --- batches (group commit) --- */

/* Is a batch open (writes not yet committed)? */
bool store_batch_open(const struct store *st);
/* Commit the open batch, if any.  On failure the batch is rolled back. */
int store_commit(struct store *st);
/* Roll the open batch back, if any. */
void store_rollback(struct store *st);

/*
 * --- several crisisd on one PostgreSQL database (store_ha.c, §10) ---
 *
 * Exactly one crisisd is active: it holds a lease (a row in the database:
 * node, epoch, expiry by the database's clock), which its sync thread
 * renews every second and with every sync.  Every write transaction of
 * the daemon first checks that the epoch is still its own (and holds the
 * row against a taker until it commits), and every sync checks it again:
 * an old active's writes are refused, nothing that depended on them is
 * ever released, and the daemon exits.
 */

/* Can several crisisd share this store (PostgreSQL)?  Not SQLite's file. */
bool store_shared(const struct store *st);

/* A node's name and its NUL (ha.node is at most 63 bytes). */
#define STORE_LEASE_NODE_BYTES 64

struct store_lease {
	char node[STORE_LEASE_NODE_BYTES]; /* the holder; "" if never held */
	int64_t epoch;
	int64_t acquired_at; /* ms since the epoch, the database's clock */
	int64_t renewed_at;
	int64_t expires_at;
	int64_t now; /* the database's clock when this was read */
};

/*
 * Take the lease for node if it is free or expired: STORE_OK (from now on
 * every write is fenced by the new epoch, and the sync thread renews it),
 * STORE_CONFLICT (another node holds it: *holder says who), STORE_ERROR.
 */
int store_lease_take(struct store *st, const char *node, int64_t lease_ms,
    struct store_lease *holder);
/* The lease as the database has it (crisisctl status); STORE_NOTFOUND on
 * SQLite. */
int store_lease_read(struct store *st, struct store_lease *out);
/* The epoch this store writes under, 0 without a lease. */
int64_t store_lease_epoch(const struct store *st);
/* Hand the lease back at a clean stop, so a standby takes over at once. */
void store_lease_release(struct store *st);
/*
 * Called (on the loop) the moment a write is refused for an old epoch,
 * before anything more is done; it must not return (the daemon exits).
 */
void store_on_fenced(struct store *st, void (*fn)(const char *why));

/*
 * --- durability of the daemon's commits (store_sync.c) ---
 *
 * Each commit that wrote takes a ticket, a number that only grows; a
 * thread fdatasyncs the WAL, and a ticket is done once a sync that began
 * after its commit has ended.  Without the sync thread (crisisctl) commits
 * sync themselves: the ticket stays 0 and is always done.
 */
/* The newest ticket: every commit so far is on disk once it is done. */
uint64_t store_sync_ticket(const struct store *st);
/*
 * The last ticket done, into *done; -1 once a sync failed (store_error()
 * says which): from then on nothing that waits for a sync may be sent,
 * ever, and the daemon must exit.
 */
int store_synced(struct store *st, uint64_t *done);
/*
 * A descriptor that becomes readable when a sync ends (or fails): call
 * store_sync_clear(), then store_synced().  -1 without a sync thread.
 */
int store_sync_fd(const struct store *st);
void store_sync_clear(struct store *st);
/* Block until ticket is done: 0, or -1 if a sync failed (as above). */
int store_sync_wait(struct store *st, uint64_t ticket);
/*
 * Write attempts since the store was opened: a request whose handling moved
 * it depends on the batch's commit.
 */
uint64_t store_write_count(const struct store *st);
/*
 * How long the daemon's writes wait for another process's write lock (at
 * most, and by default, 100 ms): while the store is failing, requests fail
 * at once and the retry looks briefly, so nothing holds the loop up.
 */
void store_wait_for_lock(struct store *st, int ms);
/*
 * Was the last failed commit lost to another process's write lock (rather
 * than a full disk or an I/O error)?  Such a batch is worth trying again
 * soon.
 */
bool store_failed_busy(const struct store *st);
/* A small write in the batch that proves the store takes writes again. */
int store_alive(struct store *st, int64_t now);

/* --- principals and roster (crisisctl writes, the daemon reads) --- */

struct store_clinician {
	const char *id;
	const char *name;
	const char *languages; /* "en,es" or NULL */
	const char *skills; /* "mat,family" or NULL */
	const char *endpoint; /* NULL if none */
};

/* STORE_CONFLICT if id is taken. */
int store_principal_add(struct store *st, const char *id, const char *role,
    const uint8_t hash[TOKEN_HASH_BYTES], int64_t now_ms);
/* Adds the principal (role clinician) and its clinician row together. */
int store_clinician_add(struct store *st, const struct store_clinician *c,
    const uint8_t hash[TOKEN_HASH_BYTES], int64_t now_ms);
/* STORE_NOTFOUND if no such principal. */
int store_token_set(struct store *st, const char *id,
    const uint8_t hash[TOKEN_HASH_BYTES]);
/*
 * Fills role ("intake", "clinician", "supervisor"), hash, and *disabled
 * (if not NULL).
 */
int store_principal_get(struct store *st, const char *id, char role[16],
    uint8_t hash[TOKEN_HASH_BYTES], bool *disabled);
/*
 * Disable (or enable) a principal: a disabled one cannot say hello, and
 * the daemon closes its live connections.  STORE_NOTFOUND if unknown.
 */
int store_principal_disable(struct store *st, const char *id, bool disabled,
    int64_t now_ms);

/* --- web console passwords (store_password.c) --- */

/*
 * Set principal id's web console password to hash, a string from
 * password_hash(); the token is left alone.  STORE_NOTFOUND if there is no
 * such principal, STORE_CONFLICT if it is an intake principal: they cannot
 * log in, so they never hold a password.
 */
int store_password_set(struct store *st, const char *id, const char *hash);
/*
 * Principal id's password hash into buf (size bytes, NUL-terminated):
 * STORE_OK, STORE_NOTFOUND if there is no such principal, STORE_UNSET if
 * it has no password, STORE_ERROR if the stored hash does not fit.
 */
int store_principal_password(struct store *st, const char *id, char *buf,
    size_t size);

/* STORE_NOTFOUND if the primary clinician does not exist; re-adding replaces.
 */
int store_patient_add(struct store *st, const char *id, const char *primary,
    const char *program);
/* The patient's primary clinician into out; STORE_NOTFOUND if unknown. */
int store_patient_primary(struct store *st, const char *patient,
    char out[PRINCIPAL_ID_MAX + 1]);

struct store_shift {
	const char *clinician;
	int tier;
	int64_t start_ms;
	int64_t end_ms;
};

/* One shift; STORE_NOTFOUND if the clinician is unknown. */
int store_shift_add(struct store *st, const struct store_shift *s);

/*
 * A roster import: all rows or none (CONTRACT §6), written so that a
 * running crisisd never waits long on the write lock.  store_shift_import()
 * checks every row (*bad_row: the first bad one), then stages the rows in
 * short transactions of their own, invisible to every reader of shifts,
 * and returns STORE_OK with the batch open and the import marked done in
 * it: the shifts join the roster when the caller commits that batch (with
 * its audit row).  No batch may be open when it is called.  On failure
 * nothing is visible, the staged rows are removed, bad_row is the index of
 * the offending row (or -1) and store_error() says why.  A row that repeats
 * a shift of the roster (the same clinician, tier, start and end) or an
 * earlier row of the file is left out, and counted in skipped.
 */
struct store_import {
	const char *source; /* the file, for the record */
	long pid; /* the importing process, for store_shift_import_sweep() */
	int64_t started_ms;
	int64_t id; /* out: the import, for store_shift_import_drop() */
	long bad_row; /* out: on failure, the offending row or -1 */
	size_t skipped; /* out: rows left out as exact duplicates */
};
int store_shift_import(struct store *st, struct store_import *imp,
    const struct store_shift *rows, size_t nrows);
/*
 * Remove an import whose done batch was not committed (no batch may be
 * open); an import that is done is left as it is.
 */
int store_shift_import_drop(struct store *st, int64_t id);
/*
 * Remove the imports left unfinished by a crisisctl that died: those started
 * before stale_before_ms, or whose process gone() says has exited.  No batch
 * may be open; *dropped counts them.
 */
int store_shift_import_sweep(struct store *st, int64_t stale_before_ms,
    bool (*gone)(void *arg, long pid), void *arg, int *dropped);

/* Bumped by triggers on every change to principals, clinicians, patients,
 * shifts. */
int store_roster_version(struct store *st, int64_t *version);

/*
 * Load every clinician, and every shift ending after since_ms and starting
 * before until_ms, calling the callbacks in that order (all clinicians
 * first).  A callback returning -1 stops the load with STORE_ERROR.
 */
struct store_roster_cbs {
	int (*clinician)(void *arg, const struct store_clinician *c);
	int (*shift)(void *arg, const struct store_shift *s);
	void *arg;
};
int store_roster_load(struct store *st, int64_t since_ms, int64_t until_ms,
    const struct store_roster_cbs *cbs);

/* --- contacts (the daemon writes, inside batches) --- */

struct store_contact {
	char id[CONTACT_ID_MAX + 1];
	const char *intake;
	const char *ref;
	const char *channel;
	const char *risk;
	const char *caller; /* NULL if not given */
	const char *patient; /* NULL if not given */
	const char *program; /* NULL if not given */
	const char *language; /* NULL if not given */
	const char *needs; /* JSON array text, "[]" if none */
	const char *state; /* STORE_STATE_* */
	const char *clinician; /* assigned clinician or NULL */
	const char *route; /* routing position as JSON text (for restart) */
	int64_t queued_at;
	int64_t deadline_at; /* when it overflows whatever happens */
	int64_t assigned_at; /* 0 if not */
	int64_t closed_at; /* 0 if not */
	int policy_version;
	int answered_tier; /* read back only: the tier that accepted, 0 if none
	                    */
};

int store_contact_insert(struct store *st, const struct store_contact *c);

/*
 * The contact want->intake made with want->ref: its id, and in *same
 * whether its contact fields (channel, risk, caller, patient, program,
 * language, needs: the JSON text as stored) are want's.  STORE_NOTFOUND if
 * none.
 */
int store_contact_by_ref(struct store *st, const struct store_contact *want,
    char id[CONTACT_ID_MAX + 1], bool *same);

/*
 * An assigned contact is open again, without clinician or answer: the
 * caller could not be connected (CONTRACT §4 rule 8).  STORE_NOTFOUND
 * unless it was assigned.
 */
int store_contact_reopen(struct store *st, const char *id);
/* The routed call ended at at; a second call keeps the first time. */
int store_contact_ended(struct store *st, const char *id, int64_t at);
/* STORE_OK if the contact's timeline has an event of this kind, else
 * STORE_NOTFOUND. */
int
store_event_exists(struct store *st, const char *contact, const char *event);

/* A contact's state and intake principal; STORE_NOTFOUND if unknown. */
int store_contact_state(struct store *st, const char *id, char state[16],
    char intake[PRINCIPAL_ID_MAX + 1]);

/* Set state; clinician and at fill assigned_at (assigned) or closed_at
 * (terminal). */
int store_contact_set_state(struct store *st, const char *id, const char *state,
    const char *clinician, int64_t at);

/*
 * The contact was accepted: state assigned, clinician, assigned_at, and for
 * the review the tier that answered and how long the accepted offer rang.
 */
int store_contact_assign(struct store *st, const char *id,
    const char *clinician, int64_t at, int tier, int64_t accept_ms);

/* Record the routing position (JSON text) and current tier. */
int store_contact_set_route(struct store *st, const char *id, int tier,
    const char *route);

/* Record a clinician's complete. */
int store_contact_complete(struct store *st, const char *id,
    const char *disposition, const char *notes, int64_t at);

/* Append one event to the contact's timeline; detail is JSON text or NULL. */
int store_event_add(struct store *st, const char *contact, int64_t at,
    const char *event, int tier, const char *clinician, const char *detail);

/* Open offers, kept so a restart can resume them. */
int store_offer_open(struct store *st, const char *contact,
    const char *clinician, int tier, int64_t offered_at, int64_t expires_at);
int
store_offer_close(struct store *st, const char *contact, const char *clinician);

/*
 * Results (routed, overflow) owed to an intake principal until it
 * acknowledges them: *seq orders them.  An ack marks every unacknowledged
 * result of the contact; STORE_NOTFOUND if intake had none for it.
 */
int store_push_add(struct store *st, const char *intake, const char *contact,
    const char *message, int64_t *seq);
int store_push_ack(struct store *st, const char *intake, const char *contact,
    int64_t at);
/*
 * Up to limit unacknowledged results of intake with a sequence number
 * above after_seq, oldest first (the replay after a welcome is paged); cb
 * returning -1 stops.
 */
int store_push_pending(struct store *st, const char *intake, int64_t after_seq,
    int limit, int (*cb)(void *arg, int64_t seq, const char *message),
    void *arg);
/* The unacknowledged results of one contact to intake, oldest first. */
int
store_push_unacked(struct store *st, const char *intake, const char *contact,
    int (*cb)(void *arg, int64_t seq, const char *message), void *arg);

/*
 * Every open or assigned contact, oldest first, with its open offers after
 * it (for restart).  Pointers are valid only during the callback.
 */
struct store_offer {
	const char *clinician;
	int tier;
	int64_t offered_at;
	int64_t expires_at;
};
struct store_resume_cbs {
	int (*contact)(void *arg, const struct store_contact *c);
	int (*offer)(void *arg, const char *contact,
	    const struct store_offer *o);
	void *arg;
};
int store_resume_load(struct store *st, const struct store_resume_cbs *cbs);

/* How many contacts each clinician was assigned since since_ms. */
int store_assigned_counts(struct store *st, int64_t since_ms,
    int (*cb)(void *arg, const char *clinician, int count), void *arg);

/* --- routing policies --- */

/*
 * The version of a routing policy (JSON text): the newest stored one if it
 * is the same text, else a new version written in the open batch.
 */
int store_policy_save(struct store *st, const char *routing, int64_t now,
    int *version);
/* The routing text of a version (caller frees); STORE_NOTFOUND if none. */
int store_policy_load(struct store *st, int version, char **routing);

/*
 * The supervisors' review: what the daemon and crisisctl record (the audit
 * trail, disclosures, follow-ups) and crisisctl's reads of the records.
 * The reads return jansson values the caller frees.
 */

/*
 * A missing bound of a review window (since_ms, until_ms below): every
 * other value, 0 (1970-01-01T00:00:00Z) included, is a real bound.
 */
#define STORE_UNBOUNDED INT64_MIN

/* --- the audit trail and emergency disclosures (store_audit.c) --- */

/*
 * One audit row: who (actor, of actor_kind "os" or "principal"), did what
 * (action, e.g. "read.show", "change.shift"), to what (target, may be NULL),
 * with detail (JSON text: the filter, the contact ids, before and after).
 */
int store_audit_add(struct store *st, int64_t at, const char *actor,
    const char *actor_kind, const char *action, const char *target,
    const char *detail);

/* An emergency disclosure made while completing a contact. */
int store_disclosure_add(struct store *st, const char *contact,
    const char *clinician, int64_t at, const char *recipient,
    const char *affiliation, const char *nature);

struct store_audit_filter {
	int64_t since_ms; /* STORE_UNBOUNDED: no bound */
	int64_t until_ms; /* STORE_UNBOUNDED: no bound */
	const char *actor; /* NULL: any; also matches "root (sudo: A)" */
	const char *action; /* NULL: any; "read" matches every "read.*" */
	const char *target; /* NULL: any; the target, or named in the detail */
};

/* Audit rows, oldest first: {seq, at, actor, actor_kind, action, target,
 * detail}. */
json_t *
store_review_audit(struct store *st, const struct store_audit_filter *f);

/*
 * Emergency disclosures made in [since, until) (either STORE_UNBOUNDED for
 * no bound), oldest first, of one
 * patient's contacts if patient is not NULL: {at, contact, clinician,
 * recipient, affiliation, nature, patient}.
 */
json_t *store_review_disclosures(struct store *st, int64_t since_ms,
    int64_t until_ms, const char *patient);

/* --- supervisors' contact closes (store_close.c) --- */

/* A request to close a stuck contact, filed by crisisctl. */
struct store_close {
	int64_t id;
	char *contact;
	char *supervisor; /* the supervisor principal who closes it */
	char *reason;
};

/*
 * File a request by the OS user actor; its id into *id.  STORE_NOTFOUND
 * if the contact or the supervisor is unknown.
 */
int
store_close_file(struct store *st, const char *contact, const char *supervisor,
    const char *reason, const char *actor, int64_t at, int64_t *id);
/* Up to max requests not yet done, oldest first, copied into out[*n]. */
int store_close_pending(struct store *st, struct store_close *out, size_t max,
    size_t *n);
void store_close_pending_free(struct store_close *c, size_t n);
/* The daemon carried request id out: what it did, for crisisctl to print. */
int
store_close_done(struct store *st, int64_t id, int64_t at, const char *result);
/* Is request id done, and its result; STORE_NOTFOUND if there is none. */
int store_close_result(struct store *st, int64_t id, bool *done, char *result,
    size_t len);

/* --- follow-ups (store_followup.c) --- */

/* A callback owed for a contact (reason "abandoned" or "overflow"). */
int store_followup_open(struct store *st, const char *contact,
    const char *reason, int64_t at);

/*
 * The newest limit open follow-ups, newest first: an array of {id,
 * contact, reason, opened_at, ref, risk}, and in *count how many are open
 * (the supervisors' snapshot sends both).
 */
json_t *
store_review_followups_recent(struct store *st, long limit, int64_t *count);

/*
 * Open follow-ups, oldest first, with what a callback needs: {id,
 * contact, reason, opened_at, ref, risk, channel, program, caller,
 * patient}.
 */
json_t *store_review_followups(struct store *st);

/*
 * Close follow-up id, in the batch.  *before (caller frees) is the row
 * as it was: STORE_NOTFOUND if there is none, STORE_CONFLICT if it was
 * already closed.
 */
int store_followup_close(struct store *st, int64_t id, const char *by,
    const char *note, int64_t at, json_t **before);

/* --- review queries (store_review.c) --- */

struct store_log_filter {
	int64_t since_ms; /* STORE_UNBOUNDED: no bound */
	int64_t until_ms; /* STORE_UNBOUNDED: no bound */
	const char *risk; /* NULL: any */
	const char *outcome; /* NULL: any; "open", "assigned", ... */
	const char *clinician; /* NULL: any */
	const char *program; /* NULL: any */
	const char *channel; /* NULL: any */
	long limit; /* 0: no limit */
	long offset;
};

/*
 * Contacts newest first: an array of objects with keys id, ref, intake,
 * channel, risk, program, language, state, clinician, queued_at,
 * assigned_at, closed_at (ms or null), tier, disposition.
 */
json_t *store_review_log(struct store *st, const struct store_log_filter *f);

/*
 * The same rows one at a time, for listings too long to hold: cb gets each
 * row (freed after it returns; json_incref to keep it), and returning -1
 * stops the walk with STORE_ERROR.
 */
int store_review_log_each(struct store *st, const struct store_log_filter *f,
    int (*cb)(void *arg, json_t *row), void *arg);

/*
 * One contact: its row (as in the log, plus caller, patient, needs, notes)
 * and "events": [{at, event, tier, clinician, detail}] in order.
 * NULL with store_error() "not found" if unknown.
 */
json_t *store_review_show(struct store *st, const char *id);

/*
 * Shifts overlapping [from_ms, to_ms), on tier (0: any), with the
 * clinician's name: array of {clinician, name, tier, start, end}.
 */
json_t *
store_review_shifts(struct store *st, int64_t from_ms, int64_t to_ms, int tier);

/*
 * Open the batch now, taking the write lock, so what is read next stays
 * as read until the batch's writes commit (a change's "before").
 */
int store_review_begin(struct store *st);

/* A patient as {id, primary, program}; NULL with "not found" or the error. */
json_t *store_review_patient(struct store *st, const char *id);

/* STORE_OK if id is a clinician, STORE_NOTFOUND if not, or STORE_ERROR. */
int store_review_is_clinician(struct store *st, const char *id);

/* --- stats (store_stats.c) --- */

/* CONTRACT §6 stats over contacts queued in [since, until) (either
 * STORE_UNBOUNDED for no bound). */
json_t *
store_review_stats(struct store *st, int64_t since_ms, int64_t until_ms);

/* The thresholds store_review_stats() uses: crisisd.conf's defaults. */
#define STORE_STATS_SERVICE_LEVEL_MS 20000
#define STORE_STATS_SHORT_ABANDON_MS 5000

/* How stats groups contacts besides the totals (crisisctl stats --by). */
enum store_stats_by {
	STORE_STATS_BY_NONE = 0,
	STORE_STATS_BY_HOUR,
	STORE_STATS_BY_DAY,
	STORE_STATS_BY_CLINICIAN, /* the clinician who answered */
	STORE_STATS_BY_TIER, /* the tier that answered */
	STORE_STATS_BY_PROGRAM,
	STORE_STATS_BY_RISK,
};

struct store_stats_query {
	int64_t since_ms; /* STORE_UNBOUNDED: no bound */
	int64_t until_ms; /* STORE_UNBOUNDED: no bound */
	int64_t service_level_ms; /* answered within this: in service */
	int64_t short_abandon_ms; /* abandoned sooner: a short abandon */
	enum store_stats_by by;
	/*
	 * For hour and day: the start of the period holding ms, and its end
	 * in *end_ms.  The caller's calendar (its time zone, its daylight
	 * saving), so the store stays free of them.
	 */
	int64_t (*period)(void *arg, int64_t ms, int64_t *end_ms);
	void *period_arg;
};

/*
 * The crisis-line metrics of the contacts queued in the window (the
 * CONTRACT §6 keys and more; man crisisctl says what each means), with
 * "groups" when q->by is set.  NULL on failure.
 */
json_t *
store_review_stats_query(struct store *st, const struct store_stats_query *q);

/* --- backups (crisisctl backup) --- */

/*
 * A consistent copy of the database at path, taken with SQLite's online
 * backup API while crisisd runs: written to "path.tmp" (created mode 0600),
 * switched to a self-contained rollback journal, checked with PRAGMA
 * integrity_check, synced, then renamed to path.  STORE_CONFLICT if path
 * exists and replace is false, or if path is the database itself.  No
 * batch may be open.  *bytes is the size of the copy.
 */
int
store_backup(struct store *st, const char *path, bool replace, int64_t *bytes);

#endif
