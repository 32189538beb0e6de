/*
 * outbox.c: each connection's lines, held until the loop turn's commit is
 * on disk.
 *
 * An outbox holds two lists.  The turn's lines wait on the first until the
 * commit (outbox_flush): each outbox with such lines is on the flush list,
 * and the flush walks it once.  A failed commit drops pushes, turns the
 * replies of requests that wrote into one "internal" error each, and lets
 * everything else go: a person who only pinged, or asked about a contact
 * we do not know, still gets an answer while the disk is full.  What stays
 * moves to the second list with a sync ticket, and each outbox with lines
 * there is on the waiting list until outbox_release() has sent them.  The
 * outboxes of watching supervisors wait on a list of their own, sent last:
 * an event goes to every watcher (a thousand wallboards, say), and the
 * offer or the reply that routing is waiting on is not written after all
 * of them.
 */
#include <sys/queue.h>

#include <stdlib.h>

#include <event2/event.h>
#include <jansson.h>

#include "log.h"
#include "msg.h"
#include "outbox.h"
#include "store.h"
#include "util.h"
#include "wire.h"

struct outbox_line {
	char *line;
	enum outbox_kind kind;
	json_t *id; /* the request id a reply echoes */
	uint64_t request; /* the request a reply answers, 0 if none */
	bool depends; /* a reply whose request wrote */
	int64_t result_seq; /* a stored result's sequence number, or 0 */
	char *retry_line; /* the request, to try again if the lock was lost */
	int attempt; /* tries of that request before this one */
	uint64_t ticket; /* once committed: the sync it waits for */
	STAILQ_ENTRY(outbox_line) entry;
};

STAILQ_HEAD(outbox_lines, outbox_line);

struct outbox {
	struct conn *conn;
	struct outbox_cbs cbs;
	struct outbox_lines lines; /* this turn's, until the commit */
	struct outbox_lines held; /* committed, each waiting for its ticket */
	uint64_t request; /* the request being handled, 0 if none */
	bool request_depends; /* it read this turn's writes */
	/* Its first reply: the lines after it are the only ones to mark. */
	struct outbox_line *request_first;
	bool queued; /* on the flush list */
	bool waiting; /* on the waiting list */
	bool bulk; /* a watcher's: on the bulk waiting list, sent last */
	bool notify_drained; /* asked for this turn */
	/* Asked for in a committed turn: due once drain_ticket is done. */
	bool drain_held;
	uint64_t drain_ticket;
	TAILQ_ENTRY(outbox) flush;
	TAILQ_ENTRY(outbox) wait;
};

/* What a turn's commit came to, for its lines. */
struct outbox_commit {
	bool committed;
	bool busy; /* failed for another process's write lock */
	uint64_t ticket; /* what the turn's lines wait for */
};

static TAILQ_HEAD(, outbox) outbox_flushq = TAILQ_HEAD_INITIALIZER(
    outbox_flushq);
static TAILQ_HEAD(outbox_list, outbox) outbox_waitq = TAILQ_HEAD_INITIALIZER(
    outbox_waitq);
static struct outbox_list outbox_bulkq = TAILQ_HEAD_INITIALIZER(outbox_bulkq);
/* Made active when a line is queued: it ends the loop turn. */
static struct event *outbox_turn_ev;
static uint64_t outbox_requests;
/* The outbox being sent now: outbox_free() clears it if it goes meanwhile. */
static struct outbox *outbox_sending;

/* An outbox for a new connection. */
struct outbox *
outbox_new(struct conn *conn, const struct outbox_cbs *cbs)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));

	ob->conn = conn;
	if (cbs != NULL)
		ob->cbs = *cbs;
	STAILQ_INIT(&ob->lines);
	STAILQ_INIT(&ob->held);
	return ob;
}

/* Free one line. */
static void
outbox_line_free(struct outbox_line *l)
{
	json_decref(l->id);
	free(l->line);
	free(l->retry_line);
	free(l);
}

/* Free every line of a list. */
static void
outbox_lines_free(struct outbox_lines *lines)
{
	struct outbox_line *l;

	while ((l = STAILQ_FIRST(lines)) != NULL) {
		STAILQ_REMOVE_HEAD(lines, entry);
		outbox_line_free(l);
	}
}

/* Forget what was not sent; the connection is gone. */
void
outbox_free(struct outbox *ob)
{
	if (ob == NULL)
		return;
	outbox_lines_free(&ob->lines);
	outbox_lines_free(&ob->held);
	if (ob->queued)
		TAILQ_REMOVE(&outbox_flushq, ob, flush);
	if (ob->waiting)
		TAILQ_REMOVE(ob->bulk ? &outbox_bulkq : &outbox_waitq, ob,
		    wait);
	if (outbox_sending == ob)
		outbox_sending = NULL;
	free(ob);
}

