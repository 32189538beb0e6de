/*
 * engine_rig.c: the daemon's loop around the engine, without sockets or a
 * clock (engine_rig.h).  What proto.c and main.c do per request, per close
 * and per turn is done here the same way, in the same order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "engine_rig.h"
#include "fake_conn.h"
#include "log.h"
#include "msg.h"
#include "outbox.h"
#include "results.h"
#include "session.h"
#include "store.h"
#include "util.h"

/* Turns in a row in which deadlines keep coming due before the rig stops. */
#define RIG_DUE_TURNS_MAX 100000

static void rig_closed_cb(struct conn *, const char *);

static const struct conn_cbs rig_conn_cbs = { NULL, rig_closed_cb, NULL };

/* The party whose connection c is, or NULL. */
static struct rig_party *
rig_party_of(struct rig *r, const struct conn *c)
{
	for (size_t i = 0; i < r->nparties; i++) {
		if (r->parties[i].conn == c)
			return &r->parties[i];
	}
	return NULL;
}

/* A connection closed: what proto_closed_cb() does. */
static void
rig_closed_cb(struct conn *c, const char *why)
{
	struct rig *r = fake_conn_owner(c);
	struct session *s = conn_data(c);
	struct rig_party *p = rig_party_of(r, c);

	(void)why;
	if (s == NULL)
		return;
	if (session_clin(s) != NULL)
		engine_clinician_disconnected(r->e, session_clin(s), r->now);
	if (session_role(s) == ROLE_INTAKE) {
		engine_intake_disconnected(r->e, s);
		results_closed(s);
	}
	session_free(s);
	conn_set_data(c, NULL);
	if (p != NULL)
		p->s = NULL;
}

/* Outputs that drained: a gateway's results replay goes on. */
static bool
rig_drained(struct rig *r)
{
	bool any = false;

	for (size_t i = 0; i < r->nparties; i++) {
		struct rig_party *p = &r->parties[i];

		if (p->s == NULL || !fake_conn_take_drained(p->conn))
			continue;
		if (p->role == ROLE_INTAKE)
			results_drained(r->st, p->s);
		any = true;
	}
	return any;
}

/*
 * The end of a loop turn: main_flush() (commit, release, the engine told),
 * then what the drained outputs ask for, until nothing more is queued.
 */
static void
rig_flush(struct rig *r)
{
	for (int pass = 0; pass < 8; pass++) {
		for (int round = 0; round < 3; round++) {
			int rc = outbox_flush(r->st);
			bool ok = rc >= 0;

			results_committed(ok);
			if (!engine_committed(r->e, ok, rc == 1, r->now))
				break;
		}
		/* The fake store syncs as it commits: every ticket is done. */
		outbox_release(store_sync_ticket(r->st));
		if (!rig_drained(r))
			return;
	}
}

/* The engine on st, started at now, its first turn flushed. */
struct rig *
rig_new(struct store *st, const struct conf *conf, int64_t now, char **cause)
{
	struct rig *r = xcalloc(1, sizeof(*r));

	r->st = st;
	r->now = now;
	r->e = engine_new(st, conf, now, cause);
	if (r->e == NULL) {
		free(r);
		return NULL;
	}
	rig_flush(r);
	return r;
}

/*
 * Stop the engine as a kill would (nothing more is written), and close
 * every connection; the engine is left to be freed.
 */
static void
rig_kill(struct rig *r)
{
	engine_stop(r->e);
	for (size_t i = 0; i < r->nparties; i++)
		conn_close(r->parties[i].conn, "daemon gone");
	for (size_t i = 0; i < r->nold; i++)
		conn_close(r->old[i], "daemon gone");
	/* Nothing is left to write or send: the outboxes went with them. */
	store_rollback(r->st);
	results_committed(false);
}

/* Stop and free the engine, then every connection. */
void
rig_free(struct rig *r)
{
	if (r == NULL)
		return;
	rig_kill(r);
	engine_free(r->e);
	for (size_t i = 0; i < r->nparties; i++)
		fake_conn_free(r->parties[i].conn);
	for (size_t i = 0; i < r->nold; i++)
		fake_conn_free(r->old[i]);
	free(r->old);
	free(r);
}

/* SIGKILL and a start: the engine is made again from the store. */
void
rig_restart(struct rig *r, const struct conf *conf)
{
	char *cause = NULL;

	rig_kill(r);
	engine_free(r->e);
	r->e = engine_new(r->st, conf, r->now, &cause);
	if (r->e == NULL)
		fatalx("rig: the engine does not start again: %s", cause);
	rig_flush(r);
}

/* The party named name, or NULL. */
struct rig_party *
rig_party(struct rig *r, const char *name)
{
	for (size_t i = 0; i < r->nparties; i++) {
		if (strcmp(r->parties[i].name, name) == 0)
			return &r->parties[i];
	}
	return NULL;
}

