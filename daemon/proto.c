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
#include <unistd.h>

#include <jansson.h>

#include "conn.h"
#include "engine.h"
#include "gaps.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "results.h"
#include "session.h"
#include "store.h"
#include "token.h"
#include "util.h"
#include "wire.h"

#define ROLE_ANY (ROLE_INTAKE | ROLE_CLINICIAN | ROLE_SUPERVISOR)

/* The engine the requests go to (proto_init). */
static struct engine *proto_engine;
/* A standby's answer to hello (proto_standby), or NULL when serving. */
static char *proto_standby_message;

static void proto_ping(struct session *, const struct msg *);
static void proto_contact(struct session *, const struct msg *);
static void proto_abandon(struct session *, const struct msg *);
static void proto_ack(struct session *, const struct msg *);
static void proto_ended(struct session *, const struct msg *);
static void proto_failed(struct session *, const struct msg *);
static void
proto_dispatch(struct conn *, struct session *, const char *, size_t);
static void proto_status(struct session *, const struct msg *);
static void proto_accept(struct session *, const struct msg *);
static void proto_decline(struct session *, const struct msg *);
static void proto_complete(struct session *, const struct msg *);
static void proto_watch(struct session *, const struct msg *);
static void proto_snapshot(struct session *, const struct msg *);
static void proto_welcome(struct session *, enum role, const char *,
    const uint8_t[TOKEN_HASH_BYTES], json_t *);

static const struct proto_handler {
	enum msg_type type;
	int roles;
	void (*handle)(struct session *, const struct msg *);
} proto_handlers[] = {
	{ MSG_PING, ROLE_ANY, proto_ping },
	{ MSG_CONTACT, ROLE_INTAKE, proto_contact },
	{ MSG_ABANDON, ROLE_INTAKE, proto_abandon },
	{ MSG_ACK, ROLE_INTAKE, proto_ack },
	{ MSG_ENDED, ROLE_INTAKE, proto_ended },
	{ MSG_FAILED, ROLE_INTAKE, proto_failed },
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
	session_reply(s, m->id, wire_pong());
}

/* An intake's contact. */
static void
proto_contact(struct session *s, const struct msg *m)
{
	engine_contact(proto_engine, s, m, util_now_ms());
}

/* An intake's abandon. */
static void
proto_abandon(struct session *s, const struct msg *m)
{
	engine_abandon(proto_engine, s, m, util_now_ms());
}

/* An intake acknowledges a result it acted on. */
static void
proto_ack(struct session *s, const struct msg *m)
{
	results_ack(engine_store(proto_engine), s, m->id, m->u.ref.contact,
	    util_now_ms());
}

/* An intake's call ended. */
static void
proto_ended(struct session *s, const struct msg *m)
{
	engine_ended(proto_engine, s, m, util_now_ms());
}

/* An intake could not connect the caller to the routed clinician. */
static void
proto_failed(struct session *s, const struct msg *m)
{
	engine_failed(proto_engine, s, m, util_now_ms());
}

/* A clinician's status. */
static void
proto_status(struct session *s, const struct msg *m)
{
	engine_status(proto_engine, s, session_clin(s), m->u.status.available,
	    m->id, util_now_ms());
}

/* A clinician's accept. */
static void
proto_accept(struct session *s, const struct msg *m)
{
	engine_accept(proto_engine, s, session_clin(s), m, util_now_ms());
}

/* A clinician's decline. */
static void
proto_decline(struct session *s, const struct msg *m)
{
	engine_decline(proto_engine, s, session_clin(s), m, util_now_ms());
}

/* A clinician's complete. */
static void
proto_complete(struct session *s, const struct msg *m)
{
	engine_complete(proto_engine, s, session_clin(s), m, util_now_ms());
}

/* Every look at contact records is on record (42 CFR Part 2). */
static void
proto_audit(struct session *s, const char *action, int64_t now)
{
	struct store *st = engine_store(proto_engine);

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
	gaps_replay(s, now, engine_conf(proto_engine)->gap_warning_hours);
	log_info("supervisor %s watching", session_principal(s));
}

/*
 * Snapshots being built, a slice of contacts per loop turn, and the zero
 * timer that takes the next slice after the loop has polled its sockets.
 */
#define PROTO_SNAPSHOT_SLICE 500
static struct {
	struct session **sessions;
	size_t n, cap;
	struct event *ev;
	struct event_base *base;
} proto_builds;

static void proto_builds_cb(evutil_socket_t, short, void *);