/* Put ob on the flush list. */
static void
outbox_enlist(struct outbox *ob)
{
	if (!ob->queued) {
		ob->queued = true;
		TAILQ_INSERT_TAIL(&outbox_flushq, ob, flush);
	}
	if (outbox_turn_ev != NULL)
		event_active(outbox_turn_ev, EV_TIMEOUT, 1);
}

void
outbox_set_turn_event(struct event *ev)
{
	outbox_turn_ev = ev;
}

void
outbox_set_bulk(struct outbox *ob, bool bulk)
{
	if (ob->bulk == bulk)
		return;
	if (ob->waiting)
		TAILQ_REMOVE(ob->bulk ? &outbox_bulkq : &outbox_waitq, ob,
		    wait);
	ob->bulk = bulk;
	if (ob->waiting)
		TAILQ_INSERT_TAIL(ob->bulk ? &outbox_bulkq : &outbox_waitq, ob,
		    wait);
}

/* Queue a line until the end of the turn. */
void
outbox_queue(struct outbox *ob, char *line, enum outbox_kind kind, json_t *id,
    int64_t result_seq)
{
	struct outbox_line *l = xcalloc(1, sizeof(*l));

	l->line = line;
	l->kind = kind;
	l->id = json_incref(id);
	l->result_seq = result_seq;
	if (kind == OUTBOX_REPLY) {
		/* Outside a request, a reply is taken to depend on writes. */
		l->request = ob->request;
		l->depends = ob->request == 0;
		if (ob->request != 0 && ob->request_first == NULL)
			ob->request_first = l;
	}
	STAILQ_INSERT_TAIL(&ob->lines, l, entry);
	outbox_enlist(ob);
}

/* A request starts: its replies are told apart from the others. */
void
outbox_request_begin(struct outbox *ob)
{
	ob->request = ++outbox_requests;
	ob->request_depends = false;
	ob->request_first = NULL;
}

/* The request read this turn's writes. */
void
outbox_request_depends(struct outbox *ob)
{
	ob->request_depends = true;
}

/* The request is handled: did its replies depend on a write? */
void
outbox_request_end(struct outbox *ob, bool wrote, const char *line, int attempt)
{
	struct outbox_line *l;
	bool kept = !wrote || line == NULL;

	/*
	 * From the request's first reply on, not the whole outbox: a gateway
	 * that pipelines a thousand contacts in one read must not cost a
	 * walk over every earlier reply per request.
	 */
	if ((wrote || ob->request_depends) && ob->request_first != NULL) {
		for (l = ob->request_first; l != NULL;
		     l = STAILQ_NEXT(l, entry)) {
			if (l->request != ob->request)
				continue;
			l->depends = true;
			/* The first reply carries the request for a retry. */
			if (!kept) {
				l->retry_line = xstrdup(line);
				l->attempt = attempt;
				kept = true;
			}
		}
	}
	ob->request = 0;
	ob->request_depends = false;
	ob->request_first = NULL;
}

/* Ask for the owner's drained callback once this turn's lines are out. */
void
outbox_notify_drained(struct outbox *ob)
{
	ob->notify_drained = true;
	outbox_enlist(ob);
}

/*
 * What a line becomes when the commit failed: itself (returned as is), an
 * "internal" error (a new string), or nothing (NULL, also when its request
 * is handed back to be tried again).
 */
static char *
outbox_line_failed(struct outbox *ob, struct outbox_line *l, bool busy,
    uint64_t *failed_request)
{
	switch (l->kind) {
	case OUTBOX_URGENT:
		return l->line;
	case OUTBOX_PUSH:
		return NULL;
	case OUTBOX_REPLY:
		if (!l->depends)
			return l->line;
		/* One error (or retry) per request, whatever it replied. */
		if (l->request != 0 && l->request == *failed_request)
			return NULL;
		*failed_request = l->request;
		if (busy && l->retry_line != NULL &&
		    l->attempt < OUTBOX_RETRY_MAX && ob->cbs.retry != NULL) {
			ob->cbs.retry(ob->cbs.arg, l->retry_line,
			    l->attempt + 1);
			l->retry_line = NULL;
			return NULL;
		}
		return wire_error(CODE_INTERNAL,
		    "not stored: the database write failed; try again", l->id);
	}
	return NULL;
}

/* Put ob on the waiting list. */
static void
outbox_wait(struct outbox *ob)
{
	if (!ob->waiting) {
		ob->waiting = true;
		TAILQ_INSERT_TAIL(ob->bulk ? &outbox_bulkq : &outbox_waitq, ob,
		    wait);
	}
}

