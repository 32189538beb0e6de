/*
 * proto.c: the wire protocol of CONTRACT §3 on top of conn and session:
 * each line is decoded (msg.c), checked against the connection's state and
 * role, and dispatched through one table of {type, roles, handler}.
 *
 * A bad line gets an error and the connection lives on; only a failed or
 * missing hello, or a hello in the wrong role, closes it.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conn.h"
#include "engine.h"
#include "gaps.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "session.h"
#include "store.h"
#include "token.h"
#include "util.h"
#include "version.h"

#define ROLE_ANY (ROLE_INTAKE | ROLE_CLINICIAN | ROLE_SUPERVISOR)

static void proto_ping(struct session *, const struct msg *);
static void proto_contact(struct session *, const struct msg *);
static void proto_abandon(struct session *, const struct msg *);
static void proto_status(struct session *, const struct msg *);
static void proto_accept(struct session *, const struct msg *);
static void proto_decline(struct session *, const struct msg *);
static void proto_complete(struct session *, const struct msg *);
static void proto_watch(struct session *, const struct msg *);
static void proto_snapshot(struct session *, const struct msg *);

static const struct proto_handler {
	enum msg_type type;
	int roles;
	void (*handle)(struct session *, const struct msg *);
} proto_handlers[] = {
	{ MSG_PING, ROLE_ANY, proto_ping },
	{ MSG_CONTACT, ROLE_INTAKE, proto_contact },
	{ MSG_ABANDON, ROLE_INTAKE, proto_abandon },
	{ MSG_STATUS, ROLE_CLINICIAN, proto_status },
	{ MSG_ACCEPT, ROLE_CLINICIAN, proto_accept },
	{ MSG_DECLINE, ROLE_CLINICIAN, proto_decline },
	{ MSG_COMPLETE, ROLE_CLINICIAN, proto_complete },
	{ MSG_WATCH, ROLE_SUPERVISOR, proto_watch },
	{ MSG_SNAPSHOT, ROLE_SUPERVISOR, proto_snapshot },
};

/* ping: pong. */
static void
proto_ping(struct session *s, const struct msg *m)
{
	session_reply(s, m->id, json_pack("{s:s}", "type", "pong"));
}

/* An intake's contact. */
static void
proto_contact(struct session *s, const struct msg *m)
{
	engine_contact(s, m);
}

/* An intake's abandon. */
static void
proto_abandon(struct session *s, const struct msg *m)
{
	engine_abandon(s, m);
}

/* A clinician's status. */
static void
proto_status(struct session *s, const struct msg *m)
{
	engine_status(s, session_clin(s), m->u.status.available, m->id);
}

/* A clinician's accept. */
static void
proto_accept(struct session *s, const struct msg *m)
{
	engine_accept(s, session_clin(s), m);
}

/* A clinician's decline. */
static void
proto_decline(struct session *s, const struct msg *m)
{
	engine_decline(s, session_clin(s), m);
}

/* A clinician's complete. */
static void
proto_complete(struct session *s, const struct msg *m)
{
	engine_complete(s, session_clin(s), m);
}

/* Every look at contact records is on record (42 CFR Part 2). */
static void
proto_audit(struct session *s, const char *action, int64_t now)
{
	struct store *st = engine_store();

	if (store_audit_add(st, now, session_principal(s), "principal", action,
	        NULL, NULL) == STORE_ERROR)
		log_warnx("audit: %s", store_error(st));
}

/* A supervisor starts watching every contact event. */
static void
proto_watch(struct session *s, const struct msg *m)
{
	int64_t now = util_now_ms();

	proto_audit(s, "read.watch", now);
	session_set_watching(s);
	session_ok(s, m->id);
	gaps_replay(s, now, engine_conf()->gap_warning_hours);
	log_info("supervisor %s watching", session_principal(s));
}

/* A supervisor's snapshot of open contacts and connected clinicians. */
static void
proto_snapshot(struct session *s, const struct msg *m)
{
	int64_t now = util_now_ms();

	proto_audit(s, "read.snapshot", now);
	session_reply(s, m->id, engine_snapshot(now));
}

/* Send one stored push to a newly welcomed intake. */
static int
proto_pending_push(void *arg, int64_t seq, const char *message)
{
	session_push(arg, message, seq);
	return 0;
}

/*
 * hello: the principal must exist, the token must match (compared in
 * constant time), and the role must be the principal's own.
 */