/* Take the next slices of the snapshots being built at the next turn. */
static void
proto_builds_arm(void)
{
	struct timeval tv = { 0, 0 };

	if (proto_builds.ev == NULL) {
		proto_builds.ev =
		    evtimer_new(proto_builds.base, proto_builds_cb, NULL);
		if (proto_builds.ev == NULL)
			fatalx("snapshot timer: out of memory");
	}
	evtimer_add(proto_builds.ev, &tv);
}

/* Forget a session's build (it is done, or its connection closed). */
static void
proto_builds_remove(struct session *s)
{
	for (size_t i = 0; i < proto_builds.n; i++) {
		if (proto_builds.sessions[i] == s) {
			proto_builds.sessions[i] =
			    proto_builds.sessions[--proto_builds.n];
			return;
		}
	}
}

/* A snapshot is built: queue it, and hear when it has been written. */
static void
proto_snapshot_done(struct session *s, json_t *id, int64_t now)
{
	struct session_snapshot *snap = session_snapshot(s);
	char *line = engine_snapshot_finish(proto_engine, snap->build, now);

	snap->build = NULL;
	/*
	 * Within its request it waits for the audit row's commit; after it,
	 * for the commit of the turn it leaves in.
	 */
	session_reply_text(s, id, line);
	session_notify_drained(s);
}

/* The next slice of every snapshot being built. */
static void
proto_builds_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = util_now_ms();
	size_t i = 0;

	(void)fd;
	(void)what;
	(void)arg;
	while (i < proto_builds.n) {
		struct session *s = proto_builds.sessions[i];
		struct session_snapshot *snap = session_snapshot(s);

		if (!engine_snapshot_step(proto_engine, snap->build,
		        PROTO_SNAPSHOT_SLICE, now)) {
			i++;
			continue;
		}
		proto_snapshot_done(s, snap->id, now);
		json_decref(snap->id);
		snap->id = NULL;
		proto_builds_remove(s);
	}
	if (proto_builds.n > 0)
		proto_builds_arm();
}

/*
 * Start a snapshot (audited as read); the next request on this connection
 * waits until this one is written.  A small one is done at once.
 */
static void
proto_snapshot_send(struct session *s, json_t *id)
{
	struct session_snapshot *snap = session_snapshot(s);
	int64_t now = util_now_ms();

	proto_audit(s, "read.snapshot", now);
	snap->busy = true;
	snap->build = engine_snapshot_start(id);
	if (engine_snapshot_step(proto_engine, snap->build,
	        PROTO_SNAPSHOT_SLICE, now)) {
		proto_snapshot_done(s, id, now);
		return;
	}
	json_decref(snap->id);
	snap->id = json_incref(id);
	if (proto_builds.n == proto_builds.cap) {
		proto_builds.cap =
		    proto_builds.cap == 0 ? 8 : proto_builds.cap * 2;
		proto_builds.sessions = xreallocarray(proto_builds.sessions,
		    proto_builds.cap, sizeof(*proto_builds.sessions));
	}
	proto_builds.sessions[proto_builds.n++] = s;
	proto_builds_arm();
}

/*
 * A supervisor's snapshot of open contacts and connected clinicians.  While
 * one is still being built or written, further requests get one reply after
 * it (with the last one's id): a client that pipelines them costs two
 * snapshots, not one each.
 */
static void
proto_snapshot(struct session *s, const struct msg *m)
{
	struct session_snapshot *snap = session_snapshot(s);

	if (!snap->busy) {
		proto_snapshot_send(s, m->id);
		return;
	}
	snap->wanted = true;
	json_decref(snap->wanted_id);
	snap->wanted_id = json_incref(m->id);
}

/* A snapshot was written out: send the one asked for meanwhile, if any. */
static void
proto_snapshot_drained(struct session *s)
{
	struct session_snapshot *snap = session_snapshot(s);
	struct store *st = engine_store(proto_engine);
	uint64_t writes = store_write_count(st);
	json_t *id;

	snap->busy = false;
	if (!snap->wanted)
		return;
	snap->wanted = false;
	id = snap->wanted_id;
	snap->wanted_id = NULL;
	session_request_begin(s);
	proto_snapshot_send(s, id);
	session_request_end(s, store_write_count(st) != writes, NULL, 0);
	json_decref(id);
}

/*
 * A refused hello, in the log: the principal is named only if it exists,
 * since what an unauthenticated peer sent may be anything (a token sent
 * in the principal field would otherwise end up in the journal), and each
 * cause is logged once a minute with a count, so a client hammering the
 * port cannot drown crisisd's other lines.
 */
