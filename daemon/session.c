/*
 * session.c: one wire connection's protocol state and its held output.
 *
 * Messages are held in the session until session_flush() at the end of the
 * loop turn has committed the store's batch: a reply or push never leaves
 * before the writes it reports are durable.  If the commit fails, the
 * acknowledgements of contacts turn into "internal" errors, everything else
 * held is dropped, and the engine re-reads its state from the store.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "util.h"

struct held {
	char *line;
	json_t *ack_id; /* an acknowledgement: its request's id */
	bool ack;
	int64_t push_seq; /* a stored push, 0 if not */
	STAILQ_ENTRY(held) entry;
};

struct session {
	struct conn *conn;
	enum role role;
	char principal[PRINCIPAL_ID_MAX + 1];
	bool welcomed;
	bool watching;
	uint64_t welcome_seq; /* order of welcomes, for "most recent" */
	struct clin *clin;
	STAILQ_HEAD(, held) held;
	bool queued; /* on the flush list */
	int64_t *sent_pushes; /* pushes written, not yet seen drained */
	size_t nsent_pushes;
	TAILQ_ENTRY(session) all;
	TAILQ_ENTRY(session) flush;
	TAILQ_ENTRY(session) watch;
	TAILQ_ENTRY(session) pushes; /* has sent_pushes */
	bool on_push_list;
};

static TAILQ_HEAD(, session) session_all = TAILQ_HEAD_INITIALIZER(session_all);
static TAILQ_HEAD(, session) session_flushq = TAILQ_HEAD_INITIALIZER(
    session_flushq);
static TAILQ_HEAD(, session) session_watchers = TAILQ_HEAD_INITIALIZER(
    session_watchers);
static TAILQ_HEAD(, session) session_pushq = TAILQ_HEAD_INITIALIZER(
    session_pushq);
static size_t session_n;
static uint64_t session_welcomes;

/* A session for a new connection, not yet welcomed. */
struct session *
session_new(struct conn *conn)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->conn = conn;
	STAILQ_INIT(&s->held);
	TAILQ_INSERT_TAIL(&session_all, s, all);
	session_n++;
	conn_set_data(conn, s);
	return s;
}

/* Free one held message. */
static void
session_held_free(struct held *h)
{
	json_decref(h->ack_id);
	free(h->line);
	free(h);
}

/* The connection is gone: tell the engine, drop what was held. */
void
session_free(struct session *s)
{
	struct held *h;

	if (s->clin != NULL)
		engine_clinician_disconnected(s->clin);
	if (s->role == ROLE_INTAKE)
		engine_intake_disconnected(s);
	while ((h = STAILQ_FIRST(&s->held)) != NULL) {
		STAILQ_REMOVE_HEAD(&s->held, entry);
		session_held_free(h);
	}
	if (s->queued)
		TAILQ_REMOVE(&session_flushq, s, flush);
	if (s->watching)
		TAILQ_REMOVE(&session_watchers, s, watch);
	if (s->on_push_list)
		TAILQ_REMOVE(&session_pushq, s, pushes);
	TAILQ_REMOVE(&session_all, s, all);
	session_n--;
	free(s->sent_pushes);
	free(s);
}

/* The session's connection. */
struct conn *
session_conn(const struct session *s)
{
	return s->conn;
}

/* The role it said hello as (ROLE_NONE before). */
enum role
session_role(const struct session *s)
{
	return s->role;
}

/* The principal it said hello as ("" before). */
const char *
session_principal(const struct session *s)
{
	return s->principal;
}

/* The clinician it speaks for, or NULL. */
struct clin *
session_clin(const struct session *s)
{
	return s->clin;
}

/* Has the hello succeeded? */
bool
session_welcomed(const struct session *s)
{
	return s->welcomed;
}

/* The hello succeeded. */
void
session_welcome(struct session *s, enum role role, const char *principal,
    struct clin *c)
{
	s->role = role;
	strlcpy_(s->principal, principal, sizeof(s->principal));
	s->welcomed = true;
	s->welcome_seq = ++session_welcomes;
	s->clin = c;
	conn_hello_done(s->conn);
}

/* Hold a line (stolen) until the end of the turn. */
static struct held *
session_hold(struct session *s, char *line)
{
	struct held *h = xcalloc(1, sizeof(*h));

	h->line = line;
	STAILQ_INSERT_TAIL(&s->held, h, entry);
	if (!s->queued) {
		s->queued = true;
		TAILQ_INSERT_TAIL(&session_flushq, s, flush);
	}
	return h;
}

/* Serialise a message (stolen) to one line. */
static char *
session_line(json_t *msg)
{
	char *line = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (line == NULL)
		fatalx("json_dumps: out of memory");
	return line;
}

/* Queue a message. */
void
session_send(struct session *s, json_t *msg)
{
	session_hold(s, session_line(msg));
}

/* Queue a message already serialised as one line. */
void
session_send_line(struct session *s, const char *line)
{
	session_hold(s, xstrdup(line));
}

/* Queue a reply, echoing the request's id. */
void
session_reply(struct session *s, json_t *id, json_t *msg)
{
	if (id != NULL)
		json_object_set(msg, "id", id);
	session_send(s, msg);
}

/* Queue {"type":"ok"}. */
void
session_ok(struct session *s, json_t *id)
{
	session_reply(s, id, json_pack("{s:s}", "type", "ok"));
}

