/*
 * session.h: a welcomed (or welcoming) wire connection: who is on it, and
 * its outbox.  Everything sent to it waits in the outbox until the loop
 * turn's writes have committed (outbox.h).
 */
#ifndef CRISISD_SESSION_H
#define CRISISD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "conn.h"
#include "msg.h"

struct session;
struct clin;

struct session *session_new(struct conn *conn);
/* The connection closed: forget the session (called from conn's closed cb). */
void session_free(struct session *s);

struct conn *session_conn(const struct session *s);
enum role session_role(const struct session *s);
const char *session_principal(const struct session *s);
struct clin *session_clin(const struct session *s);
bool session_welcomed(const struct session *s);
/* The hello succeeded, with the token whose hash is token_hash. */
void session_welcome(struct session *s, enum role role, const char *principal,
    const uint8_t *token_hash, struct clin *c);
/* The hash of the token the session said hello with. */
const uint8_t *session_token_hash(const struct session *s);
/* Call fn for every session (fn may end the session's connection). */
void session_each(void (*fn)(struct session *, void *), void *arg);

/* Queue a push: a message (stolen), or one already serialised (copied). */
void session_send(struct session *s, json_t *msg);
void session_send_line(struct session *s, const char *line);
/*
 * Queue a push about a change the store does not hold (a clinician set
 * away): a failed commit does not undo it, so the line leaves whatever the
 * commit does.
 */
void session_send_urgent(struct session *s, json_t *msg);
/* Queue a reply to a request: id (borrowed, may be NULL) is echoed. */
void session_reply(struct session *s, json_t *id, json_t *msg);
/* Queue a reply already serialised (stolen), with its request's id. */
void session_reply_text(struct session *s, json_t *id, char *line);
/* Queue {"type":"ok"} for a request. */
void session_ok(struct session *s, json_t *id);
/* Queue an error reply; the connection stays open. */
void session_error(struct session *s, json_t *id, enum msg_code code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * Queue a stored result (routed/overflow) with its sequence number; an
 * urgent one leaves even if the turn's commit fails.
 */
void
session_result(struct session *s, const char *text, int64_t seq, bool urgent);

/* A request from the peer is being handled (see outbox.h). */
void session_request_begin(struct session *s);
void session_request_end(struct session *s, bool wrote, const char *line,
    int attempt);
/*
 * Who tries a request again when its turn lost the write lock (proto.c):
 * the session, the request line (stolen) and the tries so far.
 */
void session_on_retry(void (*fn)(struct session *, char *, int));
/* Its replies depend on the commit even if it wrote nothing itself. */
void session_request_depends(struct session *s);
/* Call the connection's drained callback once this turn's lines are out. */
void session_notify_drained(struct session *s);

/*
 * Where an intake connection stands in the results owed to its principal
 * (results.c keeps it): results after `after` are still to be sent when
 * `replaying`; `first_sent` is the oldest sent on this connection.
 */
struct session_results {
	int64_t after;
	int64_t first_sent;
	bool replaying;
};
struct session_results *session_results(struct session *s);

/*
 * A supervisor's snapshot in flight (proto.c keeps it): requests that come
 * while one is still being written get one reply after it, with the id of
 * the last of them.
 */
struct snapshot;
struct session_snapshot {
	bool busy;
	bool wanted;
	json_t *wanted_id; /* the last request that waits */
	struct snapshot *build; /* being built, a slice per loop turn */
	json_t *id; /* the request of the one being built */
};
struct session_snapshot *session_snapshot(struct session *s);

/* Supervisors who sent "watch". */
void session_set_watching(struct session *s);
/* Is any supervisor watching? */
bool session_watched(void);
/* Send an event to every watching supervisor. */
void session_broadcast(json_t *event);

/* The intake principal's most recently welcomed open session, or NULL. */
struct session *session_intake_latest(const char *principal);

/* How many sessions are open. */
size_t session_count(void);
/* Let every connection write out what it has, then close (shutdown). */
void session_finish_all(const char *why);
/* Close every session now. */
void session_close_all(const char *why);

#endif