static void
proto_log_refused(struct session *s, const char *principal)
{
	static struct log_limit known_limit, unknown_limit;

	if (principal != NULL)
		log_limited(&known_limit, LOG_LEVEL_NOTICE,
		    "%s: hello refused for principal %s: bad token",
		    conn_peer(session_conn(s)), principal);
	else
		log_limited(&unknown_limit, LOG_LEVEL_NOTICE,
		    "%s: hello refused: unknown principal",
		    conn_peer(session_conn(s)));
}

/*
 * hello: the principal must exist, the token must match (compared in
 * constant time), and the role must be the principal's own.
 */
static void
proto_hello(struct session *s, const struct msg *m)
{
	const struct msg_hello *h = &m->u.hello;
	struct store *st = engine_store(proto_engine);
	uint8_t hash[TOKEN_HASH_BYTES];
	char role[16];
	bool disabled = false;
	int rc;

	rc = store_principal_get(st, h->principal, role, hash, &disabled);
	if (rc == STORE_ERROR) {
		conn_fail(session_conn(s), m->id, CODE_INTERNAL,
		    "cannot check the principal now");
		return;
	}
	if (rc != STORE_OK || !token_matches(h->token, hash)) {
		proto_log_refused(s, rc == STORE_OK ? h->principal : NULL);
		conn_fail(session_conn(s), m->id, CODE_UNAUTHORIZED,
		    "unknown principal or bad token");
		return;
	}
	if (disabled) {
		conn_fail(session_conn(s), m->id, CODE_UNAUTHORIZED,
		    "principal disabled");
		return;
	}
	if (msg_role_from_name(role) != (int)h->role) {
		conn_fail(session_conn(s), m->id, CODE_FORBIDDEN,
		    "principal's role is not the one asked for");
		return;
	}
	proto_welcome(s, h->role, h->principal, hash, m->id);
}

/*
 * The principal is who it says: the session speaks for it from now on,
 * and is told so.  A clinician is away until it says otherwise and hears
 * again which contact it holds; a gateway gets the results it is owed.
 */