/* Queue an error reply. */
void
session_error(struct session *s, json_t *id, enum msg_code code,
    const char *fmt, ...)
{
	char message[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	session_hold(s, msg_error_line(id, code, message));
}

/* Queue an acknowledgement that becomes an error if the commit fails. */
void
session_ack(struct session *s, json_t *id, json_t *msg)
{
	struct held *h;

	if (id != NULL)
		json_object_set(msg, "id", id);
	h = session_hold(s, session_line(msg));
	h->ack = true;
	h->ack_id = json_incref(id);
}

/* Queue a stored push; it is marked delivered once written out. */
void
session_push(struct session *s, const char *text, int64_t seq)
{
	session_hold(s, xstrdup(text))->push_seq = seq;
}

/* Start sending events to a supervisor. */
void
session_set_watching(struct session *s)
{
	if (!s->watching) {
		s->watching = true;
		TAILQ_INSERT_TAIL(&session_watchers, s, watch);
	}
}

/* Is any supervisor watching? */
bool
session_watched(void)
{
	return !TAILQ_EMPTY(&session_watchers);
}

/* Queue an event (stolen) for every watching supervisor. */
void
session_broadcast(json_t *event)
{
	struct session *s;
	char *line;

	if (TAILQ_EMPTY(&session_watchers)) {
		json_decref(event);
		return;
	}
	line = session_line(event);
	TAILQ_FOREACH (s, &session_watchers, watch)
		session_hold(s, xstrdup(line));
	free(line);
}

/* The intake principal's most recently welcomed session. */
struct session *
session_intake_latest(const char *principal)
{
	struct session *s, *best = NULL;

	TAILQ_FOREACH (s, &session_all, all) {
		if (s->role == ROLE_INTAKE && !conn_closing(s->conn) &&
		    strcmp(s->principal, principal) == 0 &&
		    (best == NULL || s->welcome_seq > best->welcome_seq))
			best = s;
	}
	return best;
}

/* Remember a push written to the connection, to mark delivered once drained. */
static void
session_note_push(struct session *s, int64_t seq)
{
	s->sent_pushes = xreallocarray(s->sent_pushes, s->nsent_pushes + 1,
	    sizeof(*s->sent_pushes));
	s->sent_pushes[s->nsent_pushes++] = seq;
	if (!s->on_push_list) {
		s->on_push_list = true;
		TAILQ_INSERT_TAIL(&session_pushq, s, pushes);
	}
}

/* Pushes whose bytes have all left for the peer are delivered. */
static void
session_mark_delivered(struct store *st, int64_t now)
{
	struct session *s, *next;

	for (s = TAILQ_FIRST(&session_pushq); s != NULL; s = next) {
		next = TAILQ_NEXT(s, pushes);
		if (conn_unsent(s->conn) > 0)
			continue;
		for (size_t i = 0; i < s->nsent_pushes; i++) {
			if (store_push_delivered(st, s->sent_pushes[i], now) ==
			    STORE_ERROR)
				log_warnx("push delivered: %s",
				    store_error(st));
		}
		s->nsent_pushes = 0;
		s->on_push_list = false;
		TAILQ_REMOVE(&session_pushq, s, pushes);
	}
}

/*
 * Write out one session's held lines.  Returns -1 if the connection closed
 * on the way (the session is freed then).
 */
static int
session_release(struct session *s, bool committed)
{
	struct held *h;
	int rc = 0;

	s->queued = false;
	TAILQ_REMOVE(&session_flushq, s, flush);
	while (rc == 0 && (h = STAILQ_FIRST(&s->held)) != NULL) {
		STAILQ_REMOVE_HEAD(&s->held, entry);
		if (committed) {
			int64_t seq = h->push_seq;

			rc = conn_send(s->conn, h->line);
			if (rc == 0 && seq > 0)
				session_note_push(s, seq);
		} else if (h->ack) {
			char *err = msg_error_line(h->ack_id, CODE_INTERNAL,
			    "contact not stored: the database write failed");
			rc = conn_send(s->conn, err);
			free(err);
		}
		session_held_free(h);
	}
	/*
	 * What waited for the commit leaves now: an offer or a reply does not
	 * also wait for the rest of the next loop turn.
	 */
	if (rc == 0)
		conn_push(s->conn);
	return rc;
}

/* End of a loop turn: commit, then let the held messages go. */
int
session_flush(void)
{
	struct store *st = engine_store();
	struct session *s;
	bool committed = true;

	session_mark_delivered(st, util_now_ms());
	if (store_batch_open(st) && store_commit(st) != STORE_OK) {
		log_error("commit failed: %s; re-reading state from the "
		          "database",
		    store_error(st));
		committed = false;
	}
	while ((s = TAILQ_FIRST(&session_flushq)) != NULL)
		session_release(s, committed);
	if (!committed) {
		engine_resync();
		return -1;
	}
	return 0;
}

/* How many sessions are open. */
size_t
session_count(void)
{
	return session_n;
}

/* Close every connection now (shutdown, after session_finish_all). */
void
session_close_all(const char *why)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&session_all)) != NULL)
		conn_close(s->conn, why);
}

/* Let every connection write out what it has, then close (shutdown). */
void
session_finish_all(const char *why)
{
	struct session *s;

	TAILQ_FOREACH (s, &session_all, all)
		conn_finish(s->conn, why);
}
