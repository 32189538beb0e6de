/*
 * session.c: one wire connection's identity (role, principal, clinician),
 * its outbox, and the small per-connection state that the results replay
 * and the snapshot coalescing keep.  Lines go through the outbox, which
 * holds them until the loop turn's commit.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "outbox.h"
#include "session.h"
#include "token.h"
#include "util.h"
#include "wire.h"

struct session {
	struct conn *conn;
	struct outbox *outbox;
	enum role role;
	char principal[PRINCIPAL_ID_MAX + 1];
	bool welcomed;
	bool watching;
	uint64_t welcome_seq; /* order of welcomes, for "most recent" */
	struct clin *clin;
	uint8_t token_hash[TOKEN_HASH_BYTES];
	struct session_results results;
	struct session_snapshot snapshot;
	TAILQ_ENTRY(session) all;
	TAILQ_ENTRY(session) watch;
};

static TAILQ_HEAD(, session) session_all = TAILQ_HEAD_INITIALIZER(session_all);
static TAILQ_HEAD(, session) session_watchers = TAILQ_HEAD_INITIALIZER(
    session_watchers);
static size_t session_n;
static uint64_t session_welcomes;
static void (*session_retry_fn)(struct session *, char *, int);

/*
 * A failed commit dropped results queued on this connection: the replay
 * picks up from the first of them again.
 */
static void
session_dropped_results(void *arg, int64_t first_seq)
{
	struct session *s = arg;

	if (s->results.after >= first_seq)
		s->results.after = first_seq - 1;
	s->results.replaying = true;
	session_notify_drained(s);
}

/* A request of this connection is to be tried again. */
static void
session_retry(void *arg, char *line, int attempt)
{
	if (session_retry_fn != NULL)
		session_retry_fn(arg, line, attempt);
	else
		free(line);
}

/* Who tries requests again after a lost write lock. */
void
session_on_retry(void (*fn)(struct session *, char *, int))
{
	session_retry_fn = fn;
}

/* A session for a new connection, not yet welcomed. */
struct session *
session_new(struct conn *conn)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct outbox_cbs cbs = { session_dropped_results, session_retry, s };

	s->conn = conn;
	s->outbox = outbox_new(conn, &cbs);
	TAILQ_INSERT_TAIL(&session_all, s, all);
	session_n++;
	conn_set_data(conn, s);
	return s;
}

/* The connection is gone: drop what was held and forget the session. */
void
session_free(struct session *s)
{
	outbox_free(s->outbox);
	if (s->watching)
		TAILQ_REMOVE(&session_watchers, s, watch);
	TAILQ_REMOVE(&session_all, s, all);
	session_n--;
	json_decref(s->snapshot.id);
	json_decref(s->snapshot.wanted_id);
	free(s);
}

/* The hash of the token it said hello with. */
const uint8_t *
session_token_hash(const struct session *s)
{
	return s->token_hash;
}

/*
 * Call fn for every session.  fn may end the connection gracefully
 * (conn_fail), which keeps the session until the loop closes it.
 */
void
session_each(void (*fn)(struct session *, void *), void *arg)
{
	struct session *s, *next;

	for (s = TAILQ_FIRST(&session_all); s != NULL; s = next) {
		next = TAILQ_NEXT(s, all);
		fn(s, arg);
	}
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
    const uint8_t *token_hash, struct clin *c)
{
	memcpy(s->token_hash, token_hash, sizeof(s->token_hash));
	s->role = role;
	strlcpy_(s->principal, principal, sizeof(s->principal));
	s->welcomed = true;
	s->welcome_seq = ++session_welcomes;
	s->clin = c;
	conn_hello_done(s->conn);
}

/* Queue a push. */
void
session_send(struct session *s, json_t *msg)
{
	outbox_queue(s->outbox, wire_line(msg), OUTBOX_PUSH, NULL, 0);
}

/* Queue a push that leaves even if the turn's commit fails. */
void
session_send_urgent(struct session *s, json_t *msg)
{
	outbox_queue(s->outbox, wire_line(msg), OUTBOX_URGENT, NULL, 0);
}

/* Queue a push already serialised as one line. */
void
session_send_line(struct session *s, const char *line)
{
	outbox_queue(s->outbox, xstrdup(line), OUTBOX_PUSH, NULL, 0);
}

/* Queue a reply, echoing the request's id. */
void
session_reply(struct session *s, json_t *id, json_t *msg)
{
	if (id != NULL)
		json_object_set(msg, "id", id);
	outbox_queue(s->outbox, wire_line(msg), OUTBOX_REPLY, id, 0);
}

/* Queue a reply already serialised. */
void
session_reply_text(struct session *s, json_t *id, char *line)
{
	outbox_queue(s->outbox, line, OUTBOX_REPLY, id, 0);
}

/* Queue {"type":"ok"}. */
void
session_ok(struct session *s, json_t *id)
{
	session_reply(s, id, wire_ok());
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
	outbox_queue(s->outbox, wire_error(code, message, id), OUTBOX_REPLY, id,
	    0);
}

/* Queue a stored result (results.c moves the replay cursor). */
void
session_result(struct session *s, const char *text, int64_t seq, bool urgent)
{
	outbox_queue(s->outbox, xstrdup(text),
	    urgent ? OUTBOX_URGENT : OUTBOX_PUSH, NULL, seq);
}

/* A request from the peer starts. */
void
session_request_begin(struct session *s)
{
	outbox_request_begin(s->outbox);
}

/* The request is handled; wrote says whether it wrote to the store. */
void
session_request_end(struct session *s, bool wrote, const char *line,
    int attempt)
{
	outbox_request_end(s->outbox, wrote, line, attempt);
}

/* The request's replies depend on the turn's commit. */
void
session_request_depends(struct session *s)
{
	outbox_request_depends(s->outbox);
}

/* Have the drained callback called once this turn's lines are out. */
void
session_notify_drained(struct session *s)
{
	outbox_notify_drained(s->outbox);
}

/* The results replay state of an intake connection. */
struct session_results *
session_results(struct session *s)
{
	return &s->results;
}

/* The snapshot in flight on a supervisor's connection. */
struct session_snapshot *
session_snapshot(struct session *s)
{
	return &s->snapshot;
}

/* Start sending events to a supervisor. */
void
session_set_watching(struct session *s)
{
	if (!s->watching) {
		s->watching = true;
		TAILQ_INSERT_TAIL(&session_watchers, s, watch);
		outbox_set_bulk(s->outbox, true);
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
	line = wire_line(event);
	TAILQ_FOREACH (s, &session_watchers, watch)
		session_send_line(s, line);
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