static void
proto_hello(struct session *s, const struct msg *m)
{
	const struct msg_hello *h = &m->u.hello;
	struct store *st = engine_store();
	uint8_t hash[TOKEN_HASH_BYTES];
	char role[16];
	struct clin *c = NULL;
	int rc;

	rc = store_principal_get(st, h->principal, role, hash);
	if (rc == STORE_ERROR) {
		conn_fail(session_conn(s), m->id, CODE_INTERNAL,
		    "cannot check the principal now");
		return;
	}
	if (rc != STORE_OK || !token_matches(h->token, hash)) {
		log_notice("%s: hello refused for principal %s",
		    conn_peer(session_conn(s)), h->principal);
		conn_fail(session_conn(s), m->id, CODE_UNAUTHORIZED,
		    "unknown principal or bad token");
		return;
	}
	if (msg_role_from_name(role) != (int)h->role) {
		conn_fail(session_conn(s), m->id, CODE_FORBIDDEN,
		    "principal's role is not the one asked for");
		return;
	}
	if (h->role == ROLE_CLINICIAN)
		c = engine_clinician_connected(h->principal, s);
	session_welcome(s, h->role, h->principal, c);
	session_reply(s, m->id,
	    json_pack("{s:s, s:s, s:s, s:s}", "type", "welcome", "role",
	        msg_role_name(h->role), "principal", h->principal, "server",
	        "crisisd/" CRISISD_VERSION));
	log_info("%s: %s %s welcomed", conn_peer(session_conn(s)),
	    msg_role_name(h->role), h->principal);
	if (conn_peer_cert_cn(session_conn(s)) != NULL)
		log_debug("%s: client certificate CN %s",
		    conn_peer(session_conn(s)),
		    conn_peer_cert_cn(session_conn(s)));
	if (c != NULL)
		engine_clinician_welcomed(c);
	if (h->role == ROLE_INTAKE &&
	    store_push_pending(st, h->principal, proto_pending_push, s) !=
	        STORE_OK)
		log_warnx("pending results for %s: %s", h->principal,
		    store_error(st));
}

/* Find the handler of a message type. */
static const struct proto_handler *
proto_handler(enum msg_type type)
{
	for (size_t i = 0; i < nitems(proto_handlers); i++) {
		if (proto_handlers[i].type == type)
			return &proto_handlers[i];
	}
	return NULL;
}

/* One line from a connection. */
static void
proto_line_cb(struct conn *c, const char *line, size_t len)
{
	struct session *s = conn_data(c);
	const struct proto_handler *h;
	struct msg_error err;
	struct msg m;

	if (msg_decode(line, len, &m, &err) == -1) {
		if (!session_welcomed(s))
			conn_fail(c, m.id, CODE_UNAUTHORIZED,
			    "the first message must be a valid hello");
		else
			session_error(s, m.id, err.code, "%s", err.message);
		msg_clear(&m);
		return;
	}
	if (!session_welcomed(s)) {
		if (m.type == MSG_HELLO)
			proto_hello(s, &m);
		else
			conn_fail(c, m.id, CODE_UNAUTHORIZED,
			    "the first message must be hello");
	} else if (m.type == MSG_HELLO)
		session_error(s, m.id, CODE_BAD_REQUEST, "already welcomed");
	else if ((h = proto_handler(m.type)) == NULL)
		session_error(s, m.id, CODE_BAD_REQUEST, "unknown message");
	else if ((h->roles & (int)session_role(s)) == 0)
		session_error(s, m.id, CODE_FORBIDDEN, "a %s may not send %s",
		    msg_role_name(session_role(s)), msg_type_name(m.type));
	else
		h->handle(s, &m);
	msg_clear(&m);
}

/* A connection ended. */
static void
proto_closed_cb(struct conn *c, const char *why)
{
	struct session *s = conn_data(c);

	if (s == NULL)
		return;
	log_debug("%s: closed: %s", conn_peer(c), why);
	session_free(s);
	conn_set_data(c, NULL);
}

static const struct conn_cbs proto_conn_cbs = {
	proto_line_cb,
	proto_closed_cb,
};

static struct conn_limits proto_limits;

/* The limits new connections get (start and reload). */
void
proto_set_limits(size_t max_line_bytes, int64_t hello_timeout_ms)
{
	proto_limits.max_line_bytes = max_line_bytes;
	proto_limits.hello_timeout_ms = hello_timeout_ms;
}

/* A new connection from a listener. */
void
proto_accept_cb(int fd, void *arg)
{
	struct event_base *base = arg;
	struct conn *c = conn_new(base, fd, &proto_limits, &proto_conn_cbs);

	if (c != NULL)
		session_new(c);
}