/*
 * The turn committed (or failed to): each of ob's lines becomes what the
 * outcome says and waits for c->ticket behind the lines held already.  A
 * drained notice asked for this turn waits for the same ticket.
 */
static void
outbox_settle(struct outbox *ob, const struct outbox_commit *c)
{
	struct outbox_line *l;
	uint64_t failed_request = 0;
	int64_t dropped_seq = 0;
	char *line;

	ob->queued = false;
	TAILQ_REMOVE(&outbox_flushq, ob, flush);
	while ((l = STAILQ_FIRST(&ob->lines)) != NULL) {
		STAILQ_REMOVE_HEAD(&ob->lines, entry);
		line = c->committed
		    ? l->line
		    : outbox_line_failed(ob, l, c->busy, &failed_request);
		if (line == NULL) {
			if (l->result_seq > 0 &&
			    (dropped_seq == 0 || l->result_seq < dropped_seq))
				dropped_seq = l->result_seq;
			outbox_line_free(l);
			continue;
		}
		if (line != l->line) {
			free(l->line);
			l->line = line;
		}
		l->ticket = c->ticket;
		STAILQ_INSERT_TAIL(&ob->held, l, entry);
	}
	if (ob->notify_drained) {
		ob->notify_drained = false;
		ob->drain_held = true;
		ob->drain_ticket = c->ticket;
	}
	if (!STAILQ_EMPTY(&ob->held) || ob->drain_held)
		outbox_wait(ob);
	/* The replay starts over (and may ask for a drained notice again). */
	if (dropped_seq > 0 && ob->cbs.dropped_results != NULL)
		ob->cbs.dropped_results(ob->cbs.arg, dropped_seq);
}

/* End of a loop turn: commit, then settle every line of the turn. */
int
outbox_flush(struct store *st)
{
	struct outbox_commit c = { true, false, 0 };
	struct outbox *ob;
	bool wrote = store_batch_open(st);

	if (wrote && store_commit(st) != STORE_OK)
		c.committed = false;
	c.busy = !c.committed && store_failed_busy(st);
	/* The commit's own ticket if it wrote, else the newest so far. */
	c.ticket = store_sync_ticket(st);
	while ((ob = TAILQ_FIRST(&outbox_flushq)) != NULL)
		outbox_settle(ob, &c);
	return !c.committed ? -1 : wrote ? 1 : 0;
}

/*
 * Send ob's lines whose tickets are done, in order.  A connection that
 * closes on the way can send nothing more: what it held is dropped.
 */
static void
outbox_send_synced(struct outbox *ob, uint64_t synced)
{
	struct outbox_line *l;
	bool sent = false;
	int rc = 0;

	outbox_sending = ob;
	while ((l = STAILQ_FIRST(&ob->held)) != NULL && l->ticket <= synced) {
		STAILQ_REMOVE_HEAD(&ob->held, entry);
		rc = conn_send(ob->conn, l->line);
		outbox_line_free(l);
		if (outbox_sending == NULL)
			return;
		if (rc != 0) {
			outbox_lines_free(&ob->held);
			ob->drain_held = false;
			break;
		}
		sent = true;
	}
	outbox_sending = NULL;
	/*
	 * What waited for the sync leaves now: an offer or a reply does not
	 * also wait for the rest of the loop turn.
	 */
	if (sent)
		conn_push(ob->conn);
	if (ob->drain_held && ob->drain_ticket <= synced) {
		ob->drain_held = false;
		conn_notify_drained(ob->conn);
	}
	if (STAILQ_EMPTY(&ob->held) && !ob->drain_held) {
		ob->waiting = false;
		TAILQ_REMOVE(ob->bulk ? &outbox_bulkq : &outbox_waitq, ob,
		    wait);
	}
}

/* Every ticket up to synced is done: send what waited for them. */
void
outbox_release(uint64_t synced)
{
	struct outbox *ob, *next;

	for (ob = TAILQ_FIRST(&outbox_waitq); ob != NULL; ob = next) {
		next = TAILQ_NEXT(ob, wait);
		outbox_send_synced(ob, synced);
	}
	for (ob = TAILQ_FIRST(&outbox_bulkq); ob != NULL; ob = next) {
		next = TAILQ_NEXT(ob, wait);
		outbox_send_synced(ob, synced);
	}
}

/* Are lines waiting, for the next flush or for their sync? */
bool
outbox_pending(void)
{
	return !TAILQ_EMPTY(&outbox_flushq) || !TAILQ_EMPTY(&outbox_waitq) ||
	    !TAILQ_EMPTY(&outbox_bulkq);
}
