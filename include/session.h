/*
 * session.h: a welcomed (or welcoming) wire connection and everything sent
 * to it.  Messages wait in the session until the loop turn's writes have
 * committed (session_flush), so nothing that depends on a write leaves
 * before the write is durable; order per connection is kept.
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
/* The hello succeeded. */
void session_welcome(struct session *s, enum role role, const char *principal,
    struct clin *c);

/* Queue a message (stolen). */
void session_send(struct session *s, json_t *msg);
/* Queue a message already serialised as one line (copied). */
void session_send_line(struct session *s, const char *line);
/* Queue a reply to a request: id (borrowed, may be NULL) is echoed. */
void session_reply(struct session *s, json_t *id, json_t *msg);
/* Queue {"type":"ok"} for a request. */
void session_ok(struct session *s, json_t *id);
/* Queue an error reply; the connection stays open. */
void session_error(struct session *s, json_t *id, enum msg_code code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * Queue the acknowledgement of a stored contact: if the batch fails to
 * commit it turns into an "internal" error instead.
 */
void session_ack(struct session *s, json_t *id, json_t *msg);
/* Queue a stored push (routed/overflow) and mark it delivered once written. */
void session_push(struct session *s, const char *text, int64_t seq);

/* Supervisors who sent "watch". */
void session_set_watching(struct session *s);
/* Is any supervisor watching? */
bool session_watched(void);
/* Send an event to every watching supervisor. */
void session_broadcast(json_t *event);

/* The intake principal's most recently welcomed open session, or NULL. */
struct session *session_intake_latest(const char *principal);

/*
 * End of a loop turn: commit the store's batch, then release every held
 * message (or, if the commit failed, turn acks into errors and drop the
 * rest).  Returns -1 if the commit failed.
 */
int session_flush(void);

/* How many sessions are open. */
size_t session_count(void);
/* Let every connection write out what it has, then close (shutdown). */
void session_finish_all(const char *why);
/* Close every session now. */
void session_close_all(const char *why);

#endif