static void
proto_welcome(struct session *s, enum role role, const char *principal,
    const uint8_t hash[TOKEN_HASH_BYTES], json_t *id)
{
	struct clin *c = NULL;

	if (role == ROLE_CLINICIAN)
		c = engine_clinician_connected(proto_engine, principal, s,
		    util_now_ms());
	session_welcome(s, role, principal, hash, c);
	session_reply(s, id, wire_welcome(role, principal));
	log_info("%s: %s %s welcomed", conn_peer(session_conn(s)),
	    msg_role_name(role), principal);
	if (conn_peer_cert_cn(session_conn(s)) != NULL)
		log_debug("%s: client certificate CN %s",
		    conn_peer(session_conn(s)),
		    conn_peer_cert_cn(session_conn(s)));
	if (c != NULL)
		engine_clinician_welcomed(proto_engine, c);
	/* Results still owed follow the welcome, a page at a time. */
	if (role == ROLE_INTAKE)
		results_welcome(engine_store(proto_engine), s);
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

/*
 * One line from a connection, as one request: its replies depend on the
 * batch's commit only if handling it wrote to the store.
 */
static void
proto_request(struct conn *c, struct session *s, const char *line, size_t len,
    int attempt)
{
	struct store *st;
	uint64_t writes;

	/* A standby has no engine: its answer (unavailable) writes nothing. */
	if (proto_engine == NULL) {
		proto_dispatch(c, s, line, len);
		return;
	}
	st = engine_store(proto_engine);
	writes = store_write_count(st);
	session_request_begin(s);
	proto_dispatch(c, s, line, len);
	/* The session is gone if the request closed its own connection. */
	if (conn_data(c) == s)
		session_request_end(s, store_write_count(st) != writes, line,
		    attempt);
}

/* One line from a connection. */
static void
proto_line_cb(struct conn *c, const char *line, size_t len)
{
	proto_request(c, conn_data(c), line, len, 0);
}

/*
 * Requests whose turn lost the write lock to another process (a crisisctl
 * write, a backup), tried again a little later, in the order they came:
 * a short wait for the lock costs the caller milliseconds, where an
 * "internal" would send them to the overflow target.
 */
#define PROTO_RETRY_MS 50
struct proto_retry {
	struct session *s;
	char *line;
	int attempt;
};
static struct {
	struct proto_retry *list;
	size_t n, cap;
	struct proto_retry *running; /* the ones being tried now */
	size_t nrunning;
	struct event *ev;
} proto_retries;

static void proto_retries_cb(evutil_socket_t, short, void *);

/* Keep a request to try again after PROTO_RETRY_MS. */
static void
proto_retry_add(struct session *s, char *line, int attempt)
{
	struct timeval tv = { 0, PROTO_RETRY_MS * 1000 };

	if (proto_retries.n == proto_retries.cap) {
		proto_retries.cap =
		    proto_retries.cap == 0 ? 16 : proto_retries.cap * 2;
		proto_retries.list = xreallocarray(proto_retries.list,
		    proto_retries.cap, sizeof(*proto_retries.list));
	}
	proto_retries.list[proto_retries.n++] =
	    (struct proto_retry){ s, line, attempt };
	if (proto_retries.ev == NULL) {
		proto_retries.ev =
		    evtimer_new(proto_builds.base, proto_retries_cb, NULL);
		if (proto_retries.ev == NULL)
			fatalx("retry timer: out of memory");
	}
	if (!evtimer_pending(proto_retries.ev, NULL))
		evtimer_add(proto_retries.ev, &tv);
}

/* Forget the retries of a connection that closed. */
static void
proto_retry_forget(struct session *s)
{
	size_t i, n = 0;

	for (i = 0; i < proto_retries.n; i++) {
		if (proto_retries.list[i].s == s)
			free(proto_retries.list[i].line);
		else
			proto_retries.list[n++] = proto_retries.list[i];
	}
	proto_retries.n = n;
	for (i = 0; i < proto_retries.nrunning; i++) {
		if (proto_retries.running[i].s == s)
			proto_retries.running[i].s = NULL;
	}
}

/* Try the kept requests again, oldest first. */
static void
proto_retries_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proto_retry *r;

	(void)fd;
	(void)what;
	(void)arg;
	/* Those that fail again are kept anew by the flush after this. */
	proto_retries.running = proto_retries.list;
	proto_retries.nrunning = proto_retries.n;
	proto_retries.list = NULL;
	proto_retries.n = proto_retries.cap = 0;
	for (size_t i = 0; i < proto_retries.nrunning; i++) {
		r = &proto_retries.running[i];
		/* Its connection may have closed meanwhile (s is then NULL). */
		if (r->s != NULL && !conn_closing(session_conn(r->s)))
			proto_request(session_conn(r->s), r->s, r->line,
			    strlen(r->line), r->attempt);
		free(r->line);
	}
	free(proto_retries.running);
	proto_retries.running = NULL;
	proto_retries.nrunning = 0;
}

/* A connection's output drained, as its session asked. */
static void
proto_drained_cb(struct conn *c)
{
	struct session *s = conn_data(c);

	if (s == NULL)
		return;
	if (session_role(s) == ROLE_INTAKE)
		results_drained(engine_store(proto_engine), s);
	else if (session_snapshot(s)->busy &&
	    session_snapshot(s)->build == NULL)
		proto_snapshot_drained(s);
}

/* Decode one line and hand it to its handler. */
static void
proto_dispatch(struct conn *c, struct session *s, const char *line, size_t len)
{
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
		if (proto_standby_message != NULL)
			conn_fail(c, m.id, CODE_UNAVAILABLE,
			    proto_standby_message);
		else if (m.type == MSG_HELLO)
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
	if (session_clin(s) != NULL)
		engine_clinician_disconnected(proto_engine, session_clin(s),
		    util_now_ms());
	if (session_role(s) == ROLE_INTAKE) {
		engine_intake_disconnected(proto_engine, s);
		results_closed(s);
	}
	proto_retry_forget(s);
	if (session_snapshot(s)->build != NULL) {
		proto_builds_remove(s);
		engine_snapshot_free(session_snapshot(s)->build);
		session_snapshot(s)->build = NULL;
	}
	session_free(s);
	conn_set_data(c, NULL);
}

static const struct conn_cbs proto_conn_cbs = {
	proto_line_cb,
	proto_closed_cb,
	proto_drained_cb,
};

static struct conn_limits proto_limits;

/* The limits new connections get (start and reload). */
void
proto_set_limits(size_t max_line_bytes, int64_t hello_timeout_ms)
{
	proto_limits.max_line_bytes = max_line_bytes;
	proto_limits.hello_timeout_ms = hello_timeout_ms;
}

/*
 * Live sessions against their principals: after a token reset, a disable
 * or a removal, the connections that said hello with the old standing get
 * "unauthorized" and are closed within a second: every half second, the
 * check runs if the roster version (which every change to principals
 * moves) has moved.
 */
