/*
 * outbox.c: each connection's lines, held until the loop turn's commit.
 *
 * Outboxes with lines wait on one flush list; outbox_flush() commits the
 * store's batch and walks the list once.  A failed commit drops pushes,
 * turns the replies of requests that wrote into one "internal" error each,
 * and lets everything else go: a person who only pinged, or asked about a
 * contact we do not know, still gets an answer while the disk is full.
 */
#include <sys/queue.h>

#include <stdlib.h>

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
	STAILQ_ENTRY(outbox_line) entry;
};

struct outbox {
	struct conn *conn;
	struct outbox_cbs cbs;
	STAILQ_HEAD(, outbox_line) lines;
	uint64_t request; /* the request being handled, 0 if none */
	bool request_depends; /* it read this turn's writes */
	/* Its first reply: the lines after it are the only ones to mark. */
	struct outbox_line *request_first;
	bool queued; /* on the flush list */
	bool notify_drained;
	TAILQ_ENTRY(outbox) flush;
};

static TAILQ_HEAD(, outbox) outbox_flushq = TAILQ_HEAD_INITIALIZER(
    outbox_flushq);
static uint64_t outbox_requests;

/* An outbox for a new connection. */
struct outbox *
outbox_new(struct conn *conn, const struct outbox_cbs *cbs)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));

	ob->conn = conn;
	if (cbs != NULL)
		ob->cbs = *cbs;
	STAILQ_INIT(&ob->lines);
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

/* Forget what was not sent; the connection is gone. */
void
outbox_free(struct outbox *ob)
{
	struct outbox_line *l;

	if (ob == NULL)
		return;
	while ((l = STAILQ_FIRST(&ob->lines)) != NULL) {
		STAILQ_REMOVE_HEAD(&ob->lines, entry);
		outbox_line_free(l);
	}
	if (ob->queued)
		TAILQ_REMOVE(&outbox_flushq, ob, flush);
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

/*
 * Send one outbox's lines as the commit's outcome says.  Stops at a
 * connection that closes on the way (its outbox is then gone).
 */
static void
outbox_release(struct outbox *ob, bool committed, bool busy)
{
	struct outbox_line *l;
	uint64_t failed_request = 0;
	int64_t dropped_seq = 0;
	char *line;
	int rc = 0;

	ob->queued = false;
	TAILQ_REMOVE(&outbox_flushq, ob, flush);
	while (rc == 0 && (l = STAILQ_FIRST(&ob->lines)) != NULL) {
		STAILQ_REMOVE_HEAD(&ob->lines, entry);
		line = committed
		    ? l->line
		    : outbox_line_failed(ob, l, busy, &failed_request);
		if (line != NULL)
			rc = conn_send(ob->conn, line);
		else if (l->result_seq > 0 &&
		    (dropped_seq == 0 || l->result_seq < dropped_seq))
			dropped_seq = l->result_seq;
		if (line != l->line)
			free(line);
		outbox_line_free(l);
	}
	if (rc != 0)
		return;
	/*
	 * What waited for the commit leaves now: an offer or a reply does not
	 * also wait for the rest of the next loop turn.
	 */
	conn_push(ob->conn);
	if (dropped_seq > 0 && ob->cbs.dropped_results != NULL)
		ob->cbs.dropped_results(ob->cbs.arg, dropped_seq);
	if (ob->notify_drained) {
		ob->notify_drained = false;
		conn_notify_drained(ob->conn);
	}
}

/* End of a loop turn: commit, then let the held lines go. */
int
outbox_flush(struct store *st)
{
	struct outbox *ob;
	bool wrote = store_batch_open(st), committed = true, busy;

	if (wrote && store_commit(st) != STORE_OK)
		committed = false;
	busy = !committed && store_failed_busy(st);
	while ((ob = TAILQ_FIRST(&outbox_flushq)) != NULL)
		outbox_release(ob, committed, busy);
	return !committed ? -1 : wrote ? 1 : 0;
}

/* Are lines waiting for the next flush? */
bool
outbox_pending(void)
{
	return !TAILQ_EMPTY(&outbox_flushq);
}
