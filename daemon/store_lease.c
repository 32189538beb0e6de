/*
 * store_lease.c: one active crisisd on a shared PostgreSQL database
 * (CONTRACT §10), as the store sees it: the lease, the fence on every
 * write, and the sync thread's way of making commits durable.
 *
 * Durability.  The daemon's connection commits with synchronous_commit
 * off: a commit returns once its WAL record is written, not flushed.  Each
 * write transaction also records its ticket in crisisd_commits.  The sync
 * thread, on a connection of its own, renews the lease in a transaction
 * that commits synchronously: its flush covers every commit made before it
 * began, and it reads back the last ticket committed.  If that is older
 * than the ticket it was asked for, the server lost commits (it crashed
 * before flushing them): that is final, as a failed fdatasync is on
 * SQLite, and the daemon exits without sending what depended on them.
 *
 * Fencing.  Every write transaction of the daemon begins by holding the
 * lease row (FOR KEY SHARE) where the epoch is still its own; a standby
 * taking over locks the row FOR UPDATE first, so it waits for those
 * transactions to end, and none can begin after it under the old epoch.
 * The renewal is a plain UPDATE of non-key columns, which does not conflict
 * with FOR KEY SHARE: the loop's writes never wait for the thread's flush.
 *
 * Losing the database.  The thread retries every STORE_LEASE_RETRY_MS and
 * gives up (final) once it has not renewed for the lease less a margin: by
 * then a standby may take over, and this node must be gone first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "db_pg.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_pg.h"
#include "util.h"

/*
 * The lease is renewed every second (CONTRACT §10), or every third of a
 * shorter lease, and with every sync.
 */
#define STORE_LEASE_RENEW_MS 1000
/* A lost database is asked again this often. */
#define STORE_LEASE_RETRY_MS 100
/*
 * Give up this long before the lease could expire (or a quarter of a
 * shorter lease before), so that this node has stopped before a standby
 * can take over (the nodes' clocks only ever measure intervals; the
 * database's decides expiry).
 */
#define STORE_LEASE_MARGIN_MS 300

/* The sync thread's own: its connection and what it renews. */
struct store_lease_sync {
	char *uri;
	struct db *db;
	char node[STORE_LEASE_NODE_BYTES];
	int64_t epoch;
	int64_t lease_ms;
	int64_t last_ok; /* monotonic ms when the last good renewal began */
};

/* Sleep for ms milliseconds (the sync thread only). */
static void
store_lease_nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Renew the lease with a synchronous commit, until it works or must not
 * be tried again: 0, or an errno with why filled in (final).  check: every
 * ticket up to target must be committed by now.
 */
static int
store_lease_renew(struct store_lease_sync *ls, uint64_t target, bool check,
    char *why, size_t size)
{
	int64_t margin = ls->lease_ms / 4 < STORE_LEASE_MARGIN_MS
	    ? ls->lease_ms / 4
	    : STORE_LEASE_MARGIN_MS;
	int64_t give_up = ls->last_ok + ls->lease_ms - margin;
	char *cause = NULL;
	uint64_t durable = 0;
	int64_t began;
	int rc;

	for (;;) {
		began = util_monotonic_ms();
		rc = -1;
		if (ls->db == NULL &&
		    (ls->db = store_pg_connect(ls->uri, false, &cause)) != NULL)
			db_pg_set_timeout(ls->db, (int)ls->lease_ms / 2);
		if (ls->db != NULL)
			rc = store_pg_sync_renew(ls->db, ls->epoch, ls->node,
			    (int)ls->lease_ms, &durable);
		free(cause);
		cause = NULL;
		if (rc == 0 && check && durable < target) {
			snprintf(why, size,
			    "the database lost commits %llu to %llu (it "
			    "restarted without flushing them)",
			    (unsigned long long)durable + 1,
			    (unsigned long long)target);
			return EIO;
		}
		if (rc == 0) {
			ls->last_ok = began;
			return 0;
		}
		if (rc == 1) {
			snprintf(why, size,
			    "the lease moved on: epoch %lld is no longer node "
			    "%s's, another crisisd took over",
			    (long long)ls->epoch, ls->node);
			return EPERM;
		}
		if (began >= give_up) {
			snprintf(why, size,
			    "the lease could not be renewed for %lld ms (lease "
			    "%lld ms): %s",
			    (long long)(began - ls->last_ok),
			    (long long)ls->lease_ms,
			    ls->db != NULL ? db_errmsg(ls->db)
			                   : "no connection");
			return ETIMEDOUT;
		}
		store_lease_nap(STORE_LEASE_RETRY_MS);
	}
}