#define PROTO_PRINCIPAL_CHECK_MS 500
static struct {
	struct event *ev;
	int64_t version;
	bool known; /* version was read */
	bool failed; /* a lookup failed: check again next time */
} proto_principals;

/* Close one session if its principal no longer stands as it said hello. */
static void
proto_principal_check(struct session *s, void *arg)
{
	uint8_t hash[TOKEN_HASH_BYTES];
	const char *why;
	bool disabled = false;
	char role[16];
	int rc;

	if (!session_welcomed(s) || conn_closing(session_conn(s)))
		return;
	rc = store_principal_get(arg, session_principal(s), role, hash,
	    &disabled);
	if (rc == STORE_ERROR) {
		proto_principals.failed = true;
		return;
	}
	if (rc == STORE_NOTFOUND)
		why = "principal removed";
	else if (disabled)
		why = "principal disabled";
	else if (memcmp(hash, session_token_hash(s), sizeof(hash)) != 0)
		why = "token reset";
	else
		return;
	log_notice("%s: %s %s: %s; connection closed",
	    conn_peer(session_conn(s)), msg_role_name(session_role(s)),
	    session_principal(s), why);
	conn_fail(session_conn(s), NULL, CODE_UNAUTHORIZED, why);
}

/* If principals may have changed, check every session. */
static void
proto_principals_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = engine_store(proto_engine);
	int64_t version;

	(void)fd;
	(void)what;
	(void)arg;
	if (store_roster_version(st, &version) != STORE_OK)
		return;
	if (proto_principals.known && version == proto_principals.version &&
	    !proto_principals.failed)
		return;
	proto_principals.version = version;
	proto_principals.known = true;
	proto_principals.failed = false;
	session_each(proto_principal_check, st);
}

/* Answer every hello "unavailable" with message (NULL: serve again). */
void
proto_standby(const char *message)
{
	free(proto_standby_message);
	proto_standby_message = message != NULL ? xstrdup(message) : NULL;
}

/* Start the protocol's own timers on base; requests go to engine e. */
void
proto_init(struct event_base *base, struct engine *e)
{
	struct timeval tv = { PROTO_PRINCIPAL_CHECK_MS / 1000,
		(PROTO_PRINCIPAL_CHECK_MS % 1000) * 1000 };

	proto_engine = e;
	proto_builds.base = base;
	session_on_retry(proto_retry_add);
	proto_principals.ev =
	    event_new(base, -1, EV_PERSIST, proto_principals_cb, NULL);
	if (proto_principals.ev == NULL)
		fatalx("principal check timer: out of memory");
	proto_principals.known =
	    store_roster_version(engine_store(proto_engine),
	        &proto_principals.version) == STORE_OK;
	evtimer_add(proto_principals.ev, &tv);
}

/* Free the snapshot builds' list and timer (every connection is closed). */
void
proto_free(void)
{
	if (proto_builds.ev != NULL)
		event_free(proto_builds.ev);
	free(proto_builds.sessions);
	memset(&proto_builds, 0, sizeof(proto_builds));
	if (proto_retries.ev != NULL)
		event_free(proto_retries.ev);
	for (size_t i = 0; i < proto_retries.n; i++)
		free(proto_retries.list[i].line);
	free(proto_retries.list);
	memset(&proto_retries, 0, sizeof(proto_retries));
	if (proto_principals.ev != NULL)
		event_free(proto_principals.ev);
	memset(&proto_principals, 0, sizeof(proto_principals));
	proto_standby(NULL);
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

struct conn *
proto_open_welcomed(struct event_base *base, int fd, const char *principal,
    enum role role, const char **why)
{
	uint8_t hash[TOKEN_HASH_BYTES];
	char stored_role[16];
	bool disabled = false;
	struct session *s;
	struct conn *c;
	int rc;

	rc = store_principal_get(engine_store(proto_engine), principal,
	    stored_role, hash, &disabled);
	*why = rc == STORE_ERROR ? "cannot check the principal now"
	    : rc != STORE_OK     ? "unknown principal"
	    : disabled           ? "principal disabled"
	    : msg_role_from_name(stored_role) != (int)role
	    ? "principal's role is not the one asked for"
	    : NULL;
	if (*why != NULL ||
	    (c = conn_new(base, fd, &proto_limits, &proto_conn_cbs)) == NULL) {
		if (*why == NULL)
			*why = "out of connections";
		close(fd);
		return NULL;
	}
	s = session_new(c);
	proto_welcome(s, role, principal, hash, NULL);
	return c;
}