/* The party named name, made if new; its old connection kept if any. */
static struct rig_party *
rig_party_new_conn(struct rig *r, enum role role, const char *name)
{
	struct rig_party *p = rig_party(r, name);

	if (p == NULL) {
		if (r->nparties == RIG_PARTIES_MAX)
			fatalx("rig: more than %d parties", RIG_PARTIES_MAX);
		p = &r->parties[r->nparties++];
		strlcpy_(p->name, name, sizeof(p->name));
	} else {
		/* Kept for its lines; its close no longer finds the party. */
		r->old = xreallocarray(r->old, r->nold + 1, sizeof(*r->old));
		r->old[r->nold++] = p->conn;
	}
	p->role = role;
	p->conn = fake_conn_new(&rig_conn_cbs, r);
	p->s = session_new(p->conn);
	p->clin = NULL;
	return p;
}

/* A hello that succeeded: what proto_hello() does after its checks. */
struct rig_party *
rig_connect(struct rig *r, enum role role, const char *name)
{
	static const uint8_t hash[TOKEN_HASH_BYTES];
	struct rig_party *p = rig_party_new_conn(r, role, name);
	struct clin *c = NULL;

	session_request_begin(p->s);
	/* A clinician's older connection is closed in here. */
	if (role == ROLE_CLINICIAN)
		c = engine_clinician_connected(r->e, name, p->s, r->now);
	session_welcome(p->s, role, name, hash, c);
	p->clin = c;
	if (c != NULL)
		engine_clinician_welcomed(r->e, c);
	if (role == ROLE_INTAKE)
		results_welcome(r->st, p->s);
	session_request_end(p->s, false, NULL, 0);
	rig_flush(r);
	return p;
}

/* The peer closes its connection: one turn. */
void
rig_disconnect(struct rig *r, const char *name)
{
	struct rig_party *p = rig_party(r, name);

	if (p == NULL || p->s == NULL)
		fatalx("rig: %s is not connected", name);
	conn_close(p->conn, "peer closed");
	rig_flush(r);
}

/* Hand a decoded request to the engine, as proto.c's handlers do. */
static void
rig_dispatch(struct rig *r, struct rig_party *p, const struct msg *m)
{
	struct clin *c = p->clin;

	switch (m->type) {
	case MSG_CONTACT:
		engine_contact(r->e, p->s, m, r->now);
		break;
	case MSG_ABANDON:
		engine_abandon(r->e, p->s, m, r->now);
		break;
	case MSG_ACK:
		results_ack(r->st, p->s, m->id, m->u.ref.contact, r->now);
		break;
	case MSG_ENDED:
		engine_ended(r->e, p->s, m, r->now);
		break;
	case MSG_FAILED:
		engine_failed(r->e, p->s, m, r->now);
		break;
	case MSG_STATUS:
		engine_status(r->e, p->s, c, m->u.status.available, m->id,
		    r->now);
		break;
	case MSG_ACCEPT:
		engine_accept(r->e, p->s, c, m, r->now);
		break;
	case MSG_DECLINE:
		engine_decline(r->e, p->s, c, m, r->now);
		break;
	case MSG_COMPLETE:
		engine_complete(r->e, p->s, c, m, r->now);
		break;
	case MSG_WATCH:
		session_set_watching(p->s);
		session_ok(p->s, m->id);
		break;
	default:
		fatalx("rig: %s cannot send %s", p->name,
		    msg_type_name(m->type));
	}
}

/* One request line: what proto_request() does, then the turn's flush. */
void
rig_request(struct rig *r, const char *name, const char *line)
{
	struct rig_party *p = rig_party(r, name);
	uint64_t writes = store_write_count(r->st);
	struct msg_error err;
	struct msg m;

	if (p == NULL || p->s == NULL)
		fatalx("rig: %s is not connected", name);
	if (msg_decode(line, strlen(line), &m, &err) == -1)
		fatalx("rig: bad line %s: %s", line, err.message);
	session_request_begin(p->s);
	rig_dispatch(r, p, &m);
	msg_clear(&m);
	if (p->s != NULL)
		session_request_end(p->s, store_write_count(r->st) != writes,
		    line, 0);
	rig_flush(r);
}

/* Deadlines come due, each in a turn of its own, up to until. */
void
rig_advance(struct rig *r, int64_t until, int64_t late_ms)
{
	for (int turns = 0;; turns++) {
		int64_t at = engine_next_due(r->e);

		if (at > until)
			break;
		if (turns == RIG_DUE_TURNS_MAX)
			fatalx("rig: deadlines keep coming due at %lld",
			    (long long)at);
		at = at + late_ms < until ? at + late_ms : until;
		if (at > r->now)
			r->now = at;
		engine_run_due(r->e, r->now);
		rig_flush(r);
	}
	if (until > r->now)
		r->now = until;
}

/* The next line of name's latest connection. */
const char *
rig_read(struct rig *r, const char *name)
{
	struct rig_party *p = rig_party(r, name);

	return p == NULL || p->conn == NULL ? NULL : fake_conn_read(p->conn);
}
