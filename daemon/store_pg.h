/*
 * store_pg.h: what the store does on PostgreSQL only (CONTRACT §10): the
 * session settings, the schema's baseline, and the lease that makes one
 * crisisd of several the active one, with the fence on its writes.
 *
 * Every time here is the server's clock (clock_timestamp()), never a
 * node's: nodes' clocks may disagree, the server's is the one referee.
 *
 * Included only by the store's files.
 */
#ifndef CRISISD_STORE_PG_H
#define CRISISD_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* crisisctl's bound on a round trip: a report may read many rows. */
#define STORE_PG_CTL_TIMEOUT_MS 60000
/* The lease as read is store.h's struct store_lease (server ms). */
struct store_lease;

/*
 * Connect.  A daemon's connection commits asynchronously (the sync thread
 * makes commits durable, store_pg_sync_renew) and waits at most 100 ms
 * for a lock (CONTRACT §5); crisisctl's commits synchronously and waits
 * up to 5 s.  The settings are applied again after every reconnect.
 * NULL with *cause set on failure.
 */
struct db *store_pg_connect(const char *uri, bool daemon, char **cause);

/*
 * Check the schema version, creating the baseline if there is none and
 * migrate is set (crisisctl init; two at once are safe).  *version_found
 * is the version before (0: none).  0, or -1 with err filled.
 */
int store_pg_schema(struct db *db, bool migrate, int *version_found, char *err,
    size_t errsize);

/*
 * Take the lease if it has expired: a new epoch, this node, lease_ms from
 * now; committed synchronously.  0 taken (*epoch_out), 1 held by another
 * (*holder filled), -1 error (db_errmsg(); rolled back, so db_fault() is
 * the rollback's: try again at the next renewal).  The lock taken first waits
 * for the old active's write transactions, so none commits after this.
 */
int store_pg_lease_try(struct db *db, const char *node, int lease_ms,
    int64_t *epoch_out, struct store_lease *holder);
/* Read the lease (crisisctl status, a standby's message).  0 or -1. */
int store_pg_lease_read(struct db *db, struct store_lease *out);
/* Let the lease of epoch expire now (a clean stop).  0, 1 not ours, -1. */
int store_pg_lease_release(struct db *db, int64_t epoch);

/*
 * Begin a daemon write transaction under the fence: one round trip that
 * begins, locks the lease row of epoch FOR KEY SHARE (a taker waits for
 * it) and records next_ticket as the epoch's last batch.  0: go on; 1:
 * fenced, the lease has moved on (rolled back; step down); -1: error,
 * the fault set (the caller rolls back as for any failed write).
 */
int store_pg_begin_fenced(struct db *db, int64_t epoch, uint64_t next_ticket);

/*
 * The sync thread's round: renew the lease of epoch for lease_ms and read
 * the last batch committed in it (*durable).  Run on a connection of its
 * own with synchronous commits (store_pg_connect(uri, false, ...)): its
 * commit flushes the WAL up to it, so every batch committed before it is
 * durable.  0 renewed, 1 fenced (the lease moved on), -1 error (retry).
 */
int store_pg_sync_renew(struct db *db, int64_t epoch, const char *node,
    int lease_ms, uint64_t *durable);

#endif
