/*
 * outbox.h: every line a connection is sent waits in its outbox until the
 * loop turn's store batch has committed (outbox_flush) and that commit is
 * on disk (outbox_release), so nothing that depends on a write leaves
 * before the write is durable; order per connection is kept.
 *
 * At the commit each line of the turn takes a sync ticket (store.h): the
 * commit's own if it wrote, else the newest one so far, which keeps it
 * behind the lines that wait for an earlier sync (and lets it go at once
 * when none is pending).  A line leaves once its ticket is done.
 *
 * What a line means if the commit fails is fixed when it is queued:
 *   - a push (offer, withdrawal, event, result) describes a change the
 *     failed batch lost: it is dropped, and the engine, which re-reads its
 *     state from the store, makes it again if it still holds;
 *   - a reply to a request that wrote nothing (pong, not_found, a read)
 *     leaves as usual;
 *   - a reply to a request that wrote becomes one "internal" error, or,
 *     when the commit lost only a race for another process's write lock,
 *     the request is handed back to be tried again a little later (up to
 *     OUTBOX_RETRY_MAX times);
 *   - an urgent line (an overflow: the caller must be sent somewhere now)
 *     leaves whatever the store did.
 * The outbox never calls the engine: the loop decides what a failed commit
 * means for the daemon's state.
 */
#ifndef CRISISD_OUTBOX_H
#define CRISISD_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "conn.h"

struct outbox;
struct store;

enum outbox_kind {
	OUTBOX_PUSH = 0,
	OUTBOX_REPLY,
	OUTBOX_URGENT,
};

/* What the owner hears at each commit. */
struct outbox_cbs {
	/*
	 * The commit failed and results (lines queued with a sequence
	 * number) from first_seq on were dropped with it.
	 */
	void (*dropped_results)(void *arg, int64_t first_seq);
	/*
	 * The commit lost the write lock: handle the request line (stolen)
	 * again soon; attempt counts the tries so far.
	 */
	void (*retry)(void *arg, char *line, int attempt);
	void *arg;
};

/*
 * How often a request is tried again after losing the write lock: with
 * proto.c's 50 ms between tries, a caller waits at most about half a
 * second before its gateway hears "internal" and routes it itself.
 */
#define OUTBOX_RETRY_MAX 8

struct outbox *outbox_new(struct conn *conn, const struct outbox_cbs *cbs);
/* Forget the lines not yet sent (the connection is gone). */
void outbox_free(struct outbox *ob);
/*
 * A bulk outbox (a watching supervisor's) is flushed after all the
 * others of the turn, so that its many events do not hold up routing.
 */
void outbox_set_bulk(struct outbox *ob, bool bulk);
/*
 * An event made active whenever a line is queued, at routing's priority:
 * it ends the loop turn, so the lines go out before lower-priority work.
 */
struct event;
void outbox_set_turn_event(struct event *ev);

/*
 * Queue a line (stolen).  id (borrowed, may be NULL) is the request id a
 * reply echoes, for the error it may become; result_seq is a stored
 * result's sequence number, or 0.
 */
void outbox_queue(struct outbox *ob, char *line, enum outbox_kind kind,
    json_t *id, int64_t result_seq);

/*
 * A request is being handled on ob: the replies queued until
 * outbox_request_end() belong to it, and depend on the batch if it wrote.
 */
void outbox_request_begin(struct outbox *ob);
/*
 * line (copied; may be NULL) is the request as received and attempt the
 * tries before this one: kept, if it wrote, to try it again.
 */
void outbox_request_end(struct outbox *ob, bool wrote, const char *line,
    int attempt);
/*
 * The request's replies depend on the batch although it wrote nothing: it
 * read what this turn wrote (a repeated ref finds this turn's contact).
 */
void outbox_request_depends(struct outbox *ob);

/* After this turn's lines have left, tell the connection's owner once its
 * output has drained (conn_cbs.drained). */
void outbox_notify_drained(struct outbox *ob);

/*
 * End of a loop turn: commit the store's batch, settle every line of the
 * turn as the commit's outcome says (the callbacks run now) and give the
 * lines that stay their sync ticket.  Nothing leaves here: see
 * outbox_release().  Returns 1 if a batch committed, 0 if there was none,
 * -1 if the commit failed.
 */
int outbox_flush(struct store *st);

/*
 * Every ticket up to synced is done (store_synced()): send the lines that
 * waited for them, in order, per connection up to the first that waits
 * for a later one.
 */
void outbox_release(uint64_t synced);

/* Are lines waiting, for the next flush or for their sync? */
bool outbox_pending(void);

#endif
