/*
 * results.c: results owed to intake gateways, until acknowledged.
 *
 * The store holds every result with acked_at NULL until its "ack"; memory
 * holds only a cursor per intake connection (session_results).  After a
 * welcome the results are read back a page at a time, and the next page is
 * read only once the connection's output has drained: a backlog of any
 * size costs one page of memory, and a gateway that reads slowly slows its
 * own replay, never the daemon, and is never cut off for it.  While a
 * replay runs, new results for that connection are not sent live: the
 * replay reaches them in order.
 */
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "results.h"
#include "session.h"
#include "store.h"
#include "util.h"

static struct log_limit results_read_limit;
/*
 * The first result stored in the open batch, 0 if none: results read back
 * with a lower sequence number were committed before (sequence numbers
 * only grow), so they leave even if this turn's commit fails.
 */
static int64_t results_batch_first;

/*
 * Send result seq on s; a live or replayed one moves the cursor (a replay
 * goes on after it), a repeat does not.
 */
static void
results_send(struct session *s, const char *text, int64_t seq, bool urgent,
    bool move)
{
	struct session_results *r = session_results(s);

	session_result(s, text, seq, urgent);
	if (seq <= 0)
		return;
	if (move && seq > r->after)
		r->after = seq;
	if (r->first_sent == 0 || seq < r->first_sent)
		r->first_sent = seq;
}

/* Store a result and send it where it can go. */
int
results_push(struct store *st, struct session *origin, const char *intake,
    const char *contact, const char *text, bool urgent, bool quiet, bool *sent)
{
	struct session *to = origin;
	int64_t seq = 0;
	int rc = 0;

	*sent = false;
	if (store_push_add(st, intake, contact, text, &seq) == STORE_ERROR) {
		rc = -1;
		seq = 0;
	} else if (results_batch_first == 0)
		results_batch_first = seq;
	if (quiet)
		return rc;
	if (to == NULL || conn_closing(session_conn(to)))
		to = session_intake_latest(intake);
	if (to == NULL)
		return rc; /* sent after the principal's next welcome */
	if (!session_results(to)->replaying)
		results_send(to, text, seq, urgent, true);
	else if (urgent)
		results_send(to, text, seq, true, false);
	else
		return rc; /* the replay reaches it, in order */
	*sent = true;
	return rc;
}

/* The turn's commit is done: nothing stored is pending any more. */
void
results_committed(bool ok)
{
	(void)ok;
	results_batch_first = 0;
}

/* Was the result seq committed before this turn? */
static bool
results_durable(int64_t seq)
{
	return results_batch_first == 0 || seq < results_batch_first;
}

/* A replay page being read. */
struct results_page {
	struct session *s;
	int rows;
};

/* One result of a replay page. */
static int
results_page_one(void *arg, int64_t seq, const char *message)
{
	struct results_page *p = arg;

	/* A committed result does not wait on this turn's commit. */
	results_send(p->s, message, seq, results_durable(seq), true);
	p->rows++;
	return 0;
}

/*
 * Send the next page of a replay, and ask to hear when it has drained; a
 * short page ends the replay.  A failed read leaves the replay to resume at
 * the gateway's next ack or welcome.
 */
static void
results_page(struct store *st, struct session *s)
{
	struct session_results *r = session_results(s);
	struct results_page p = { s, 0 };

	if (store_push_pending(st, session_principal(s), r->after, RESULTS_PAGE,
	        results_page_one, &p) != STORE_OK) {
		log_limited(&results_read_limit, LOG_LEVEL_ERROR,
		    "results owed to %s: %s", session_principal(s),
		    store_error(st));
		return;
	}
	if (p.rows < RESULTS_PAGE)
		r->replaying = false;
	else
		session_notify_drained(s);
}

/* A welcome: everything not yet acknowledged, from the start. */
void
results_welcome(struct store *st, struct session *s)
{
	struct session_results *r = session_results(s);

	r->after = 0;
	r->first_sent = 0;
	r->replaying = true;
	results_page(st, s);
}

/* The output drained: the replay goes on, if it runs. */
void
results_drained(struct store *st, struct session *s)
{
	if (session_results(s)->replaying)
		results_page(st, s);
}

/*
 * An intake connection closed.  What it was sent may never have been read:
 * the principal's latest other connection replays from the first of those
 * (repeating some it has, which gateways drop by contact id); without one,
 * the next welcome replays everything.
 */
void
results_closed(struct session *s)
{
	struct session_results *r = session_results(s), *o;
	struct session *other;

	if (r->first_sent == 0 ||
	    (other = session_intake_latest(session_principal(s))) == NULL ||
	    other == s)
		return;
	o = session_results(other);
	if (!o->replaying || o->after >= r->first_sent)
		o->after = r->first_sent - 1;
	o->replaying = true;
	session_notify_drained(other);
}

/* The gateway acted on a contact's results: they are no longer owed. */
void
results_ack(struct store *st, struct session *s, json_t *id,
    const char *contact, int64_t now)
{
	char state[16], intake[PRINCIPAL_ID_MAX + 1];
	int rc;

	rc = store_push_ack(st, session_principal(s), contact, now);
	if (rc == STORE_NOTFOUND) {
		/* Acked already, or no result yet: fine if it is ours. */
		rc = store_contact_state(st, contact, state, intake);
		if (rc == STORE_OK && strcmp(intake, session_principal(s)) != 0)
			rc = STORE_NOTFOUND;
	}
	if (rc == STORE_NOTFOUND)
		session_error(s, id, CODE_NOT_FOUND, "no contact %s", contact);
	else if (rc == STORE_ERROR)
		session_error(s, id, CODE_INTERNAL, "ack not stored: %s",
		    store_error(st));
	else
		session_ok(s, id);
	/* A replay stopped by a failed read resumes with the gateway. */
	if (session_results(s)->replaying)
		session_notify_drained(s);
}

/* One unacknowledged result of a repeated ref. */
static int
results_resend_one(void *arg, int64_t seq, const char *message)
{
	results_send(arg, message, seq, results_durable(seq), false);
	return 0;
}

/* A repeated ref: its contact's unacknowledged results, again. */
void
results_resend(struct store *st, struct session *s, const char *contact)
{
	if (store_push_unacked(st, session_principal(s), contact,
	        results_resend_one, s) != STORE_OK)
		log_limited(&results_read_limit, LOG_LEVEL_ERROR,
		    "results of %s: %s", contact, store_error(st));
}