static int
store_lease_sync_once(void *arg, uint64_t target, char *why, size_t size)
{
	return store_lease_renew(arg, target, true, why, size);
}

static int
store_lease_sync_idle(void *arg, char *why, size_t size)
{
	return store_lease_renew(arg, 0, false, why, size);
}

static void
store_lease_sync_free(void *arg)
{
	struct store_lease_sync *ls = arg;

	db_close(ls->db);
	free(ls->uri);
	free(ls);
}

/* Start the sync thread that renews the lease of epoch for node. */
static int
store_lease_start_sync(struct store *st, const char *node, int64_t lease_ms)
{
	struct store_lease_sync *ls = xcalloc(1, sizeof *ls);
	struct store_sync_method method = { store_lease_sync_once,
		store_lease_sync_idle, store_lease_sync_free, ls,
		lease_ms / 3 < STORE_LEASE_RENEW_MS ? (int)lease_ms / 3
		                                    : STORE_LEASE_RENEW_MS };

	ls->uri = xstrdup(st->uri);
	strlcpy_(ls->node, node, sizeof ls->node);
	ls->epoch = st->epoch;
	ls->lease_ms = lease_ms;
	ls->last_ok = util_monotonic_ms();
	return store_sync_start_method(st, &method);
}

/* Can several crisisd share this store?  PostgreSQL's, not SQLite's file. */
bool
store_shared(const struct store *st)
{
	return st->uri != NULL;
}

/* Take the lease if it is free or expired (see store.h). */
int
store_lease_take(struct store *st, const char *node, int64_t lease_ms,
    struct store_lease *holder)
{
	int64_t epoch = 0;
	int rc;

	if (!store_shared(st))
		return STORE_OK;
	memset(holder, 0, sizeof *holder);
	rc = store_pg_lease_try(st->db, node, (int)lease_ms, &epoch, holder);
	if (rc == 1)
		return STORE_CONFLICT;
	if (rc != 0) {
		store_set_error(st, "take the lease: %s", db_errmsg(st->db));
		return STORE_ERROR;
	}
	st->epoch = epoch;
	st->sync_ticket = 0;
	if (store_lease_start_sync(st, node, lease_ms) != STORE_OK) {
		st->epoch = 0;
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* The lease as the database has it; STORE_NOTFOUND on SQLite. */
int
store_lease_read(struct store *st, struct store_lease *out)
{
	if (!store_shared(st))
		return STORE_NOTFOUND;
	if (store_pg_lease_read(st->db, out) != 0) {
		store_set_error(st, "read the lease: %s", db_errmsg(st->db));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* The epoch this store writes under, 0 without a lease. */
int64_t
store_lease_epoch(const struct store *st)
{
	return st->epoch;
}

/*
 * Hand the lease back at a clean stop, once every commit is durable (the
 * sync thread is stopped first, which syncs what it was asked to).
 */
void
store_lease_release(struct store *st)
{
	if (st->epoch == 0)
		return;
	store_sync_stop(st);
	if (store_pg_lease_release(st->db, st->epoch) != 0)
		log_warnx("the lease was not handed back (%s): a standby takes "
		          "over when it expires",
		    db_errmsg(st->db));
	st->epoch = 0;
}

/* Run on the loop the moment a write is refused for an old epoch. */
void
store_on_fenced(struct store *st, void (*fn)(const char *why))
{
	st->on_fenced = fn;
}

/*
 * Open the daemon's write transaction under the lease: STORE_OK, or
 * STORE_ERROR (the lease moved on: on_fenced runs first, and does not
 * return in the daemon).
 */
int
store_lease_begin(struct store *st)
{
	int rc = store_pg_begin_fenced(st->db, st->epoch, st->sync_ticket + 1);

	if (rc == 0)
		return STORE_OK;
	if (rc == 1) {
		store_set_error(st,
		    "the lease moved on: epoch %lld is no longer this "
		    "node's, another crisisd took over",
		    (long long)st->epoch);
		if (st->on_fenced != NULL)
			st->on_fenced(st->error);
		return STORE_ERROR;
	}
	return store_fail(st, "begin");
}
