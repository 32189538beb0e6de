/*
 * loadgen_proto.c: what each of the load generator's connections says and
 * what it checks in the answers.  Intakes send contacts and match queued,
 * routed and overflow to them; clinicians accept every offer and complete
 * every assignment at once; echo connections ping-pong one request.
 *
 * Offers can arrive before the intake reads its queued reply (both leave
 * crisisd after the same commit, on different sockets), so what is seen
 * of a contact id lives in one record (struct lg_cid) made by whichever
 * side sees the id first.
 */
#include <sys/types.h>

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <uthash.h>

#include "loadgen.h"

/* Longest "type", "code" or "reason" value we compare. */
#define LG_WORD_MAX_BYTES 32

static const char *const lg_mode_names[] = {
	[LG_MODE_CLOSED] = "closed",
	[LG_MODE_OPEN] = "open",
	[LG_MODE_IDLE] = "idle",
	[LG_MODE_ECHO] = "echo",
};

/* A mode from its name, or -1. */
int
lg_mode_parse(const char *name)
{
	for (size_t i = 0; i < nitems(lg_mode_names); i++) {
		if (strcmp(name, lg_mode_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* A mode's name. */
const char *
lg_mode_name(enum lg_mode mode)
{
	return lg_mode_names[mode];
}

/* Open more connections, keeping at most LG_CONNECT_BATCH being set up. */
void
lg_connect_more(void)
{
	while (lg.next_connect < lg.nconns &&
	    lg.next_connect - lg.ready < LG_CONNECT_BATCH)
		lg_connect(&lg.conns[lg.next_connect++]);
}

/* stdin ended (idle mode): the driver has read what it needed. */
static void
lg_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	(void)what;
	(void)arg;
	if (read(fd, buf, sizeof buf) <= 0)
		lg_finish();
}

/* Every idle connection is welcomed: say so and hold until stdin ends. */
static void
lg_idle_ready(void)
{
	lg.started = true;
	lg.t_end = INFINITY;
	printf("ready %d\n", lg.ready);
	fflush(stdout);
	fprintf(stderr, "loadgen: idle: %d clinicians welcomed in %.2f s\n",
	    lg.ready, lg_now() - lg.t_setup);
	lg.stdin_ev = event_new(lg.base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    lg_stdin_cb, NULL);
	if (lg.stdin_ev == NULL || event_add(lg.stdin_ev, NULL) == -1)
		lg_finish();
}

/* A connection is ready for load; the run starts when all are. */
static void
lg_ready(struct lg_conn *c)
{
	if (c->ready)
		return;
	c->ready = true;
	lg.ready++;
	lg_connect_more();
	if (lg.ready < lg.nconns)
		return;
	if (lg.mode == LG_MODE_IDLE)
		lg_idle_ready();
	else
		lg_start();
}

/* The TCP connection is up: say hello (echo connections just start). */
void
lg_on_connected(struct lg_conn *c)
{
	if (c->role == LG_ROLE_ECHO) {
		lg_ready(c);
		return;
	}
	lg_sendf(c,
	    "{\"type\":\"hello\",\"role\":\"%s\",\"principal\":\"%s\","
	    "\"token\":\"%s\"}\n",
	    c->role == LG_ROLE_INTAKE ? "intake" : "clinician", c->principal,
	    c->token);
}

/* A connection closed under us. */
void
lg_on_closed(struct lg_conn *c)
{
	if (lg.mode == LG_MODE_IDLE && !lg.finishing)
		lg_finish();
	(void)c;
}

/* An intake's contact is answered (routed, overflow or error). */
static void
lg_intake_done(struct lg_contact *ct)
{
	struct lg_conn *c = &lg.conns[ct->intake];
	double took = lg_now() - ct->sent;

	if (ct->measured && !ct->probe)
		lg_sample(&lg.lat_answer, took);
	if (lg.answer_deadline_s > 0 && took <= lg.answer_deadline_s)
		lg.n.answered_in_time++;
	c->outstanding--;
	lg.outstanding--;
	if (lg.mode == LG_MODE_CLOSED && !lg.stopped)
		lg_contact_send(c);
	lg_maybe_finish();
}

/* Send one echo request. */
static void
lg_echo_send(struct lg_conn *c)
{
	c->echo_seq++;
	c->outstanding = 1;
	lg.outstanding++;
	c->echo_sent = lg_now();
	lg_sendf(c,
	    "{\"type\":\"contact\",\"id\":%zu,\"ref\":\"%s-e%d-%zu\","
	    "\"channel\":\"voice\",\"risk\":\"high\",\"program\":\"adult\","
	    "\"language\":\"en\"}\n",
	    c->echo_seq, lg.runid, c->index, c->echo_seq);
}

/* The load begins: closed loop fills each intake's window. */
void
lg_begin_load(void)
{
	for (int i = 0; i < lg.nconns; i++) {
		struct lg_conn *c = &lg.conns[i];

		if (c->role == LG_ROLE_ECHO)
			lg_echo_send(c);
		else if (c->role == LG_ROLE_INTAKE &&
		    lg.mode == LG_MODE_CLOSED) {
			for (int w = 0; w < lg.window; w++)
				lg_contact_send(c);
		}
	}
}

/* Open loop: send every contact due by now, round-robin over intakes. */
void
lg_open_sends(double now)
{
	size_t total = (size_t)(lg.rate * (lg.warmup_s + lg.duration_s));
	size_t due = (size_t)((now - lg.t0) * lg.rate);

	if (due > total)
		due = total;
	for (; lg.open_sent < due; lg.open_sent++) {
		struct lg_conn *c = &lg.conns[lg.nclin +
		    (int)(lg.open_sent % (size_t)lg.nintake)];

		lg_contact_send(c);
	}
}

/*
 * After the load phase, finish once nothing is outstanding, and a little
 * later: an assigned reply can trail its contact's routed push.
 */
void
lg_maybe_finish(void)
{
	if (lg.stopped && lg.outstanding == 0 && lg.t_quiet == 0)
		lg.t_quiet = lg_now() + LG_QUIET_S;
}

/* --- intake --- */

/* queued: the contact is stored. */
static void
lg_intake_queued(const char *line, size_t len, double now)
{
	long long n = lg_field_int(line, len, "id", -1);
	struct lg_contact *ct = n < 0 ? NULL : lg_contact_at((size_t)n);
	char cid[LG_CID_MAX_BYTES + 1];
	struct lg_cid *e;

	if (ct == NULL || lg_field(line, len, "contact", cid, sizeof cid)) {
		lg.n.unknown_cid++;
		lg_warn("queued for no contact of ours: %.*s", (int)len, line);
		return;
	}
	if (ct->cid != NULL) {
		lg.n.dup_queued++;
		return;
	}
	e = lg_cid_get(cid);
	if (++e->nqueued > 1 || e->ct != NULL) {
		lg.n.dup_queued++;
		lg_warn("contact id %s given to two refs", cid);
		return;
	}
	e->ct = ct;
	ct->cid = e;
	ct->queued = now;
	lg.n.queued++;
	if (ct->measured && !ct->probe) {
		lg_sample(&lg.lat_queued, now - ct->sent);
		if (e->offered != 0)
			lg_sample(&lg.lat_offer, e->offered - ct->sent);
	}
}

/* The record of the contact id a push names, or NULL (counted). */
static struct lg_cid *
lg_pushed_cid(const char *line, size_t len)
{
	char cid[LG_CID_MAX_BYTES + 1];
	struct lg_cid *e = NULL;

	if (lg_field(line, len, "contact", cid, sizeof cid) == 0)
		HASH_FIND_STR(lg.by_cid, cid, e);
	if (e == NULL || e->ct == NULL) {
		lg.n.unknown_cid++;
		lg_warn("push for no queued contact: %.*s", (int)len, line);
		return NULL;
	}
	return e;
}

/* routed: a clinician accepted the contact. */
static void
lg_intake_routed(const char *line, size_t len, double now)
{
	struct lg_cid *e = lg_pushed_cid(line, len);

	if (e == NULL)
		return;
	if (++e->nrouted > 1) {
		lg.n.dup_routed++;
		return;
	}
	e->routed = now;
	lg_field(line, len, "clinician", e->routed_to, sizeof e->routed_to);
	lg.n.routed++;
	if (lg_measuring(now))
		lg.n.routed_in_window++;
	if (e->ct->measured && !e->ct->probe)
		lg_sample(&lg.lat_routed, now - e->ct->sent);
	lg_intake_done(e->ct);
}

/* overflow: nobody took it in time (a failure in this benchmark). */
static void
lg_intake_overflow(const char *line, size_t len)
{
	struct lg_cid *e = lg_pushed_cid(line, len);

	lg.n.overflow++;
	if (e == NULL || e->ct->failed)
		return;
	e->ct->failed = true;
	lg_intake_done(e->ct);
}

/*
 * error: a contact was refused.  overloaded is crisisd shedding load and
 * internal a write that failed: answers a gateway acts on (it sends the
 * caller to the overflow target), counted apart; any other is an error.
 */
static void
lg_intake_error(const char *line, size_t len)
{
	long long n = lg_field_int(line, len, "id", -1);
	struct lg_contact *ct = n < 0 ? NULL : lg_contact_at((size_t)n);
	char code[LG_WORD_MAX_BYTES] = "";

	lg_field(line, len, "code", code, sizeof code);
	if (strcmp(code, "overloaded") == 0)
		lg.n.overloaded++;
	else if (strcmp(code, "internal") == 0)
		lg.n.internal++;
	else {
		lg.n.contact_errors++;
		lg_warn("intake error: %.*s", (int)len, line);
	}
	if (ct == NULL || ct->failed)
		return;
	ct->failed = true;
	lg_intake_done(ct);
}

/* One line to an intake. */
static void
lg_intake_line(const char *type, const char *line, size_t len, double now)
{
	if (strcmp(type, "queued") == 0)
		lg_intake_queued(line, len, now);
	else if (strcmp(type, "routed") == 0)
		lg_intake_routed(line, len, now);
	else if (strcmp(type, "overflow") == 0)
		lg_intake_overflow(line, len);
	else if (strcmp(type, "error") == 0)
		lg_intake_error(line, len);
	else {
		lg.n.errors++;
		lg_warn("unexpected to an intake: %.*s", (int)len, line);
	}
}

/* --- clinician --- */

/*
 * Note a probe's offer.  The probe's tier-1 offers are declined by every
 * clinician but the holders, who let theirs expire; so tier 1 ends by its
 * timer, never early (an accept elsewhere would withdraw a held offer as
 * "busy" and move the contact on at once).  The first later tier's offer
 * is the moment the timer is measured at; lg_probe_deadlines keeps only
 * probes whose tier-1 offers did expire.
 */
static void
lg_probe_offer(struct lg_cid *e, long long tier, const char *line, size_t len)
{
	if (tier == 1 && e->t1_offer_wall == 0) {
		e->t1_offer_wall = lg_wall();
		e->t1_expires_in_s =
		    (double)lg_field_int(line, len, "expires_in_ms", 0) /
		    1000.0;
	} else if (tier > 1 && e->next_offer_wall == 0)
		e->next_offer_wall = lg_wall();
}

/* What a clinician does with an offer: accept, decline or let it be. */
enum lg_answer {
	LG_ACCEPT,
	LG_DECLINE,
	LG_IGNORE,
};

/*
 * Clinicians accept at once, but decline probes at tier 1; holders
 * decline everything but probes, which they ignore.
 */
static enum lg_answer
lg_answer(const struct lg_conn *c, bool probe, long long tier)
{
	if (c->role == LG_ROLE_HOLDER)
		return probe ? LG_IGNORE : LG_DECLINE;
	return probe && tier == 1 ? LG_DECLINE : LG_ACCEPT;
}

/* offer: answer it at once. */
static void
lg_clin_offer(struct lg_conn *c, const char *line, size_t len, double now)
{
	char cid[LG_CID_MAX_BYTES + 1], program[LG_WORD_MAX_BYTES] = "";
	long long tier = lg_field_int(line, len, "tier", 0);
	struct lg_cid *e;
	bool probe;

	if (lg_field(line, len, "contact", cid, sizeof cid) == -1) {
		lg.n.errors++;
		lg_warn("offer without a contact: %.*s", (int)len, line);
		return;
	}
	lg.n.offers++;
	e = lg_cid_get(cid);
	if (e->noffers++ == 0) {
		e->offered = now;
		if (e->ct != NULL && e->ct->measured && !e->ct->probe)
			lg_sample(&lg.lat_offer, now - e->ct->sent);
	}
	lg_field(line, len, "program", program, sizeof program);
	if ((probe = strcmp(program, LG_PROBE_PROGRAM) == 0))
		lg_probe_offer(e, tier, line, len);
	switch (lg_answer(c, probe, tier)) {
	case LG_ACCEPT:
		lg.n.accepts++;
		lg_sendf(c,
		    "{\"type\":\"accept\",\"contact\":\"%s\","
		    "\"id\":\"a\"}\n",
		    cid);
		break;
	case LG_DECLINE:
		lg_sendf(c,
		    "{\"type\":\"decline\",\"contact\":\"%s\","
		    "\"id\":\"d\"}\n",
		    cid);
		break;
	case LG_IGNORE:
		lg.n.probe_ignored++;
		break;
	}
}

/* assigned: complete at once. */
static void
lg_clin_assigned(struct lg_conn *c, const char *line, size_t len)
{
	char cid[LG_CID_MAX_BYTES + 1];
	struct lg_cid *e;

	if (lg_field(line, len, "contact", cid, sizeof cid) == -1) {
		lg.n.errors++;
		return;
	}
	e = lg_cid_get(cid);
	if (++e->nassigned > 1) {
		lg.n.errors++;
		lg_warn("contact %s assigned twice", cid);
	}
	e->assigned_to = c->index;
	lg.n.assigned++;
	lg_sendf(c,
	    "{\"type\":\"complete\",\"contact\":\"%s\","
	    "\"disposition\":\"resolved\",\"id\":\"c\"}\n",
	    cid);
}

/* withdrawn: counted by reason; an expiry marks a probe as timed. */
static void
lg_clin_withdrawn(const char *line, size_t len)
{
	char reason[LG_WORD_MAX_BYTES] = "", cid[LG_CID_MAX_BYTES + 1];
	struct lg_cid *e = NULL;

	lg_field(line, len, "reason", reason, sizeof reason);
	if (lg_field(line, len, "contact", cid, sizeof cid) == 0)
		HASH_FIND_STR(lg.by_cid, cid, e);
	if (e != NULL && strcmp(reason, "expired") == 0)
		e->expired_seen = true;
	if (strcmp(reason, "taken") == 0)
		lg.n.withdrawn_taken++;
	else if (strcmp(reason, "busy") == 0)
		lg.n.withdrawn_busy++;
	else if (strcmp(reason, "expired") == 0)
		lg.n.withdrawn_expired++;
	else
		lg.n.withdrawn_other++;
}

/* ok or error to one of our requests ("s" status, "a" accept, "c" complete). */
static void
lg_clin_reply(struct lg_conn *c, const char *type, const char *line, size_t len)
{
	char id[LG_WORD_MAX_BYTES] = "", code[LG_WORD_MAX_BYTES] = "";

	lg_field(line, len, "id", id, sizeof id);
	if (strcmp(type, "ok") == 0) {
		if (strcmp(id, "s") == 0)
			lg_ready(c);
		else if (strcmp(id, "c") == 0)
			lg.n.completed++;
		else if (strcmp(id, "d") == 0)
			lg.n.declines++;
		return;
	}
	lg_field(line, len, "code", code, sizeof code);
	/* Races the contract allows: the offer ended before we answered. */
	if (strcmp(code, "conflict") == 0 && strcmp(id, "a") == 0) {
		lg.n.accept_conflicts++;
		return;
	}
	if (strcmp(code, "conflict") == 0 && strcmp(id, "d") == 0) {
		lg.n.decline_conflicts++;
		return;
	}
	lg.n.errors++;
	lg_warn("%s: %.*s", c->principal, (int)len, line);
}

/* One line to a clinician. */
static void
lg_clin_line(struct lg_conn *c, const char *type, const char *line, size_t len,
    double now)
{
	if (strcmp(type, "offer") == 0)
		lg_clin_offer(c, line, len, now);
	else if (strcmp(type, "assigned") == 0)
		lg_clin_assigned(c, line, len);
	else if (strcmp(type, "withdrawn") == 0)
		lg_clin_withdrawn(line, len);
	else if (strcmp(type, "ok") == 0 || strcmp(type, "error") == 0)
		lg_clin_reply(c, type, line, len);
	else if (strcmp(type, "status") == 0) {
		/* Set away for missed offers: count it and come back. */
		lg.n.set_away++;
		lg_sendf(c,
		    "{\"type\":\"status\",\"status\":\"available\","
		    "\"id\":\"s\"}\n");
	} else {
		lg.n.errors++;
		lg_warn("unexpected to a clinician: %.*s", (int)len, line);
	}
}

/* --- echo and the dispatcher --- */

/* The echo server's answer to our one outstanding request. */
static void
lg_echo_line(struct lg_conn *c, const char *line, size_t len, double now)
{
	if ((size_t)lg_field_int(line, len, "id", -1) != c->echo_seq ||
	    c->outstanding != 1)
		lg.n.echo_bad++;
	c->outstanding = 0;
	lg.outstanding--;
	lg.n.replies++;
	if (lg_measuring(c->echo_sent))
		lg_sample(&lg.lat_echo, now - c->echo_sent);
	if (lg_measuring(now))
		lg.n.replies_in_window++;
	if (!lg.stopped)
		lg_echo_send(c);
	else
		lg_maybe_finish();
}

/* The welcome: clinicians in a load run then go available. */
static void
lg_welcome(struct lg_conn *c)
{
	if (c->welcomed) {
		lg.n.errors++;
		return;
	}
	c->welcomed = true;
	lg.welcomed++;
	if (c->role != LG_ROLE_INTAKE && lg.mode != LG_MODE_IDLE)
		lg_sendf(c,
		    "{\"type\":\"status\",\"status\":\"available\","
		    "\"id\":\"s\"}\n");
	else
		lg_ready(c);
}

/* One line from the peer. */
void
lg_on_line(struct lg_conn *c, const char *line, size_t len)
{
	char type[LG_WORD_MAX_BYTES];
	double now = lg_now();

	if (c->role == LG_ROLE_ECHO) {
		lg_echo_line(c, line, len, now);
		return;
	}
	if (lg_field(line, len, "type", type, sizeof type) == -1) {
		lg.n.errors++;
		lg_warn("%s: no type: %.*s", c->principal, (int)len, line);
	} else if (strcmp(type, "welcome") == 0)
		lg_welcome(c);
	else if (!c->welcomed) {
		lg.n.errors++;
		lg_warn("%s: before welcome: %.*s", c->principal, (int)len,
		    line);
	} else if (c->role == LG_ROLE_INTAKE)
		lg_intake_line(type, line, len, now);
	else
		lg_clin_line(c, type, line, len, now);
}

/* --- verification --- */

/* Check every contact sent: queued, offered and routed exactly once. */
void
lg_verify(void)
{
	for (size_t i = 0; i < lg.ncontacts; i++) {
		struct lg_contact *ct = lg_contact_at(i);
		struct lg_cid *e = ct->cid;

		if (ct->failed)
			continue;
		if (e == NULL) {
			lg.n.never_queued++;
			continue;
		}
		if (e->noffers == 0)
			lg.n.never_offered++;
		if (e->nrouted == 0)
			lg.n.never_routed++;
		else if (e->assigned_to >= 0
		        ? strcmp(e->routed_to,
		              lg.conns[e->assigned_to].principal) != 0
		        : !lg.drained_out)
			lg.n.routed_mismatch++;
	}
}

/*
 * Did the run go as it must?  Correct: nothing duplicated, misrouted,
 * refused in error or cut off.  Kept up: besides, every contact was
 * routed (none overflowed, was refused as overloaded or was still
 * unanswered when the drain ended).  Prints both to stderr.
 */
bool
lg_verdict(bool *kept_up)
{
	const struct lg_counts *n = &lg.n;
	uint64_t unanswered = n->never_queued + n->never_routed;
	bool ok;

	if (lg.mode == LG_MODE_ECHO) {
		ok = n->echo_bad == 0 && n->conn_errors == 0 &&
		    n->replies_in_window > 0;
		*kept_up = ok;
		return ok;
	}
	ok = n->sent > 0 && n->dup_queued == 0 && n->dup_routed == 0 &&
	    n->routed_mismatch == 0 && n->contact_errors == 0 &&
	    n->errors == 0 && n->conn_errors == 0 && n->unknown_cid == 0;
	*kept_up = ok && unanswered == 0 && n->never_offered == 0 &&
	    n->overflow == 0 && n->overloaded == 0 && n->internal == 0;
	fprintf(stderr,
	    "loadgen: verify: sent %llu, queued %llu, routed %llu;"
	    " duplicates %llu, misrouted %llu, errors %llu, connection errors"
	    " %llu: %s; unanswered after the drain %llu, never offered %llu,"
	    " overflow %llu, overloaded %llu, internal %llu: %s\n",
	    (unsigned long long)n->sent, (unsigned long long)n->queued,
	    (unsigned long long)n->routed,
	    (unsigned long long)(n->dup_queued + n->dup_routed),
	    (unsigned long long)n->routed_mismatch,
	    (unsigned long long)(n->errors + n->contact_errors +
	        n->unknown_cid),
	    (unsigned long long)n->conn_errors, ok ? "correct" : "INCORRECT",
	    (unsigned long long)unanswered,
	    (unsigned long long)n->never_offered,
	    (unsigned long long)n->overflow, (unsigned long long)n->overloaded,
	    (unsigned long long)n->internal,
	    *kept_up ? "kept up" : "DID NOT KEEP UP");
	return ok;
}

#define LG_COUNT(name)                                                         \
	{                                                                      \
#name, offsetof(struct lg_counts, name)                        \
	}

static const struct {
	const char *name;
	size_t offset;
} lg_count_fields[] = {
	LG_COUNT(sent),
	LG_COUNT(queued),
	LG_COUNT(dup_queued),
	LG_COUNT(offers),
	LG_COUNT(accepts),
	LG_COUNT(accept_conflicts),
	LG_COUNT(decline_conflicts),
	LG_COUNT(declines),
	LG_COUNT(assigned),
	LG_COUNT(completed),
	LG_COUNT(routed),
	LG_COUNT(dup_routed),
	LG_COUNT(routed_in_window),
	LG_COUNT(routed_mismatch),
	LG_COUNT(overflow),
	LG_COUNT(overloaded),
	LG_COUNT(internal),
	LG_COUNT(answered_in_time),
	LG_COUNT(contact_errors),
	LG_COUNT(errors),
	LG_COUNT(withdrawn_taken),
	LG_COUNT(withdrawn_busy),
	LG_COUNT(withdrawn_expired),
	LG_COUNT(withdrawn_other),
	LG_COUNT(set_away),
	LG_COUNT(conn_errors),
	LG_COUNT(probes),
	LG_COUNT(probe_ignored),
	LG_COUNT(probe_escalated),
	LG_COUNT(probe_untimed),
	LG_COUNT(never_queued),
	LG_COUNT(never_offered),
	LG_COUNT(never_routed),
	LG_COUNT(unknown_cid),
	LG_COUNT(replies),
	LG_COUNT(replies_in_window),
	LG_COUNT(echo_bad),
};

/* Every count as JSON members. */
void
lg_print_counts(void)
{
	for (size_t i = 0; i < nitems(lg_count_fields); i++) {
		const uint64_t *v =
		    (const uint64_t *)(const void *)((const char *)&lg.n +
		        lg_count_fields[i].offset);

		printf("%s\"%s\":%llu", i ? "," : "", lg_count_fields[i].name,
		    (unsigned long long)*v);
	}
}
